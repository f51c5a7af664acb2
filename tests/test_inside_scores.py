"""Score variants on the notes' toy example, against a plain-Python computation."""

from __future__ import annotations

import math

import pytest

from explorer.checks import ExplorerError
from explorer.inside import scores


def softmax(values: list[float]) -> list[float]:
    top = max(values)
    exps = [math.exp(v - top) for v in values]
    return [e / sum(exps) for e in exps]


def context(weights, h):
    return [sum(w * row[j] for w, row in zip(weights, h)) for j in range(len(h[0]))]


def test_every_variant_by_hand():
    s, h = [1.0, -2.0], [[0.5, 1.0], [2.0, 0.0], [-1.0, 1.0]]
    W, W1, W2, v = (
        [[1.0, 2.0], [0.0, -1.0]],
        [[1.0, 0.0], [0.5, 0.5], [0.0, 2.0]],
        [[1.0, 1.0], [0.0, 1.0], [-1.0, 0.0]],
        [1.0, -1.0, 0.5],
    )
    result = scores.score_variants(
        "1, -2", "0.5 1\n2 0\n-1 1", "1 2; 0 -1", "1 0\n.5 .5\n0 2", "1 1; 0 1; -1 0", "1, -1, 0.5", 3
    )
    expected = {
        "dot product": [sum(a * b for a, b in zip(s, hi)) for hi in h],
        "scaled dot product": [sum(a * b for a, b in zip(s, hi)) / math.sqrt(2) for hi in h],
        "multiplicative": [sum(s[i] * W[i][j] * hi[j] for i in range(2) for j in range(2)) for hi in h],
        "additive": [
            sum(
                v[a] * math.tanh(sum(W1[a][i] * s[i] for i in range(2)) + sum(W2[a][j] * hi[j] for j in range(2)))
                for a in range(3)
            )
            for hi in h
        ],
    }
    assert [variant.name for variant in result.variants] == list(expected)
    for variant in result.variants:
        assert variant.scores == pytest.approx(expected[variant.name])
        assert variant.weights == pytest.approx(softmax(expected[variant.name]))
        assert variant.context == pytest.approx(context(softmax(expected[variant.name]), h))
    assert result.seeded == [] and result.W == W and result.v == v


def test_blank_parameters_are_seeded_with_the_right_shapes():
    first, again, other = (scores.score_variants("1 0 2", "1 1\n0 1", seed=seed) for seed in (5, 5, 6))
    assert first.seeded == ["W", "W1", "W2", "v"]
    assert first.W == again.W and first.v == again.v and first.W != other.W
    assert (len(first.W), len(first.W[0])) == (3, 2)  # d_s × d_h
    assert (len(first.W1), len(first.W1[0]), len(first.W2[0]), len(first.v)) == (
        scores.ATTENTION_SIZE,
        3,
        2,
        scores.ATTENTION_SIZE,
    )
    dot = first.variants[0]
    assert dot.scores is None and "same size" in dot.note  # s has 3 entries, h 2
    assert first.variants[2].scores is not None and first.variants[3].scores is not None
    assert len(scores.score_variants(W1="1 0 0; 0 1 0").v) == 2  # d_a follows W₁


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        (dict(encoder_states="1 2\n3"), "same number of entries"),
        (dict(decoder_state="one, two"), "must be numbers"),
        (dict(decoder_state="1 2 3\n4 5 6"), "one vector"),
        (dict(W="1 2\n3 4"), "W must be 3 × 3 here, got 2 × 2"),
        (dict(decoder_state=""), "Type the decoder state"),
        (dict(encoder_states="1 2 3\n" * 13), "12 rows"),
        (dict(v="1 nan 2"), "finite"),
    ],
)
def test_bad_input_says_what_is_allowed(kwargs, says):
    with pytest.raises(ExplorerError, match=says):
        scores.score_variants(**kwargs)
