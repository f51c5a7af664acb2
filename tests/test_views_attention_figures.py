"""The Attention tab's pictures: heatmaps draw the computed weights, mosaic clicks map back to
their tile, the logit-lens table underlines hits by token id, and the notes explain key/value
sharing and sliding windows."""

from __future__ import annotations

import pytest
import torch

from explorer import models
from explorer.attention import forward, logit_lens, patterns
from explorer.attention.logit_lens import LensLayer, LensPrediction, LogitLens
from explorer.views import attention_figures as figures
from explorer.views.common import payload

from builders import tiny_gemma, tiny_llama

TEXT = "The capital of France is Paris. The capital of Italy is Rome."


@pytest.fixture(scope="module")
def llama() -> models.LoadedModel:
    return tiny_llama(attn="eager")


@pytest.fixture(scope="module")
def gemma() -> models.LoadedModel:
    return tiny_gemma(attn="eager", window=8)


def test_heatmaps_draw_the_computed_weights(gemma):
    run = forward.forward(gemma, TEXT)
    figure = figures.heatmap_figure(run, 1, 2)
    assert torch.allclose(torch.tensor(figure.data[0].z), run.attentions[1, 2], atol=1e-6)
    assert "layer 1, head 2 (key/value group 0)" in figure.layout.title.text
    assert "sliding window of 8: a band" in figure.layout.title.text
    assert "causal: lower-triangular" in figures.heatmap_figure(run, 2, -1).layout.title.text
    heads = figures.heads_figure(run, 0, 3)
    assert len(heads.data) == 4 and torch.allclose(torch.tensor(heads.data[3].z), run.attentions[0, 3])
    assert len(figures.patterns_figure(run).data) == 3


def test_axis_labels_are_unique_visible_and_escaped():
    assert figures.axis_labels(["a", "a", " ", "\n", "<b>", ""]) == [
        "a ·0",
        "a ·1",
        "␣ ·2",
        "↵ ·3",
        "&lt;b&gt; ·4",
        "∅ ·5",
    ]


def test_the_mosaic_has_a_tile_per_head_and_clicks_map_back_to_it(llama):
    run = forward.forward(llama, TEXT)
    image = figures.mosaic_image(run)
    assert image.size == (
        figures.LEFT + 4 * (figures.TILE + figures.GAP),
        figures.TOP + 2 * (figures.TILE + figures.GAP),
    )
    for layer, head in [(0, 0), (29, 8), (7, 3)]:
        y, x = figures.mosaic_origin(layer, head)
        assert figures.mosaic_cell(x + figures.TILE // 2, y + figures.TILE // 2, 30, 9) == (layer, head)
    assert figures.mosaic_cell(3, 50, 30, 9) is None  # the layer labels' margin


def test_logit_lens_table_and_payload(llama):
    lens = logit_lens.logit_lens(llama, TEXT, top_k=2)
    table, result = figures.lens_html(lens), payload(lens)
    assert table.count("<tr>") == 1 + 1 + 2  # header, embeddings, two layers
    assert [layer["layer"] for layer in result["layers"]] == [0, 1]
    assert all(len(cell) == 2 for cell in result["layers"][0]["top"])
    assert set(result["layers"][0]["top"][0][0]) >= {"token", "prob", "token_id"}
    assert result["token_ids"] == llama.tokenizer(TEXT)["input_ids"]


def test_the_table_underlines_a_hit_by_token_id_not_by_how_it_looks():
    # two different byte tokens (ids 163 and 157) both show as "�": only the right id is a hit
    right, lookalike = LensPrediction("�", 0.5, 163, "⟨a3⟩"), LensPrediction("�", 0.5, 157, "⟨9d⟩")
    lens = LogitLens(
        "m",
        ["<bos>", "�", "�"],
        [LensLayer(0, [[right], [lookalike], [right]])],
        [],
        [2, 244, 163],
        ["<bos>", "台", "·"],
    )
    lens.embeddings = [[lookalike], [right], [lookalike]]
    rows = figures.lens_html(lens).split("<tr>")[2:]  # the embeddings, then layer 0
    assert [row.count("text-decoration:underline") for row in rows] == [1, 0]


def test_notes_explain_one_key_value_head_and_sliding_windows(gemma, llama):
    run = forward.forward(gemma, TEXT)
    assert "4 query heads per layer but a single key/value head" in figures.gqa_note(run)
    assert "query heads\n0–1, 2–3 each share" in figures.gqa_note(forward.forward(llama, TEXT))
    assert figures.layer_note(forward.forward(llama, TEXT), 0) == ""
    banded = figures.layer_note(run, 1)
    assert "Layer 1 is a sliding-window layer (window 8)" in banded and "a band along the diagonal" in banded
    assert "2 read a sliding window of 8 tokens and 1 is global (layer 2)" in banded
    assert "Layer 2 is a global layer" in figures.layer_note(run, 2)
    short = forward.forward(gemma, "The capital")
    assert not patterns.is_banded(short, 0)
    assert f"this text of {short.num_tokens} tokens is shorter than the window, so it looks like a global layer" in (
        figures.layer_note(short, 0)
    )
