"""The teacher-forcing snippet (`/sequence_probs`, in the Generation tab): each token's probability given
the tokens before it, its rank, and the text's log-probability and perplexity, from one forward pass."""

from __future__ import annotations

from .common import DOCUMENT_START, Code, fill, loading, model_name

TEMPLATE = """\
$head
text = $text
$start
ids = start + tokenizer(text, add_special_tokens=False)["input_ids"]
input_ids = torch.tensor([ids])  # (1, n)

with torch.inference_mode():
    logprobs = model(input_ids).logits[0, :-1].float().log_softmax(-1)  # (n-1, vocab): position j predicts token j+1
targets = input_ids[0, 1:]  # (n-1,)
true = logprobs.gather(1, targets[:, None])[:, 0]  # (n-1,): log p(token | the tokens before it)
ranks = (logprobs > true[:, None]).sum(-1) + 1  # (n-1,): 1 = the model's first choice

print("position  prob      logprob    rank  token")
for j, (logprob, rank) in enumerate(zip(true.tolist(), ranks.tolist())):
    print(f"{j + 1:8d}  {math.exp(logprob):.6f}  {logprob:9.6f}  {rank:4d}  {tokenizer.decode([ids[j + 1]])!r}")
total = true.double().sum().item()
print(f"log p(text) = {total:.6f}")
print(f"perplexity = {math.exp(-total / len(true)):.6f}")
"""


def render(text: str = "The capital of France is Paris.", model: str = "") -> str:
    return fill(TEMPLATE, head=loading(model_name(model), stdlib=("math",)), text=text, start=Code(DOCUMENT_START))
