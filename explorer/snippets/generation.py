"""The Generation tab's snippet: one forward pass, the next token's candidates before and after the
sampling controls (transformers' own logits processors, in `generate()`'s order), as `/next_token`."""

from __future__ import annotations

from ..generation.sampling import CONTROLS
from .common import DOCUMENT_START, Code, fill, loading, model_name

TEMPLATE = """\
$head
prompt = $prompt
$encode
input_ids = torch.tensor([ids])  # (1, n)

# The sampling controls that are on, in generate()'s order: each turns the scores into new scores.
processors = $processors

with torch.inference_mode():
    logits = model(input_ids).logits[:, -1].float()  # (1, vocab): the next token's scores
scores = logits
for processor in processors:
    scores = processor(input_ids, scores)
raw, final = logits.softmax(-1)[0], scores.softmax(-1)[0]  # (vocab,) each

print("token_id  raw_prob  final_prob  token")
for token_id in raw.topk(10).indices.tolist():
    print(f"{token_id:8d}  {raw[token_id].item():.6f}  {final[token_id].item():.6f}  {tokenizer.decode([token_id])!r}")
"""

PLAIN = DOCUMENT_START + 'ids = start + tokenizer(prompt, add_special_tokens=False)["input_ids"]'
CHAT = """\
# The chat template wraps the prompt as a user turn and opens the assistant's turn.
text = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False)
ids = tokenizer(text, add_special_tokens=False)["input_ids"]"""


def processors(values: dict) -> str:
    """The list of processors for the controls that are not off (each control's own class)."""
    on = [f"{c.make.__name__}({values[c.field]!r})" for c in CONTROLS if values[c.field] != c.off]
    return "[" + ", ".join(on) + "]"


def render(
    prompt: str = "The capital of France is",
    model: str = "",
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    repetition_penalty: float = 1.0,
    use_chat_template: bool = False,
) -> str:
    values = dict(temperature=temperature, top_k=int(top_k), top_p=top_p, repetition_penalty=repetition_penalty)
    used = [c.make.__name__ for c in CONTROLS if values[c.field] != c.off]
    return fill(
        TEMPLATE,
        head=loading(model_name(model), imports=f"from transformers import {', '.join(used)}\n" if used else ""),
        prompt=prompt,
        encode=Code(CHAT if use_chat_template else PLAIN),
        processors=Code(processors(values)),
    )
