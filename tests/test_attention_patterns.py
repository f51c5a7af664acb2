"""Reading a forward: one head's matrix or the mean, key/value groups, Gemma 3's sliding-window
layers (banded once the text is longer than the window), head patterns, and the comparison model."""

from __future__ import annotations

import pytest
import torch

from explorer import models
from explorer.attention import forward, patterns
from explorer.checks import ExplorerError

from builders import SAMPLE_TEXT, tiny_bert

GEMMA = "Gemma-3-270M"


def beyond_window(n: int, window: int) -> torch.Tensor:
    """(n, n) True where key j is at least `window` tokens before query i (j <= i - window)."""
    return torch.ones(n, n, dtype=torch.bool).tril(-window)


# ---------------------------------------------------------------- one matrix


def test_matrices_are_the_forwards_own_weights(llama):
    expected = forward.forward(llama, SAMPLE_TEXT).attentions  # the model's own (test_attention_forward)
    for layer in range(2):
        for head in range(4):
            result = patterns.attention(llama, SAMPLE_TEXT, layer, head)
            assert torch.allclose(torch.tensor(result.matrix), expected[layer, head], atol=1e-5)
    assert result.num_layers == 2 and result.num_heads == 4 and result.num_key_value_heads == 2
    assert (result.layer_type, result.sliding_window) == ("full_attention", None)


def test_head_minus_one_is_the_mean_and_rows_sum_to_one(llama):
    expected = forward.forward(llama, SAMPLE_TEXT).attentions
    mean = torch.tensor(patterns.attention(llama, SAMPLE_TEXT, 1, -1).matrix)
    assert torch.allclose(mean, expected[1].mean(0), atol=1e-6)
    for layer in range(2):
        for head in range(-1, 4):
            rows = torch.tensor(patterns.attention(llama, SAMPLE_TEXT, layer, head).matrix).sum(-1)
            assert torch.allclose(rows, torch.ones_like(rows), atol=1e-5)


def test_query_heads_name_the_key_value_head_they_share(llama, gemma):
    assert [patterns.attention(llama, SAMPLE_TEXT, 0, h).kv_group for h in range(-1, 4)] == [None, 0, 0, 1, 1]
    assert [patterns.attention(gemma, SAMPLE_TEXT, 0, h).kv_group for h in range(4)] == [0, 0, 0, 0]


@pytest.mark.parametrize(
    ("layer", "head", "says"),
    [
        (2, 0, r"layer = 2 is out of range; allowed: a whole number in \[0, 1\]"),
        (-1, 0, r"layer = -1 is out of range"),
        (0, 4, r"head = 4 is out of range; allowed: -1 \(the mean over the 4 heads\) or a whole number in \[0, 3\]"),
        (0, -2, r"head = -2"),
        (0.5, 0, r"layer must be a whole number"),
    ],
)
def test_layer_or_head_out_of_range_says_the_range(llama, layer, head, says):
    with pytest.raises(ExplorerError, match=says):
        patterns.attention(llama, SAMPLE_TEXT, layer, head)


# ---------------------------------------------------------------- sliding windows


def test_gemmas_sliding_layers_are_banded_and_its_global_layer_is_not(gemma):
    n = len(gemma.tokenizer(SAMPLE_TEXT)["input_ids"])
    assert n > 8  # longer than the window
    expected = forward.forward(gemma, SAMPLE_TEXT).attentions  # the model's own (test_attention_forward)
    far = beyond_window(n, 8)
    for layer in range(3):
        for head in range(4):
            result = patterns.attention(gemma, SAMPLE_TEXT, layer, head)
            matrix = torch.tensor(result.matrix)
            assert torch.allclose(matrix, expected[layer, head], atol=1e-5)
            if layer < 2:
                assert (result.layer_type, result.sliding_window) == ("sliding_attention", 8)
                assert torch.count_nonzero(matrix[far]) == 0  # nothing read beyond the window …
                assert torch.all(matrix.diagonal(offset=-7) > 0)  # … and the window's far edge is read
            else:
                assert (result.layer_type, result.sliding_window) == ("full_attention", None)
                assert torch.all(matrix[far] > 0)  # the global layer reads the whole past
    run = forward.forward(gemma, SAMPLE_TEXT)
    assert [patterns.is_banded(run, layer) for layer in range(3)] == [True, True, False]


