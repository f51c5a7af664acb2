"""The Inside the Transformer tab: every handler draws its views and returns its API payload; bad input
becomes a gr.Error that names what is allowed; the endpoints are registered under their names."""

from __future__ import annotations

import gradio as gr
import plotly.graph_objects as go
import pytest

from explorer import models
from explorer.views import inside as view

from builders import tiny_gemma, tiny_gpt2_eager

TEXT = "The capital of France is Paris. The capital of Italy is Rome."
STEP_FIELDS = {
    "hidden",
    "q_before_rope",
    "k_before_rope",
    "q",
    "k",
    "v",
    "scores",
    "scaled",
    "mask",
    "weights",
    "output",
}


@pytest.fixture(autouse=True)
def tiny_registry(monkeypatch):
    """The handlers ask the registry for a model: give them a tiny eager Gemma 3 ('gpt2' a tiny GPT-2)."""
    gemma, gpt2 = tiny_gemma(window=8, attn="eager"), tiny_gpt2_eager()
    monkeypatch.setattr(models, "get", lambda name="", kind=None, **options: gpt2 if name == "gpt2" else gemma)


def test_attention_steps_draws_each_step_and_returns_every_intermediate():
    note, *plots, layer, head, data = view.attention_steps(TEXT, "", 1, 2)
    assert all(isinstance(p, go.Figure) for p in plots) and len(plots) == 4
    assert "sliding window" in note and "key/value head **0**" in note and "✓" in note
    assert set(data) >= STEP_FIELDS and {"shapes", "scale", "max_abs_diff_vs_model"} <= set(data)
    assert data["max_abs_diff_vs_model"] < 1e-4 and (layer.maximum, head.maximum) == (2, 3)
    titles = [a.text for a in plots[1].layout.annotations]
    assert any("RMSNorm(Q)" in t for t in titles) and any("RoPE(K)" in t for t in titles)


def test_the_other_handlers():
    spread, example, model_plot, data = view.sqrt_dk(128, 2, TEXT, "")
    assert data["random"]["d"] == 128 and len(data["layers"]) == 3 and isinstance(model_plot, go.Figure)
    assert all(isinstance(f, go.Figure) for f in view.redraw_random(512, 0))
    table, plot, data = view.score_variants()
    assert "additive" in table and len(data["variants"]) == 4 and len(plot.data) == 4
    note, sinusoids, rotary, data = view.positions("", 16, 8, 0)
    assert "rotary" in note and len(data["rotary"]) == 2 and len(rotary.data) == 2 * 4
    diagram, table, residual, data = view.block(TEXT, "")
    assert "GeGLU" in diagram and "✓" in table and data["total"] == data["num_parameters"]
    note, *_ = view.positions("gpt2", 16, 8, 0)
    assert "learned absolute" in note


@pytest.mark.parametrize(
    ("call", "says"),
    [
        (
            lambda: view.attention_steps(TEXT, "", 3, 0),
            r"layer = 3 is out of range; allowed: a whole number in \[0, 2\]",
        ),
        (lambda: view.attention_steps(TEXT, "", 0, 9), r"head = 9 is out of range"),
        (lambda: view.attention_steps("word " * 300, "", 0, 0), "the limit is 128"),
        (lambda: view.redraw_random(2000, 0), r"\[8, 1024\]"),
        (lambda: view.score_variants(W="1 2"), "W must be 3 × 3"),
        (lambda: view.block("", ""), "text is empty"),
    ],
)
def test_bad_input_becomes_a_gr_error_naming_what_is_allowed(call, says):
    with pytest.raises(gr.Error, match=says):
        call()


def test_the_endpoints_are_registered_with_their_parameters():
    with gr.Blocks() as demo:
        view.build()
    names = {fn.api_name: [c.label for c in fn.inputs] for fn in demo.fns.values() if fn.api_name}
    assert {"attention_steps", "sqrt_dk", "score_variants", "positions", "block"} <= set(names)
    assert len(names["attention_steps"]) == 4 and len(names["sqrt_dk"]) == 4 and len(names["score_variants"]) == 7
