"""Ways to score encoder states h₁ … h_n against a decoder state s: the notes' toy example.

    dot product      score(s, hᵢ) = sᵀhᵢ                   (s and h must have the same size)
    scaled dot       score(s, hᵢ) = sᵀhᵢ / √d              (the Transformer's: see scaling.py)
    multiplicative   score(s, hᵢ) = sᵀ W hᵢ                (bilinear; W is d_s × d_h, learned)
    additive         score(s, hᵢ) = vᵀ tanh(W₁s + W₂hᵢ)    (a one-hidden-layer MLP of size d_a)

Each gives one score per encoder state; the softmax turns them into weights αᵢ, and the context
vector is c = Σᵢ αᵢ hᵢ. The vectors and matrices are typed in (rows on lines or split by ';',
entries split by commas or spaces); a blank W, W₁, W₂ or v is drawn from the seed.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import torch

from .. import checks, i18n
from ..checks import ExplorerError

MAX_SIZE = 16  # entries per vector
MAX_STATES = 12  # encoder states
ATTENTION_SIZE = 4  # d_a, the additive score's hidden size, when none of W₁, W₂, v fixes it
DEFAULT_S = "2, 0, 1"
DEFAULT_H = "1, 0, 1\n0, 1, 0\n2, 0, 0\n-1, 1, 1"


@dataclass
class Variant:
    name: str  # "dot product", "scaled dot product", "multiplicative" or "additive" (the views translate it)
    formula: str
    scores: list[float] | None  # one per encoder state; None when the variant does not apply
    weights: list[float] | None  # softmax of the scores
    context: list[float] | None  # Σᵢ weightᵢ hᵢ
    note: str  # in the language of the request being served


@dataclass
class ScoreVariants:
    """The /score_variants payload: the inputs as used (seeded ones filled in) and each variant."""

    s: list[float]  # (d_s,)
    h: list[list[float]]  # (n, d_h)
    W: list[list[float]]  # (d_s, d_h)
    W1: list[list[float]]  # (d_a, d_s)
    W2: list[list[float]]  # (d_a, d_h)
    v: list[float]  # (d_a,)
    seed: int
    seeded: list[str]  # which of W, W1, W2, v were left blank and drawn from the seed
    variants: list[Variant]


def parse(text, name: str) -> torch.Tensor | None:
    """Rows of numbers, or None for a blank field."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    text = checks.text(text, name, max_chars=4000)
    rows = [row for row in re.split(r"[\n;]", text) if row.strip()]
    try:
        values = [[float(x) for x in re.split(r"[,\s]+", row.strip().strip("[]()")) if x] for row in rows]
    except ValueError:
        raise ExplorerError(
            "{name} must be numbers, rows on lines or split by ';', e.g. '1, 0; 0, 1'.", name=name
        ) from None
    sizes = {len(row) for row in values}
    if len(sizes) != 1 or len(values) > MAX_STATES or max(sizes) > MAX_SIZE:
        raise ExplorerError(
            "{name}: every row must have the same number of entries, at most {max_size} per row and "
            "{max_rows} rows (got rows of {sizes} entries, {rows} rows).",
            name=name,
            max_size=MAX_SIZE,
            max_rows=MAX_STATES,
            sizes=sorted(sizes),
            rows=len(values),
        )
    tensor = torch.tensor(values, dtype=torch.float64)
    if not torch.isfinite(tensor).all():
        raise ExplorerError("{name} must hold finite numbers.", name=name)
    return tensor


def _vector(tensor: torch.Tensor | None, name: str) -> torch.Tensor | None:
    if tensor is not None and tensor.shape[0] != 1:
        raise ExplorerError("{name} is one vector (one row), got {rows} rows.", name=name, rows=tensor.shape[0])
    return None if tensor is None else tensor[0]


