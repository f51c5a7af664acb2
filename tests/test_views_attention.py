"""The Attention tab's handlers: every view drawn from one compute result, in the API's order (the
payload last), switching layer or head, the comparison model, bad input as gr.Error; readable tokens and
the page's language (简体中文) in every figure, note, message and lecture example."""

from __future__ import annotations

import ast
import html
import json
import re
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest
import torch

import explorer
from explorer import i18n, models
from explorer.attention import forward, patterns
from explorer.i18n import t
from explorer.views import attention as view
from explorer.views import attention_mosaic as mosaic

from builders import SAMPLE_TEXT, tiny_bert, tiny_gemma


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
        mosaic.LEFT + 9 * (mosaic.TILE + mosaic.GAP),
        mosaic.TOP + 30 * (mosaic.TILE + mosaic.GAP),
    )
    assert "3 key/value heads" in outputs.heads_note
    assert outputs.compare_note == t("attention.no_masked") or "Beside it" in outputs.compare_note
    switched = view.switch(outputs.state, 5, 8)
    assert (switched[-1]["layer"], switched[-1]["head"], switched[-1]["kv_group"]) == (5, 8, 2)
    assert view.switch(None, 1, 1) == (gr.skip(),) * 4


def test_the_comparison_is_drawn_from_the_compute_result(monkeypatch):
    gemma, bert = tiny_gemma(attn="eager", window=8), tiny_bert()
    monkeypatch.setattr(models, "counterpart", lambda kind: "tiny-bert")
    monkeypatch.setattr(models, "get", lambda name, *a, **k: {"tiny-bert": bert}[name])
    shown = patterns.show(gemma, SAMPLE_TEXT, 2, -1)
    figure, note = view.comparison(shown)
    assert "tiny-bert" in note and "layer 1" in figure.layout.title.text and "bidirectional" in figure.layout.title.text
    full = forward.forward(bert, SAMPLE_TEXT).attentions[1].mean(0)
    assert torch.allclose(torch.tensor(figure.data[0].z), full, atol=1e-6)
    drawn = view.draw(shown, SAMPLE_TEXT, "tiny-gemma")
    assert drawn.compare_plot.visible and drawn.compare_note == note
    assert "Layer 2 is a global layer" in drawn.heads_note and "single key/value head" in drawn.heads_note
    monkeypatch.setattr(models, "counterpart", lambda kind: None)
    alone = view.draw(patterns.show(gemma, SAMPLE_TEXT, 0, -1), SAMPLE_TEXT, "tiny-gemma")
    assert alone.compare_note == t("attention.no_masked") and not alone.compare_plot.visible


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


# ---------------------------------------------------------------- 简体中文 and readable tokens

CHINESE = "台湾大学是一所大学。"
ZH = SimpleNamespace(headers={"accept-language": "zh-CN,zh;q=0.9"})  # a Chinese browser's request
CJK = re.compile(r"[\u4e00-\u9fff]")


def message_templates(package: str) -> set[str]:
    """Every literal message template of a compute package: ExplorerError's and those written with
    i18n.message (or a module's own wrapper of it, `_said`)."""
    templates = set()
    for path in (Path(explorer.__file__).parent / package).glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name in ("ExplorerError", "message", "_said") and isinstance(node.args[0].value, str):
                    templates.add(node.args[0].value)
    return templates


def test_every_message_of_the_attention_package_is_translated():
    templates = message_templates("attention")
    assert (
        len(templates) >= 5
        and "The logit lens reads next-token predictions: pick a causal model, not {model}." in templates
    )
    assert not sorted(templates - set(i18n.messages("zh-CN")))


