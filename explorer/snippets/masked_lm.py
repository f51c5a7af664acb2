"""The Masked-LM tab's snippet (`/fill_mask`). A masked LM: one forward pass with its mask token in
each blank, the top-k words per blank. A causal model (causal rescoring): each candidate word the tab
proposed is put in the blank and the whole sentence scored by its log-likelihood, renormalised over
the candidates (the tab renormalises over every word it proposed, so its probabilities are a little lower);
a Chinese sentence's log-likelihood sums its two tokenisations, as the tab's does."""

from __future__ import annotations

from .. import models
from ..masked_lm.blanks import writes_cjk
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

$score

def filled(word):
    words = iter([word] + others)
    return re.sub(r"\\[mask\\]", lambda match: next(words), text, flags=re.IGNORECASE)


logprobs = [sentence_logprob(filled(word)) for word in candidates]
probs = torch.tensor(logprobs, dtype=torch.float64).softmax(0).tolist()  # renormalised over these words
print("logprob      prob      word")
for word, logprob, prob in sorted(zip(candidates, logprobs, probs), key=lambda row: -row[1]):
    print(f"{logprob:11.6f}  {prob:.6f}  {word!r}")
"""

SCORE = """\
def sentence_logprob(sentence):  # log p(sentence), the sentence a whole document
    ids = start + tokenizer(sentence, add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        logprobs = model(torch.tensor([ids])).logits[0, :-1].float().log_softmax(-1)  # (n-1, vocab)
    return logprobs.gather(1, torch.tensor(ids[1:])[:, None]).sum().item()
"""

# Chinese: a sentence's probability sums two of the token sequences that spell it, the tokenizer's
# and the one cut word by word (explorer/masked_lm/words.py), when they differ.
SCORE_CHINESE = """\
CJK_RUN = "([\\u3040-\\u30ff\\u3400-\\u4dbf\\u4e00-\\u9fff]+)"


def tokens(text):
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def word_tokens(text):  # each run of Chinese characters cut from the left into the longest single tokens
    ids = []
    for part in re.split(CJK_RUN, text):
        if not re.fullmatch(CJK_RUN, part):
            ids += tokens(part)
            continue
        begin = 0
        while begin < len(part):
            ends = range(min(len(part), begin + 6), begin, -1)
            end = next((end for end in ends if len(tokens(part[begin:end])) == 1), 0)
            ids += tokens(part[begin : end or begin + 1])
            begin = end or begin + 1
    return ids


def document_logprob(ids):  # log p(ids), the first (the document start) not predicted
    with torch.inference_mode():
        logprobs = model(torch.tensor([ids])).logits[0, :-1].float().log_softmax(-1)  # (n-1, vocab)
    return logprobs.gather(1, torch.tensor(ids[1:])[:, None]).sum().item()


def sentence_logprob(sentence):  # summed over the tokenizer's tokens and the word-by-word tokens
    rows = {tuple(start + tokens(sentence)), tuple(start + word_tokens(sentence))}  # the same tokens count once
    return torch.tensor([document_logprob(list(row)) for row in rows], dtype=torch.float64).logsumexp(0).item()
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
        score=Code(SCORE_CHINESE if writes_cjk(text) else SCORE),
    )
