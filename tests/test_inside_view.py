"""The Inside the Transformer tab: every handler draws its views and returns its API payload; bad input
becomes a gr.Error that names what is allowed; the endpoints are registered under their names; tokens are
drawn readable and a Chinese page gets Chinese figures, notes, messages and lecture examples."""

from __future__ import annotations

import re
from types import SimpleNamespace

import gradio as gr
import plotly.graph_objects as go
import pytest
from test_views_attention import message_templates

from explorer import i18n, models
from explorer.inside import anatomy, flow, positions, scores
from explorer.inside.trace import MAX_TOKENS
from explorer.views import inside as view

from builders import SAMPLE_TEXT, tiny_gemma, tiny_gpt2_eager

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
    note, *plots, layer, head, data = view.attention_steps(SAMPLE_TEXT, "", 1, 2)
    assert all(isinstance(p, go.Figure) for p in plots) and len(plots) == 4
    assert "sliding window" in note and "key/value head **0**" in note and "✓" in note
    assert set(data) >= STEP_FIELDS and {"shapes", "scale", "max_abs_diff_vs_model"} <= set(data)
    assert data["max_abs_diff_vs_model"] < 1e-4 and (layer.maximum, head.maximum) == (2, 3)
    titles = [a.text for a in plots[1].layout.annotations]
    assert any("RMSNorm(Q)" in t for t in titles) and any("RoPE(K)" in t for t in titles)


def test_the_other_handlers():
    spread, example, model_plot, data = view.sqrt_dk(128, 2, SAMPLE_TEXT, "")
    assert data["random"]["d"] == 128 and len(data["layers"]) == 3 and isinstance(model_plot, go.Figure)
    assert all(isinstance(f, go.Figure) for f in view.redraw_random(512, 0))
    table, plot, data = view.score_variants()
    assert "additive" in table and len(data["variants"]) == 4 and len(plot.data) == 4
    note, sinusoids, rotary, data = view.positions("", 16, 8, 0)
    assert "rotary" in note and len(data["rotary"]) == 2 and len(rotary.data) == 2 * 4
    diagram, table, residual, data = view.block(SAMPLE_TEXT, "")
    assert "GeGLU" in diagram and "✓" in table and data["total"] == data["num_parameters"]
    note, *_ = view.positions("gpt2", 16, 8, 0)
    assert "learned absolute" in note


@pytest.mark.parametrize(
    ("call", "says"),
    [
        (
            lambda: view.attention_steps(SAMPLE_TEXT, "", 3, 0),
            r"layer = 3 is out of range; allowed: a whole number in \[0, 2\]",
        ),
        (lambda: view.attention_steps(SAMPLE_TEXT, "", 0, 9), r"head = 9 is out of range"),
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


# ---------------------------------------------------------------- 简体中文 and readable tokens

ZH = SimpleNamespace(headers={"accept-language": "zh-CN,zh;q=0.9"})  # a Chinese browser's request
CJK = re.compile(r"[\u4e00-\u9fff]")
DYNAMIC_MESSAGES = [  # messages chosen at run time rather than written at the call
    *flow.NORM_PLACEMENT.values(),
    *(step[2] for steps in flow.FLOWS.values() for step in steps if len(step) == 3),
    *positions.SCHEMES,
    positions.ALL_LAYERS,
    anatomy.SUPPORTED,
]


def test_every_message_of_the_inside_package_is_translated():
    templates = message_templates("inside") | set(DYNAMIC_MESSAGES)
    assert len(templates) >= 60 and "⊕ residual" in templates
    assert not sorted(templates - set(i18n.messages("zh-CN")))


def test_chinese_on_byte_tokens_draws_no_replacement_character():
    """The tiny Gemma's tokenizer spells 猫 and 坐 as byte-fallback tokens <0xE7>…: each decodes to "�"."""
    note, *plots, _, _, data = view.attention_steps("猫坐在垫子上", "", 1, 0)
    assert "�" in "".join(data["tokens"]) and data["labels"][:5] == ["<bos>", "猫", "·", "·", "坐"]
    residual = view.block("猫坐在垫子上", "")[2]
    for figure in (*plots, residual):
        for trace in figure.data:
            labels = [*(trace.x if figure is residual else []), *(trace.y or [])]
            assert labels and not any("�" in str(label) for label in labels)


def test_a_chinese_page_gets_chinese_figures_notes_tables_and_messages():
    note, *plots, _, _, _ = view.attention_steps(SAMPLE_TEXT, "", 1, 2, request=ZH)
    assert "滑动窗口" in note and "键/值头 **0**" in note
    assert all(CJK.search(p.layout.title.text) for p in plots)
    spread, example, model_plot, _ = view.sqrt_dk(128, 2, SAMPLE_TEXT, "", request=ZH)
    assert all(CJK.search(f.layout.title.text) for f in (spread, example, model_plot))
    table, plot, _ = view.score_variants(request=ZH)
    assert "加性" in table and "上下文向量" in table and CJK.search(plot.layout.title.text)
    note, sinusoids, rotary, _ = view.positions("", 16, 8, 0, request=ZH)
    assert "旋转位置编码" in note and CJK.search(rotary.layout.title.text)
    diagram, table, residual, data = view.block(SAMPLE_TEXT, "", request=ZH)
    assert "分组查询注意力" in diagram and "总和" in table and CJK.search(residual.layout.title.text)
    assert data["differences"][0]["aspect"] == "norm placement"  # names stay English in the payload
    with pytest.raises(gr.Error, match="必须是偶数"):
        view.positions("", 16, 7, 0, request=ZH)
    with pytest.raises(gr.Error, match="W 在这里必须是 3 × 3"):
        view.score_variants(W="1 2", request=ZH)


def test_a_chinese_page_starts_with_chinese_text_and_chinese_examples():
    for language in i18n.languages():
        labels = i18n.labels(language)
        assert str(MAX_TOKENS) in labels["inside.text_info"]
        assert all(labels[f"inside.example.{name}"] for name in view.EXAMPLES)
    assert CJK.search(i18n.labels("zh-CN")["inside.default_text"])
    for example in view.EXAMPLES.values():
        assert len(example()) == len(view.EXAMPLE_INPUTS)
    filled = dict(zip(view.EXAMPLE_INPUTS, view.gemma_steps_example()))
    assert (
        filled["text"] == "台湾大学是一所大学。" and filled["model"] == models.GEMMA_NAME and filled["d"] == gr.skip()
    )
    assert dict(zip(view.EXAMPLE_INPUTS, view.sqrt_1024_example()))["d"] == 1024
    assert dict(zip(view.EXAMPLE_INPUTS, view.scores_example()))["s"] == scores.DEFAULT_S
