"""The Masked-LM tab's snippet (`/fill_mask`). A masked LM: one forward pass with its mask token in
each blank, the top-k words per blank. A causal model (causal rescoring): each candidate word the tab
proposed is put in the blank and the whole sentence scored by its log-likelihood, renormalised over
the candidates (the tab renormalises over every word it proposed, so its probabilities are a little lower)."""

from __future__ import annotations

from .. import models
from .common import DOCUMENT_START, Code, fill, loading

MASKED = """\
$head
text = $text
top_k = $top_k
masked = re.sub(r"\\[mask\\]", tokenizer.mask_token, text, flags=re.IGNORECASE)  # the model's own mask token
inputs = tokenizer(masked, return_tensors="pt")
positions = (inputs["input_ids"][0] == tokenizer.mask_token_id).nonzero().flatten()  # (blanks,)
with torch.inference_mode():
    logits = model(**inputs).logits[0, positions]  # (blanks, vocab)
top = logits.float().log_softmax(-1).topk(top_k, dim=-1)  # values, indices: (blanks, top_k)
print("blank  prob      logprob    word")
for blank, (logprobs, ids) in enumerate(zip(top.values.tolist(), top.indices.tolist()), start=1):
    for logprob, token_id in zip(logprobs, ids):
        print(f"{blank:5d}  {math.exp(logprob):.6f}  {logprob:9.6f}  {tokenizer.decode([token_id]).strip()!r}")
"""

RESCORING = """\
$head
text = $text
candidates = $candidates  # the words the tab proposed for the first blank
others = $others  # the other blanks hold the tab's first choice for them
$start

def sentence_logprob(sentence):  # log p(sentence), the sentence a whole document
    ids = start + tokenizer(sentence, add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        logprobs = model(torch.tensor([ids])).logits[0, :-1].float().log_softmax(-1)  # (n-1, vocab)
    return logprobs.gather(1, torch.tensor(ids[1:])[:, None]).sum().item()


def filled(word):
    words = iter([word] + others)
    return re.sub(r"\\[mask\\]", lambda match: next(words), text, flags=re.IGNORECASE)


logprobs = [sentence_logprob(filled(word)) for word in candidates]
probs = torch.tensor(logprobs, dtype=torch.float64).softmax(0).tolist()  # renormalised over these words
print("logprob      prob      word")
for word, logprob, prob in sorted(zip(candidates, logprobs, probs), key=lambda row: -row[1]):
    print(f"{logprob:11.6f}  {prob:.6f}  {word!r}")
"""


def render(
    text: str = "He wrote a letter with a [MASK] and paper.",
    model: str = "",
    top_k: int = 10,
    method: str = "auto",
    result: dict | None = None,
) -> str:
    """A masked LM's snippet from the inputs; causal rescoring's from the last result's candidates
    ('' before the first run)."""
    spec = models.resolve_for(method, model)
    if spec.kind == "masked":
        head = loading(spec.name, loader="AutoModelForMaskedLM", stdlib=("math", "re"))
        return fill(MASKED, head=head, text=text, top_k=int(top_k))
    if not result or not result.get("masks") or result.get("method") != "causal-rescoring":
        return ""
    first, *rest = result["masks"]
    return fill(
        RESCORING,
        head=loading(spec.name, stdlib=("re",)),
        text=text,
        candidates=[c["token"] for c in first["candidates"]],
        others=[m["candidates"][0]["token"] for m in rest],
        start=Code(DOCUMENT_START),
    )
