"""Reading a forward: one layer's matrix (a head, or the mean over heads), which key/value head a
query head shares, how far a sliding-window layer reads, and which heads do recognisable jobs."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .. import checks, i18n
from ..models import LoadedModel, Progress
from ..segments import Segment
from .forward import SLIDING, Forward, counterpart_forward, forward


@dataclass
class AttentionMatrix:
    """The /attention payload (API.md); fields after `matrix` are additions."""

    model: str
    tokens: list[str]
    layer: int
    head: int  # -1 = the mean over heads
    num_layers: int
    num_heads: int  # query heads (grouped-query attention shares key/value heads between them)
    matrix: list[list[float]]  # matrix[i][j]: how much position i attends to position j
    num_key_value_heads: int
    causal: bool
    kv_group: int | None  # which key/value head this query head reads (None for the mean)
    layer_type: str  # "full_attention" or "sliding_attention" (transformers' names)
    sliding_window: int | None  # a sliding layer's window in tokens (None for a full layer)
    segments: list[Segment]  # runs of tokens that make whole characters: {text, start, end}, end excluded


@dataclass
class HeadPatterns:
    """Per layer and head, the average weight on three positions that reveal a head's job."""

    first_token: list[list[float]]  # the first token: the "attention sink"
    previous_token: list[list[float]]  # the token just before: previous-token heads
    same_token: list[list[float]]  # itself: diagonal heads


@dataclass
class AttentionView:
    """Everything the Attention tab draws for one text: the chosen matrix (the API payload), the
    forward it was read from, and the other kind of model on the same text for the comparison."""

    matrix: AttentionMatrix
    run: Forward
    other: Forward | None  # None when no model of the other kind is available here
    other_layer: int  # the comparison's layer: the same index, capped at the other model's last layer


def check_layer_head(run: Forward, layer, head) -> tuple[int, int]:
    layer = checks.number(layer, "layer", 0, run.num_layers - 1, integer=True)
    head = checks.number(
        head,
        "head",
        -1,
        run.num_heads - 1,
        integer=True,
        allowed=i18n.message(
            "-1 (the mean over the {heads} heads) or a whole number in [0, {last}]",
            dict(heads=run.num_heads, last=run.num_heads - 1),
        ),
    )
    return layer, head


def weights(run: Forward, layer: int, head: int) -> torch.Tensor:
    """One head's (n, n) weights, or their mean over heads for head = -1 (indices already checked)."""
    return run.attentions[layer].mean(0) if head == -1 else run.attentions[layer, head]


def kv_group(run: Forward, head: int) -> int | None:
    """The key/value head a query head shares (transformers' repeat_kv: consecutive query heads share one)."""
    return None if head == -1 else head // (run.num_heads // run.num_key_value_heads)


def window(run: Forward, layer: int) -> int | None:
    """How many tokens (up to and including itself) a query of `layer` reads; None for a full layer."""
    return run.sliding_window if run.layer_types[layer] == SLIDING else None


def is_banded(run: Forward, layer: int) -> bool:
    """Whether this text is long enough for the layer's window to cut anything off: query i reads
    keys i - window + 1 … i, so only a text longer than the window shows a band."""
    size = window(run, layer)
    return size is not None and run.num_tokens > size


def attention(loaded: LoadedModel, text: str, layer=0, head=-1, progress: Progress | None = None) -> AttentionMatrix:
    run = forward(loaded, text, progress)
    layer, head = check_layer_head(run, layer, head)
    return AttentionMatrix(
        model=run.model,
        tokens=run.tokens,
        layer=layer,
        head=head,
        num_layers=run.num_layers,
        num_heads=run.num_heads,
        matrix=weights(run, layer, head).tolist(),
        num_key_value_heads=run.num_key_value_heads,
        causal=run.causal,
        kv_group=kv_group(run, head),
        layer_type=run.layer_types[layer],
        sliding_window=window(run, layer),
        segments=run.segments,
    )


def show(loaded: LoadedModel, text: str, layer=0, head=-1, progress: Progress | None = None) -> AttentionView:
    """The chosen matrix, its forward, and the same text through the other kind of model."""
    matrix = attention(loaded, text, layer, head, progress)
    other = counterpart_forward(loaded, text, progress)
    return AttentionView(
        matrix=matrix,
        run=forward(loaded, text),
        other=other,
        other_layer=min(matrix.layer, other.num_layers - 1) if other else 0,
    )


def head_patterns(run: Forward) -> HeadPatterns:
    """Mean weight each head puts on the first, the previous and the same position, over the
    queries for which that is a choice (query 0 can only attend to itself in a causal model)."""
    a = run.attentions  # (layers, heads, n, n)
    if run.num_tokens < 2:
        zeros = torch.zeros(a.shape[:2]).tolist()
        return HeadPatterns(zeros, zeros, zeros)
    return HeadPatterns(
        first_token=a[..., 1:, 0].mean(-1).tolist(),  # (layers, heads): column 0, queries 1…
        previous_token=a.diagonal(offset=-1, dim1=-2, dim2=-1).mean(-1).tolist(),  # (layers, heads)
        same_token=a[..., 1:, :].diagonal(offset=1, dim1=-2, dim2=-1).mean(-1).tolist(),  # (layers, heads)
    )
