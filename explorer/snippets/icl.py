"""The In-context-learning tab's snippet (`/icl`): each label's log-probability after the exact prompt
the tab built (instruction, demonstrations, query), renormalised over the labels. The prompt comes
from the tab's last result (its demonstrations are drawn from the seed); what follows it for each
label (the template's gap, then the verbalizer word) from the task's settings."""

from __future__ import annotations

from ..icl import resolve_task
from ..icl.prompts import build_prompt
from ..icl.scoring import MAX_NEW_TOKENS
from .common import DOCUMENT_START, Code, fill, loading, model_name

TEMPLATE = """\
$head
prompt = $prompt  # exactly what the model read in the tab
$encode

prompt_ids = encode(prompt)
"""

CLASSIFY = """\
labels = $labels
continuations = $continuations  # per label: the template's gap, then the label's word


def continuation_logprob(continuation):
    # Prompt and continuation are tokenised as one text (a word can merge with what precedes it);
    # the continuation's own tokens start where the ids part from the prompt's.
    ids = encode(prompt + continuation)
    first = next((j for j, (a, b) in enumerate(zip(ids, prompt_ids)) if a != b), len(prompt_ids))
    with torch.inference_mode():
        logprobs = model(torch.tensor([ids])).logits[0].float().log_softmax(-1)  # (n, vocab)
    return sum(logprobs[j - 1, ids[j]].item() for j in range(first, len(ids)))  # position j-1 predicts token j


logprobs = [continuation_logprob(c) for c in continuations]
probs = torch.tensor(logprobs).softmax(0).tolist()  # renormalised over the labels
print("logprob     prob      label")
for label, logprob, prob in zip(labels, logprobs, probs):
    print(f"{logprob:10.6f}  {prob:.6f}  {label}")
"""

GENERATE = """\
# A generation task: the greedy answer, up to the end of its line.
new = model.generate(torch.tensor([prompt_ids]), max_new_tokens=$max_new_tokens, do_sample=False)[0, len(prompt_ids):]
print(repr(tokenizer.decode(new, skip_special_tokens=True).split("\\n")[0].strip()))
"""

PLAIN = (
    DOCUMENT_START
    + """

def encode(text):
    return start + tokenizer(text, add_special_tokens=False)["input_ids"]
"""
)
CHAT = """\
def encode(text):  # a chat prompt spells its own start (the template's special tokens)
    return tokenizer(text, add_special_tokens=False)["input_ids"]
"""


def render(
    result: dict | None = None,
    task: str = "sentiment",
    template: str = "",
    verbalizers: str = "",
    instruction: str = "",
    custom_examples: str = "",
    use_chat_template: bool = False,
) -> str:
    """The snippet for the tab's last result ('' before the first run: the prompt is the run's)."""
    if not result or not result.get("prompt"):
        return ""
    chosen = resolve_task(task, template, verbalizers, instruction, custom_examples)
    chat = bool(use_chat_template)
    head = fill(
        TEMPLATE,
        head=loading(model_name(result["model"])),
        prompt=result["prompt"],
        encode=Code(CHAT if chat else PLAIN),
    )
    if not result.get("labels"):
        return head + fill(GENERATE, max_new_tokens=MAX_NEW_TOKENS)
    continuations = list(chosen.verbalizers) if chat else list(build_prompt(chosen, [], "query").continuations)
    return head + fill(CLASSIFY, labels=list(chosen.labels), continuations=continuations)