def test_a_text_no_longer_than_the_window_is_not_banded(gemma):
    short = "The capital"
    run = forward.forward(gemma, short)
    assert run.num_tokens <= 8
    assert patterns.window(run, 0) == 8 and not patterns.is_banded(run, 0)
    past = torch.ones(run.num_tokens, run.num_tokens, dtype=torch.bool).tril()
    assert torch.all(run.attentions[0][:, past] > 0)  # every token up to itself is read, as in a global layer


def test_bundled_gemma_shows_its_own_weights_per_query_head():
    if GEMMA not in models.REGISTRY:
        pytest.skip(f"{GEMMA} is not registered on this branch (the model registry's change adds it)")
    loaded = models.get(GEMMA, attn="eager")
    text = "Attention is all you need. " * 3
    result = patterns.attention(loaded, text, 3, 2)
    own = loaded.model(input_ids=torch.tensor([loaded.tokenizer(text)["input_ids"]]), output_attentions=True)
    assert torch.allclose(torch.tensor(result.matrix), own.attentions[3][0, 2], atol=1e-5)
    assert (result.num_layers, result.num_heads, result.num_key_value_heads, result.kv_group) == (18, 4, 1, 0)
    assert (result.layer_type, result.sliding_window) == ("sliding_attention", 512)
    assert [i for i in range(18) if patterns.attention(loaded, text, i).layer_type == "full_attention"] == [5, 11, 17]


# ---------------------------------------------------------------- the bundled model


def test_bundled_matrix_equals_its_own_attention_and_reports_query_heads():
    bundled_eager = models.get(attn="eager")
    text = "Attention is all you need."
    result = patterns.attention(bundled_eager, text, 7, 4)
    own = bundled_eager.model(
        input_ids=torch.tensor([bundled_eager.tokenizer(text)["input_ids"]]), output_attentions=True
    )
    assert torch.allclose(torch.tensor(result.matrix), own.attentions[7][0, 4], atol=1e-5)
    assert (result.num_layers, result.num_heads, result.num_key_value_heads) == (30, 9, 3)
    assert result.kv_group == 1  # query heads 3, 4, 5 share key/value head 1
    rows = torch.tensor(result.matrix).sum(-1)
    assert torch.allclose(rows, torch.ones_like(rows), atol=1e-5)


# ---------------------------------------------------------------- head patterns and the whole view


def test_head_patterns_read_the_right_positions(llama):
    run = forward.forward(llama, SAMPLE_TEXT)
    found = patterns.head_patterns(run)
    a = run.attentions[1, 2]
    n = a.shape[0]
    assert found.first_token[1][2] == pytest.approx(float(a[1:, 0].mean()), abs=1e-6)
    assert found.previous_token[1][2] == pytest.approx(float(sum(a[i, i - 1] for i in range(1, n)) / (n - 1)), abs=1e-6)
    assert found.same_token[1][2] == pytest.approx(float(sum(a[i, i] for i in range(1, n)) / (n - 1)), abs=1e-6)


def test_show_gives_the_matrix_its_forward_and_the_other_kind_beside_it(gemma, llama, monkeypatch):
    bert = tiny_bert()  # 2 layers, beside Gemma's 3: the comparison's layer is capped at its last
    monkeypatch.setattr(models, "counterpart", lambda kind: "tiny-bert")
    monkeypatch.setattr(models, "get", lambda name, *a, **k: {"tiny-bert": bert}[name])
    view = patterns.show(gemma, SAMPLE_TEXT, 2, 3)
    assert (view.matrix.layer, view.matrix.head) == (2, 3) and view.run is forward.forward(gemma, SAMPLE_TEXT)
    assert view.other.model == "tiny-bert" and not view.other.causal and view.other_layer == 1
    monkeypatch.setattr(models, "counterpart", lambda kind: None)
    assert patterns.show(llama, SAMPLE_TEXT, 0, -1).other is None
