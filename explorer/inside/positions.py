"""Where a token is: the sinusoidal encoding the notes derive, and the rotary one SmolLM2 and Gemma use.

Sinusoidal (the original Transformer): PE(p, 2i) = sin(p ωᵢ), PE(p, 2i+1) = cos(p ωᵢ) with
ωᵢ = 10000^(−2i/d), added to the token embeddings. Each pair of dimensions is a clock turning at its
own speed, so PE(p)·PE(m) = Σᵢ cos((p − m) ωᵢ) depends only on the distance p − m.

Rotary (RoPE): nothing is added. Each pair of dimensions of a head's q and k is turned by the angle
p θᵢ, θᵢ = base^(−2i/d_k), `base` being the config's rope_theta. A rotation's transpose undoes it,
R(p)ᵀR(m) = R(m − p), so the score (R(p) q)·(R(m) k) depends on q, k and the distance p − m only.
transformers pairs dimension i with i + d_k/2 (`anatomy.rotate`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .. import checks, i18n
from ..checks import ExplorerError
from ..models import LoadedModel
from .anatomy import rotate

SINUSOID_BASE = 10_000.0  # the original Transformer's, and RoFormer's default rope_theta
MAX_POSITIONS = 256
MAX_DIM = 512
SCHEMES = ("rotary", "learned absolute", "sinusoidal")  # what `scheme` names (English in the payload)
ALL_LAYERS = "all layers"  # Rotary.layers when one base serves every layer (a message, as is the illustration's)


@dataclass
class Rotary:
    """RoPE at one base (Gemma 3 has two: its local, sliding layers turn faster than its global ones)."""

    layers: str  # which layers use it: "all layers" (translated), or a layer type such as "sliding_attention"
    theta: float  # the base, from the config
    angles: list[list[float]]  # (positions, d_k/2): p θᵢ in radians, pair i = dimensions (i, i + d_k/2)
    wavelengths: list[float]  # (d_k/2,): positions per full turn of each pair, 2π/θᵢ
    scores: list[list[float]]  # (positions, positions): (R(p) q)·(R(m) k) for one seeded pair q, k
    score_by_distance: list[float]  # score at distance p − m = 0, 1, …
    max_deviation: float  # max |score(p, m) − score_by_distance[p − m]| over the grid (≈ 0: distance only)


@dataclass
class Positions:
    """The /positions payload."""

    model: str
    scheme: str  # what the model uses: one of SCHEMES
    evidence: str  # the config fields that say so (in the request's language)
    positions: int
    dim: int  # the sinusoidal encoding's width
    sinusoidal: list[list[float]]  # (positions, dim)
    sinusoidal_dot: list[list[float]]  # (positions, positions): PE(p)·PE(m)
    head_dim: int  # d_k for the rotary part
    rotary: list[Rotary]  # the model's bases, or RoFormer's 10000 as an illustration if it does not rotate


def sinusoidal(positions: int, dim: int) -> torch.Tensor:
    """(positions, dim): sin in the even dimensions, cos in the odd ones."""
    p = torch.arange(positions, dtype=torch.float64)[:, None]  # (positions, 1)
    omega = SINUSOID_BASE ** (-torch.arange(0, dim, 2, dtype=torch.float64) / dim)  # (dim/2,)
    encoding = torch.zeros(positions, dim, dtype=torch.float64)
    encoding[:, 0::2] = torch.sin(p * omega)
    encoding[:, 1::2] = torch.cos(p * omega)
    return encoding


def rope_thetas(config) -> dict[str, float]:
    """The config's RoPE base(s): one for every layer, or one per layer type (Gemma 3); {} if none."""
    params = getattr(config, "rope_parameters", None) or {}
    if "rope_theta" in params:
        return {i18n.message(ALL_LAYERS, {}): float(params["rope_theta"])}
    nested = {kind: float(p["rope_theta"]) for kind, p in params.items() if isinstance(p, dict) and "rope_theta" in p}
    if nested:
        return nested
    theta = getattr(config, "rope_theta", None)
    return {i18n.message(ALL_LAYERS, {}): float(theta)} if theta else {}


