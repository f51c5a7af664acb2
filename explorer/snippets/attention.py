"""The Attention tab's snippet (`/attention`): the model's own attention weights for one layer and one
head (or their mean over heads, head = -1), from the eager-attention model with `output_attentions`."""

from __future__ import annotations

from .common import fill, loading, model_name

TEMPLATE = """\
$head
text = $text
layer, head = $layer, $head_index  # head -1: the mean over the layer's heads
ids = tokenizer(text)["input_ids"]  # the model's own special tokens included, as the tab shows them

with torch.inference_mode():
    attentions = model(torch.tensor([ids]), output_attentions=True).attentions  # per layer: (1, heads, n, n)
weights = attentions[layer][0].float()  # (heads, n, n): row = query position, column = key position
matrix = weights.mean(0) if head == -1 else weights[head]  # (n, n)

tokens = [tokenizer.decode([i]) for i in ids]
for query, row in zip(tokens, matrix.tolist()):
    print(" ".join(f"{w:.6f}" for w in row), repr(query))
"""


def render(text: str = "The quick brown fox", model: str = "", layer: int = 0, head: int = -1) -> str:
    return fill(
        TEMPLATE,
        head=loading(model_name(model), options='attn_implementation="eager"'),
        text=text,
        layer=int(layer),
        head_index=int(head),
    )
