"""Why the scores are divided by √d_k.

If q and k have d independent entries of mean 0 and variance 1, then q·k = Σᵢ qᵢkᵢ is a sum of d
terms of variance 1: its variance is d, its spread √d. The softmax of scores that far apart is
nearly one-hot (its entropy → 0, its largest weight → 1), and its gradient vanishes. Dividing by
√d_k brings the spread back to 1 whatever d is, so the softmax stays soft.

`random_spread` measures this on seeded random vectors; `model_spread` measures the same
statistics on the real model's heads for a text, with the model's own scale and without it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .. import cache, checks
from ..models import LoadedModel
from . import anatomy
from .steps import queries_keys_values, softmax_visible, visible
from .trace import Trace, key, trace

DIMS = (8, 16, 32, 64, 128, 256, 512, 1024)  # the curve's dimensions (the slider's range)
N_QUERIES = 256  # random queries per dimension
N_KEYS = 32  # keys each query scores
MODEL_SPREADS = cache.named("inside-model-spread", 4)  # 270 heads' scores for SmolLM2: ~0.1 s, kept


@dataclass
class Spread:
    """Scores without and with scaling, and the softmax each gives."""

    std_raw: float  # spread of q·k
    std_scaled: float  # spread of the scores actually used (÷√d, or the model's own scale)
    entropy_raw: float  # mean entropy of a softmax row, nats (uniform over N keys: ln N)
    entropy_scaled: float
    max_weight_raw: float  # mean largest weight of a row (1 = one-hot)
    max_weight_scaled: float


@dataclass
class RandomSpread:
    d: int
    seed: int
    n_keys: int
    uniform_entropy: float  # ln(n_keys): a uniform softmax
    chosen: Spread  # at d
    curve: list[Spread]  # at each of `dims`
    dims: list[int]
    example_raw: list[float]  # the first query's softmax over the keys, without scaling
    example_scaled: list[float]  # and with it


@dataclass
class LayerSpread:
    """One layer of the real model, every query head's rows pooled."""

    layer: int
    d_k: int
    scale: float
    spread: Spread  # scaled = the model's own scores; raw = the same without the scale


@dataclass
class SqrtDk:
    """The /sqrt_dk payload."""

    random: RandomSpread
    model: str
    tokens: list[str]
    layers: list[LayerSpread]


def spread(scores: torch.Tensor, scale: float, mask: torch.Tensor) -> Spread:
    """Statistics of the visible `scores` (rows, keys) raw and times `scale`, and of their softmaxes.
    Rows with a single visible key (a causal model's first query) say nothing and are left out."""
    rows = mask.sum(-1) > 1
    scores, mask = scores[rows], mask[rows]
    raw_w, scaled_w = softmax_visible(scores, mask), softmax_visible(scores * scale, mask)
    values = scores[mask]
    return Spread(
        std_raw=values.std().item(),
        std_scaled=(values * scale).std().item(),
        entropy_raw=_entropy(raw_w),
        entropy_scaled=_entropy(scaled_w),
        max_weight_raw=raw_w.max(-1).values.mean().item(),
        max_weight_scaled=scaled_w.max(-1).values.mean().item(),
    )


def _entropy(weights: torch.Tensor) -> float:
    """Mean over rows of −Σ p log p (0 log 0 = 0)."""
    return -(weights * weights.clamp_min(1e-30).log()).sum(-1).mean().item()


def _random_scores(d: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    q = torch.randn(N_QUERIES, d, generator=generator)  # (queries, d), unit-variance entries
    k = torch.randn(N_KEYS, d, generator=generator)  # (keys, d)
    return q @ k.T  # (queries, keys)


def random_spread(d=64, seed=0) -> RandomSpread:
    """Random q, k of unit-variance entries at d, and the curve over every d in DIMS."""
    d = checks.number(d, "d", DIMS[0], DIMS[-1], integer=True)
    seed = checks.seed(seed)
    everywhere = torch.ones(N_QUERIES, N_KEYS, dtype=torch.bool)
    scores = _random_scores(d, seed)
    first = scores[0]  # (keys,)
    return RandomSpread(
        d=d,
        seed=seed,
        n_keys=N_KEYS,
        uniform_entropy=math.log(N_KEYS),
        chosen=spread(scores, d**-0.5, everywhere),
        curve=[spread(_random_scores(dim, seed), dim**-0.5, everywhere) for dim in DIMS],
        dims=list(DIMS),
        example_raw=first.softmax(-1).tolist(),
        example_scaled=(first * d**-0.5).softmax(-1).tolist(),
    )


def model_spread(lm: LoadedModel, text: str) -> tuple[list[str], list[LayerSpread]]:
    """Each layer's scores for `text`, pooled over its heads, raw and with the model's own scale."""
    run = trace(lm, text)
    return run.tokens, MODEL_SPREADS.get(key(lm, text), lambda: _layer_spreads(lm, run))


def _layer_spreads(lm: LoadedModel, run: Trace) -> list[LayerSpread]:
    n = len(run.ids)
    layers = []
    with torch.inference_mode():
        for layer in range(len(run.attentions)):
            attn = anatomy.layer_attention(lm, layer)
            mask = visible(n, attn.causal, attn.sliding_window)  # (n, n)
            scores = []
            for head in range(attn.num_heads):
                qkv = queries_keys_values(attn, head, run.attention_inputs[layer], run.rotations[layer])
                scores.append(qkv["q"] @ qkv["k"].T)  # (n, n)
            pooled = torch.cat(scores)  # (heads · n, n): every head's rows, one softmax each
            every_mask = mask.repeat(attn.num_heads, 1)  # (heads · n, n)
            layers.append(LayerSpread(layer, attn.head_dim, attn.scale, spread(pooled, attn.scale, every_mask)))
    return layers


def sqrt_dk(lm: LoadedModel, text: str, d=64, seed=0) -> SqrtDk:
    """Random vectors at d (and the curve over every d), then the model's heads on `text`."""
    random = random_spread(d, seed)
    tokens, layers = model_spread(lm, text)
    return SqrtDk(random=random, model=lm.name, tokens=tokens, layers=layers)
