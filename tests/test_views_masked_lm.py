"""The Masked-LM tab's handlers offline: the registry picks the model, compute fills, the view draws."""

from __future__ import annotations

import gradio as gr
import pytest

from explorer import i18n
from explorer.views import masked_lm as view


def test_endpoints_offline(bundled):
    banner, contrast, figure, payload = view.fill_mask("The [MASK] barked at the [MASK] all night.", "", 5)
    assert payload["method"] == "causal-rescoring" and "causal-rescoring" in banner
    assert [m["index"] for m in payload["masks"]] == [0, 1]
    assert all(set(c) >= {"token", "prob"} and 0 <= c["prob"] <= 1 for m in payload["masks"] for c in m["candidates"])
    assert "[MASK]" not in payload["filled"] and "left context only" in contrast
    assert len([t for t in figure.data if t.type == "bar"]) == 2
    corrupted, demo = view.mask_demo("Jupiter is the largest planet in the solar system.", "", 7)
    assert set(demo) >= {"tokens", "corrupted", "positions", "actions"}
    assert "replaced by the mask token" in corrupted
    for bad in [("no blank here",), ("[MASK] is big", "bert-base-uncased", 10, "auto"), ("[MASK] is big", "", 0)]:
        with pytest.raises(gr.Error):
            view.fill_mask(*bad)


def test_the_tab_registers_its_endpoints():
    with gr.Blocks() as demo:
        view.build()
    assert {"fill_mask", "mask_demo"} <= {fn.api_name for fn in demo.fns.values()}


def test_a_chinese_page_draws_in_chinese(monkeypatch):
    from builders import tiny_gemma

    lm = tiny_gemma()
    monkeypatch.setattr(view.models, "get", lambda *args, **kwargs: lm)
    with i18n.speaking("zh-CN"):
        text, model, top_k, method = view.FILL_EXAMPLES["contrast"]()
        banner, contrast, figure, payload = view.fill_mask.__wrapped__(text, model, top_k, method)
        corrupted, demo = view.mask_demo.__wrapped__(*view.CORRUPTION_EXAMPLES["corrupt"]())
    assert text.startswith("[MASK]是") and "因果重打分" in banner and "只看左侧上下文" in contrast
    assert "空白 1" in figure.layout.annotations[0].text and "替换为掩码词元" in corrupted
    assert "\ufffd" not in contrast + corrupted