def _matrix(given: torch.Tensor | None, name: str, shape: tuple[int, int], generator) -> torch.Tensor:
    """`given` checked against `shape`, or seeded entries of variance 1/fan-in, rounded to read easily."""
    if given is None:
        drawn = torch.randn(shape, generator=generator, dtype=torch.float64) / math.sqrt(shape[-1])
        return drawn.round(decimals=2)
    if tuple(given.shape) != shape:
        raise ExplorerError(
            "{name} must be {rows} × {cols} here, got {given_rows} × {given_cols}.",
            name=name,
            rows=shape[0],
            cols=shape[1],
            given_rows=given.shape[0],
            given_cols=given.shape[1],
        )
    return given


def _variant(name: str, formula: str, scores: torch.Tensor | None, h: torch.Tensor, note: str) -> Variant:
    """The weights (softmax of the scores) and the context vector Σᵢ αᵢ hᵢ of one variant."""
    if scores is None:
        return Variant(name, formula, None, None, None, note)
    weights = scores.softmax(-1)  # (n,)
    return Variant(name, formula, scores.tolist(), weights.tolist(), (weights @ h).tolist(), note)


def score_variants(decoder_state=DEFAULT_S, encoder_states=DEFAULT_H, W="", W1="", W2="", v="", seed=0):
    """Every variant's scores, weights and context vector for s and h₁ … h_n."""
    seed = checks.seed(seed)
    s = _vector(parse(decoder_state, "decoder_state (s)"), "decoder_state (s)")
    h = parse(encoder_states, "encoder_states (h)")
    if s is None or h is None:
        raise ExplorerError("Type the decoder state s and the encoder states h₁ … h_n (one per line).")
    given = {"W": parse(W, "W"), "W1": parse(W1, "W1"), "W2": parse(W2, "W2"), "v": parse(v, "v")}
    d_s, d_h = len(s), h.shape[1]
    sizes = [m.shape[0] for m in (given["W1"], given["W2"]) if m is not None]
    if given["v"] is not None:
        sizes.append(given["v"].shape[1])
    d_a = sizes[0] if sizes else ATTENTION_SIZE
    generator = torch.Generator().manual_seed(seed)
    w = _matrix(given["W"], "W", (d_s, d_h), generator)
    w1 = _matrix(given["W1"], "W1", (d_a, d_s), generator)
    w2 = _matrix(given["W2"], "W2", (d_a, d_h), generator)
    v_ = _matrix(given["v"], "v", (1, d_a), generator)[0]

    same_size = d_s == d_h
    why = i18n.message(
        "needs s and h of the same size (here {d_s} and {d_h}): use W or the additive score", dict(d_s=d_s, d_h=d_h)
    )
    dot = h @ s if same_size else None  # (n,)
    variants = [
        _variant("dot product", "sᵀhᵢ", dot, h, "" if same_size else why),
        _variant(
            "scaled dot product",
            "sᵀhᵢ / √d",
            dot / math.sqrt(d_s) if same_size else None,
            h,
            f"÷ √{d_s}" if same_size else why,
        ),
        _variant(
            "multiplicative", "sᵀ W hᵢ", h @ (s @ w), h, i18n.message("W is {d_s} × {d_h}", dict(d_s=d_s, d_h=d_h))
        ),
        _variant(
            "additive",
            "vᵀ tanh(W₁ s + W₂ hᵢ)",
            torch.tanh(w1 @ s + h @ w2.T) @ v_,  # (n, d_a): the hidden layer for each hᵢ, then · v
            h,
            i18n.message("W₁ is {d_a} × {d_s}, W₂ {d_a} × {d_h}, v has {d_a} entries", dict(d_a=d_a, d_s=d_s, d_h=d_h)),
        ),
    ]
    return ScoreVariants(
        s=s.tolist(),
        h=h.tolist(),
        W=w.tolist(),
        W1=w1.tolist(),
        W2=w2.tolist(),
        v=v_.tolist(),
        seed=seed,
        seeded=[name for name, value in given.items() if value is None],
        variants=variants,
    )
