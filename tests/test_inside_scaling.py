"""Why √d_k: the statistics on random vectors follow the √d law, and on a model they are its own softmax's."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from explorer.checks import ExplorerError
from explorer.inside import scaling

from builders import SAMPLE_TEXT, tiny_gemma, tiny_llama


def test_scaled_scores_have_unit_spread_for_large_d_and_raw_ones_grow_like_sqrt_d():
    for d in (256, 1024):
        chosen = scaling.random_spread(d, seed=0).chosen
        assert chosen.std_scaled == pytest.approx(1.0, abs=0.08)
        assert chosen.std_raw == pytest.approx(math.sqrt(d), rel=0.08)
    curve = scaling.random_spread(64, seed=1).curve
    raw_entropy = [s.entropy_raw for s in curve]
    assert raw_entropy == sorted(raw_entropy, reverse=True)  # unscaled: ever more peaked as d grows
    assert raw_entropy[-1] < 0.2 and curve[-1].max_weight_raw > 0.9
    assert all(abs(s.entropy_scaled - curve[0].entropy_scaled) < 0.25 for s in curve)  # scaled: the same for every d
    assert all(s.max_weight_scaled < 0.3 for s in curve)


def test_the_statistics_against_numpy():
    result = scaling.random_spread(32, seed=7)
    generator = torch.Generator().manual_seed(7)  # the documented draw: queries, then keys
    q = torch.randn(scaling.N_QUERIES, 32, generator=generator).double().numpy()
    k = torch.randn(scaling.N_KEYS, 32, generator=generator).double().numpy()
    scores = q @ k.T
    for scale, std, entropy, top in (
        (1.0, "std_raw", "entropy_raw", "max_weight_raw"),
        (32**-0.5, "std_scaled", "entropy_scaled", "max_weight_scaled"),
    ):
        s = scores * scale
        p = np.exp(s - s.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        assert getattr(result.chosen, std) == pytest.approx(s.std(ddof=1), rel=1e-4)
        assert getattr(result.chosen, entropy) == pytest.approx(-(p * np.log(p)).sum(1).mean(), rel=1e-3, abs=1e-5)
        assert getattr(result.chosen, top) == pytest.approx(p.max(1).mean(), rel=1e-4)
    assert result.curve[result.dims.index(32)] == result.chosen
    assert sum(result.example_scaled) == pytest.approx(1.0) and result.uniform_entropy == pytest.approx(math.log(32))


@pytest.mark.parametrize("build", [tiny_llama, tiny_gemma])
def test_on_a_model_the_scaled_softmax_is_the_models_own(build):
    lm = build(attn="eager")
    result = scaling.sqrt_dk(lm, SAMPLE_TEXT, 64, 0)
    ids = torch.tensor([lm.tokenizer(SAMPLE_TEXT)["input_ids"]])
    with torch.no_grad():
        attentions = lm.model(input_ids=ids, output_attentions=True).attentions
    for layer, spread in zip(attentions, result.layers):
        weights = layer[0][:, 1:]  # (heads, n - 1, n): rows with more than one visible key
        entropy = -(weights * weights.clamp_min(1e-30).log()).sum(-1).mean().item()
        assert spread.spread.entropy_scaled == pytest.approx(entropy, rel=1e-4, abs=1e-6)
        assert spread.spread.max_weight_scaled == pytest.approx(weights.max(-1).values.mean().item(), rel=1e-4)
        assert spread.spread.std_scaled == pytest.approx(spread.spread.std_raw * spread.scale, rel=1e-5)
    assert result.tokens and len(result.layers) == lm.model.config.num_hidden_layers


def test_d_and_seed_out_of_range_are_refused():
    with pytest.raises(ExplorerError, match=r"d = 4 is out of range; allowed: a whole number in \[8, 1024\]"):
        scaling.random_spread(4, 0)
    with pytest.raises(ExplorerError, match="seed"):
        scaling.random_spread(64, -1)
