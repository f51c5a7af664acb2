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


def render(prompt: str, model: str, use_chat_template: bool = False, **controls: float) -> str:
    """`controls`: temperature, top_k, top_p and repetition_penalty as /next_token takes them (absent: off),
    each checked as the tab checks it."""
    on = [(c, c.check(controls[c.field])) for c in CONTROLS if controls.get(c.field, c.off) != c.off]
    used = ", ".join(c.make.__name__ for c, _ in on)
    return fill(
        TEMPLATE,
        head=loading(model_name(model), imports=f"from transformers import {used}\n" if on else ""),
        prompt=prompt,
        encode=Code(CHAT if use_chat_template else PLAIN),
        processors=Code("[" + ", ".join(f"{c.make.__name__}({value!r})" for c, value in on) + "]"),
    )