def test_chinese_on_byte_tokens_draws_no_replacement_character(bundled_eager):
    """SmolLM2 cuts 台 into 2 byte tokens and 湾 into 3: decoded one by one they are "�"; drawn, never."""
    run = forward.forward(bundled_eager, CHINESE)
    assert "�" in "".join(run.tokens)  # what the tab drew before readable tokens
    shown = view.show_attention(CHINESE, "", 0, -1)
    for figure in (shown.heatmap, shown.heads, shown.causal_plot):
        for trace in figure.data:
            assert "�" not in "".join(trace.x) + "".join(trace.y)
    assert list(shown.heatmap.data[0].x[:3]) == ["台 ·0", "· ·1", "湾 ·2"]
    bertviz = json.loads(re.search(r'"left_text": (\[.*?\])', html.unescape(shown.head_view)).group(1))
    assert bertviz[:3] == ["台", "·", "湾"] and "�" not in "".join(bertviz)  # BertViz's token list
    assert shown.result_json["segments"][:2] == [
        {"text": "台", "start": 0, "end": 2},
        {"text": "湾", "start": 2, "end": 5},
    ]
    table, lens = view.logit_lens(CHINESE, "", 5)
    assert "�" not in table and "台" in table  # cells: each guess on its own (a byte piece as ⟨e5 8f⟩)
    assert all("�" not in p["label"] for layer in lens["layers"] for cell in layer["top"] for p in cell)


def test_a_chinese_page_gets_chinese_figures_notes_and_messages(bundled_eager):
    shown = view.show_attention(CHINESE, bundled_eager.name, 2, 4, request=ZH)
    for text in (shown.heatmap.layout.title.text, shown.heads.layout.title.text, shown.patterns.layout.title.text):
        assert CJK.search(text)
    assert CJK.search(shown.heads_note) and CJK.search(shown.bertviz_info) and CJK.search(shown.compare_note)
    assert shown.heatmap.layout.xaxis.title.text == "键词元（被读取方）"
    table, _ = view.logit_lens(CHINESE, bundled_eager.name, 3, request=ZH)
    assert "第 29 层" in table and "词嵌入" in table
    with pytest.raises(gr.Error, match=r"layer = 30 超出范围"):
        view.show_attention(CHINESE, bundled_eager.name, layer=30, request=ZH)
    english = view.show_attention(CHINESE, bundled_eager.name, 2, 4)  # no Accept-Language (an API client): English
    assert not CJK.search(english.heatmap.layout.title.text.replace(CHINESE, ""))


def test_switching_to_a_layer_or_head_the_shown_model_lacks_waits_for_show(bundled_eager):
    state = {"text": CHINESE, "model": "", "num_layers": 30, "num_heads": 9}
    assert view.switch(state, 30, 0) == (gr.skip(),) * 4  # an example set the sliders for another model
    assert view.switch(state, 5, 9) == (gr.skip(),) * 4
    assert view.switch(state, 29, 8)[-1]["layer"] == 29


def test_a_chinese_page_starts_with_chinese_text_and_chinese_examples(monkeypatch):
    for language in i18n.languages():
        labels = i18n.labels(language)
        assert str(forward.MAX_TOKENS) in labels["attention.text_info"]
        assert all(labels[f"attention.example.{name}"] for name in view.EXAMPLES)
    assert i18n.labels("zh-CN")["attention.default_text"] == CHINESE
    gemma = tiny_gemma(attn="eager")
    monkeypatch.setattr(models, "get", lambda name="", *a, **k: gemma)
    monkeypatch.setattr(models, "default_model", lambda kind: models.GEMMA_NAME)
    with i18n.speaking("zh-CN"):
        text, model, layer, head = view.induction_example()
        assert CJK.search(text) and model == "" and (layer.value, head.value) == view.INDUCTION_HEADS[models.GEMMA_NAME]
        assert layer.maximum == gemma.model.config.num_hidden_layers - 1 and head.maximum == 3
        assert view.causal_example()[0] == "台湾大学" and view.gemma_example()[1] == models.GEMMA_NAME
    assert view.causal_example()[0] == "The cat sat on the mat"
