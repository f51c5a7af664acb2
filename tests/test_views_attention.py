"""The Attention tab's handlers: every view drawn from one compute result, in the API's order (the
payload last), switching layer or head, the comparison model, and bad input as gr.Error."""

from __future__ import annotations

import gradio as gr
import pytest
import torch

from explorer import models
from explorer.attention import forward, patterns
from explorer.views import attention as view
from explorer.views import attention_figures as figures

from builders import tiny_bert, tiny_gemma

TEXT = "The capital of France is Paris. The capital of Italy is Rome."


@pytest.fixture(scope="module")
def bundled_eager() -> models.LoadedModel:
    return models.get(attn="eager")


def test_show_attention_draws_every_view_and_returns_the_api_payload(bundled_eager):
    outputs = view.show_attention("The cat sat on the mat.", "", 2, -1)
    assert isinstance(outputs, view.Shown) and len(outputs) == 15
    result = outputs[-1]
    assert set(result) >= {"model", "tokens", "layer", "head", "num_layers", "num_heads", "matrix"}
    assert (result["layer"], result["head"], result["num_heads"]) == (2, -1, 9)
    assert (result["layer_type"], result["sliding_window"]) == ("full_attention", None)
    assert torch.allclose(torch.tensor(outputs.heatmap.data[0].z), torch.tensor(result["matrix"]), atol=1e-6)
    assert outputs.mosaic.size == (
        figures.LEFT + 9 * (figures.TILE + figures.GAP),
        figures.TOP + 30 * (figures.TILE + figures.GAP),
    )
    assert "3 key/value heads" in outputs.heads_note
    assert outputs.compare_note == view.NO_MASKED or "Beside it" in outputs.compare_note
    switched = view.switch(outputs.state, 5, 8)
    assert (switched[-1]["layer"], switched[-1]["head"], switched[-1]["kv_group"]) == (5, 8, 2)
    assert view.switch(None, 1, 1) == (gr.skip(),) * 4


def test_the_comparison_is_drawn_from_the_compute_result(monkeypatch):
    gemma, bert = tiny_gemma(attn="eager", window=8), tiny_bert()
    monkeypatch.setattr(models, "counterpart", lambda kind: "tiny-bert")
    monkeypatch.setattr(models, "get", lambda name, *a, **k: {"tiny-bert": bert}[name])
    shown = patterns.show(gemma, TEXT, 2, -1)
    figure, note = view.comparison(shown)
    assert "tiny-bert" in note and "layer 1" in figure.layout.title.text and "bidirectional" in figure.layout.title.text
    full = forward.forward(bert, TEXT).attentions[1].mean(0)
    assert torch.allclose(torch.tensor(figure.data[0].z), full, atol=1e-6)
    drawn = view.draw(shown, TEXT, "tiny-gemma")
    assert drawn.compare_plot.visible and drawn.compare_note == note
    assert "Layer 2 is a global layer" in drawn.heads_note and "single key/value head" in drawn.heads_note
    monkeypatch.setattr(models, "counterpart", lambda kind: None)
    alone = view.draw(patterns.show(gemma, TEXT, 0, -1), TEXT, "tiny-gemma")
    assert alone.compare_note == view.NO_MASKED and not alone.compare_plot.visible


def test_handlers_turn_bad_input_into_gr_errors(bundled_eager):
    with pytest.raises(gr.Error, match="empty"):
        view.show_attention("")
    with pytest.raises(gr.Error, match=r"layer = 30 is out of range; allowed: a whole number in \[0, 29\]"):
        view.show_attention("Hello there", layer=30)
    with pytest.raises(gr.Error, match="Unknown model"):
        view.logit_lens("Hello", model="no-such-model")


def test_the_logit_lens_handler_returns_the_table_and_the_payload(bundled_eager):
    table, result = view.logit_lens("The quick brown fox", "", 3)
    assert table.count("<tr>") == 1 + 1 + 30
    assert len(result["layers"]) == 30 and len(result["layers"][-1]["top"][0]) == 3