def scheme_name(kind: str) -> str:
    """One of SCHEMES in the request's language."""
    return i18n.message(kind, {})


def scheme(lm: LoadedModel) -> tuple[str, str]:
    """What the model uses, and the config fields (and modules) that say so."""
    config, base = lm.model.config, lm.model.base_model
    thetas = rope_thetas(config)
    if thetas:
        bases = ", ".join(f"{theta:,.0f} ({layers})" for layers, theta in thetas.items())
        return "rotary", i18n.message(
            "config rope_theta = {bases}; no position table is added to the embeddings.", dict(bases=bases)
        )
    table = getattr(base, "wpe", None) or getattr(getattr(base, "embeddings", None), "position_embeddings", None)
    if table is not None:
        kind = getattr(config, "position_embedding_type", "absolute")
        return "learned absolute", i18n.message(
            "a learned table of {rows:,} positions × {width} (position_embedding_type {kind!r}) is added to the "
            "token embeddings; no rope_theta in the config.",
            dict(rows=table.num_embeddings, width=table.embedding_dim, kind=kind),
        )
    return "sinusoidal", i18n.message("no rope_theta and no learned position table: fixed sinusoids.", {})


def rotary(theta: float, layers: str, positions: int, head_dim: int, seed: int) -> Rotary:
    half = head_dim // 2
    frequencies = theta ** (-torch.arange(half, dtype=torch.float64) * 2 / head_dim)  # (d_k/2,) θᵢ
    angles = torch.arange(positions, dtype=torch.float64)[:, None] * frequencies  # (positions, d_k/2)
    doubled = torch.cat((angles, angles), dim=-1)  # (positions, d_k): dimension i and i + d_k/2 share an angle
    generator = torch.Generator().manual_seed(seed)
    q, k = torch.randn(2, head_dim, generator=generator, dtype=torch.float64)  # one query and one key vector
    rotated_q = rotate(q.expand(positions, -1), doubled.cos(), doubled.sin())  # (positions, d_k): q at p = 0, 1, …
    rotated_k = rotate(k.expand(positions, -1), doubled.cos(), doubled.sin())  # (positions, d_k)
    scores = rotated_q @ rotated_k.T  # (positions, positions): query at p, key at m
    by_distance = scores[torch.arange(positions), 0]  # key at 0, query at p: distance p
    p, m = torch.tril_indices(positions, positions)  # every pair with p ≥ m
    deviation = (scores[p, m] - by_distance[p - m]).abs().max().item()
    return Rotary(
        layers=layers,
        theta=theta,
        angles=angles.tolist(),
        wavelengths=(2 * math.pi / frequencies).tolist(),
        scores=scores.tolist(),
        score_by_distance=by_distance.tolist(),
        max_deviation=deviation,
    )


def positions(lm: LoadedModel, count=64, dim=128, seed=0) -> Positions:
    count = checks.number(count, "positions", 2, MAX_POSITIONS, integer=True)
    dim = checks.number(dim, "dim", 2, MAX_DIM, integer=True)
    if dim % 2:
        raise ExplorerError(
            "dim = {dim} must be even (sin and cos come in pairs); allowed: 2, 4, …, {max_dim}.",
            dim=dim,
            max_dim=MAX_DIM,
        )
    seed = checks.seed(seed)
    kind, evidence = scheme(lm)
    config = lm.model.config
    head_dim = int(getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads)
    illustration = i18n.message("illustration ({model} does not rotate)", dict(model=lm.name))
    thetas = rope_thetas(config) or {illustration: SINUSOID_BASE}
    encoding = sinusoidal(count, dim)
    return Positions(
        model=lm.name,
        scheme=kind,
        evidence=evidence,
        positions=count,
        dim=dim,
        sinusoidal=encoding.tolist(),
        sinusoidal_dot=(encoding @ encoding.T).tolist(),
        head_dim=head_dim,
        rotary=[rotary(theta, layers, count, head_dim, seed) for layers, theta in thetas.items()],
    )
