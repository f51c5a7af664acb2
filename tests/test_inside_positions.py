"""Positions: the sinusoids by their formula, RoPE's angles equal to the model's own rotary module's."""

from __future__ import annotations

import math

import pytest
import torch

from explorer import models
from explorer.checks import ExplorerError
from explorer.inside import positions

from builders import tiny_bert, tiny_gemma, tiny_gpt2, tiny_llama


def test_sinusoids_by_the_formula_and_their_dot_product_depends_on_distance_only():
    result = positions.positions(tiny_llama(), 20, 10)
    for p in range(20):
        for i in range(5):
            omega = 10000 ** (-2 * i / 10)
            assert result.sinusoidal[p][2 * i] == pytest.approx(math.sin(p * omega))
            assert result.sinusoidal[p][2 * i + 1] == pytest.approx(math.cos(p * omega))
    dot = result.sinusoidal_dot
    for p in range(20):
        for m in range(20):
            assert dot[p][m] == pytest.approx(sum(math.cos((p - m) * 10000 ** (-2 * i / 10)) for i in range(5)))
            assert dot[p][m] == pytest.approx(dot[abs(p - m)][0])


def rotary_cos_sin(lm: models.LoadedModel, n: int, layer_type: str | None = None):
    """The model's own RoPE tables for positions 0 … n-1: (n, d_k) each."""
    module = lm.model.base_model.rotary_emb
    x = torch.zeros(1, n, lm.model.config.hidden_size)
    extra = {"layer_type": layer_type} if layer_type else {}
    cos, sin = module(x, torch.arange(n)[None], **extra)
    return cos[0], sin[0]


def test_rotary_angles_are_the_llama_models_own():
    lm = tiny_llama()
    result = positions.positions(lm, 32, 8, seed=1)
    assert result.scheme == "rotary" and "rope_theta = 10,000" in result.evidence
    (rotary,) = result.rotary
    angles = torch.tensor(rotary.angles)  # (positions, d_k/2)
    cos, sin = rotary_cos_sin(lm, 32)
    torch.testing.assert_close(torch.cat((angles, angles), -1).cos().float(), cos, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(torch.cat((angles, angles), -1).sin().float(), sin, atol=1e-5, rtol=1e-5)
    assert rotary.max_deviation < 1e-9
    scores = torch.tensor(rotary.scores)
    for distance in range(32):  # every placement at one distance gives one score
        diagonal = scores.diagonal(-distance)
        assert torch.allclose(diagonal, diagonal[0].expand_as(diagonal), atol=1e-9)
    assert rotary.wavelengths[0] == pytest.approx(2 * math.pi)


def test_gemma_has_a_base_per_layer_type_each_its_rotary_modules():
    lm = tiny_gemma()
    result = positions.positions(lm, 16, 8)
    assert {r.layers: r.theta for r in result.rotary} == {"sliding_attention": 10_000.0, "full_attention": 1_000_000.0}
    for r in result.rotary:
        angles = torch.tensor(r.angles)
        cos, _ = rotary_cos_sin(lm, 16, r.layers)
        torch.testing.assert_close(torch.cat((angles, angles), -1).cos().float(), cos, atol=1e-5, rtol=1e-5)
    assert result.head_dim == 16


def test_learned_positions_are_named_and_rotary_is_shown_as_an_illustration():
    for lm, rows in ((tiny_gpt2(), 128), (tiny_bert(), 64)):
        result = positions.positions(lm, 8, 4)
        assert result.scheme == "learned absolute" and f"{rows} positions" in result.evidence
        assert result.rotary[0].theta == 10_000.0 and "does not rotate" in result.rotary[0].layers


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [(dict(count=1), r"positions = 1 is out of range"), (dict(dim=7), "must be even"), (dict(dim=1024), r"\[2, 512\]")],
)
def test_bad_sizes_are_refused(kwargs, says):
    with pytest.raises(ExplorerError, match=says):
        positions.positions(tiny_llama(), **kwargs)
