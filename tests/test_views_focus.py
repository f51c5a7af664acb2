"""One token, every view, in the tabs: /token_focus's outputs (the payload last), a clicked generated
token, a Masked LM blank and an ICL label word each focused on the position that predicted them, the
link to the Attention tab on the same text, readable tokens and the page's language."""

from __future__ import annotations

import html
import math
from types import SimpleNamespace

import gradio as gr
import pytest

from explorer import i18n, permalinks
from explorer.views import focus as view
from explorer.views import generation as generation_view
from explorer.views import icl as icl_view
from explorer.views import masked_lm as masked_view
from explorer.views.generation_figures import text_html

from builders import SAMPLE_TEXT, tiny_gemma


@pytest.fixture
def registry(llama, monkeypatch):
    """Every view's model look-up answers with the tiny model (eager: it returns attention weights)."""
    for module in (view, generation_view, icl_view, masked_view):
        monkeypatch.setattr(module.models, "get", lambda *args, **kwargs: llama)
    return llama


def test_token_focus_draws_the_trajectory_and_the_attention_row_then_the_payload(registry):
    shown = view.token_focus(SAMPLE_TEXT, "", 4, -1)
    assert isinstance(shown, view.Panel) and len(shown) == 4
    result = shown.result_json
    assert set(result) >= {"model", "text", "tokens", "token_ids", "position", "token_id", "trajectory", "attention"}
    assert (result["position"], result["token_id"]) == (4, result["token_ids"][5])
    layers, heads = registry.model.config.num_hidden_layers, registry.model.config.num_attention_heads
    assert [r["layer"] for r in result["trajectory"]] == list(range(-1, layers))
    probability, best, rank = shown.trajectory.data
    assert list(probability.y) == [r["prob"] for r in result["trajectory"]]
    assert list(rank.y) == [r["rank"] for r in result["trajectory"]]
    heatmaps = shown.attention.data
    assert len(heatmaps) == heads + 1 and [h.visible for h in heatmaps] == [True] + [False] * heads
    assert heatmaps[1].z.tolist() == [row[0] for row in result["attention"]]  # head 0: one row per layer
    link = permalinks.link("attention", text=SAMPLE_TEXT, model=registry.name)
    assert result["attention_link"] == link and f'href="{html.escape(link)}"' in shown.summary


def test_bad_input_is_a_message_naming_the_input(registry):
    with pytest.raises(gr.Error, match="position"):
        view.token_focus(SAMPLE_TEXT, "", 10_000, -1)


def test_a_clicked_generated_token_shows_its_step_and_its_focus(registry):
    *_, last = generation_view.generate("The capital of", "", 5)
    state = last[5]
    steps, prompt_ids = state.result.steps, state.result.prompt_token_ids
    assert 'data-step="0"' in text_html(state.result)
    slider, step_plot, alternative, *panel = generation_view.click_token(state, SimpleNamespace(_data={"step": 2}))
    assert slider.value == 2 and str(2) in step_plot.layout.title.text
    focused = panel[-1]
    assert (focused["position"], focused["token_id"]) == (len(prompt_ids) + 1, steps[2].token_id)
    if focused["token_ids"] == prompt_ids + [s.token_id for s in steps]:  # the text re-encodes to these ids
        assert math.isclose(focused["trajectory"][-1]["prob"], steps[2].raw_prob, abs_tol=1e-5)
    released = generation_view.show_step(state, 0)
    assert released[-1]["token_id"] == steps[0].token_id
    assert generation_view.click_token(state, SimpleNamespace(_data={})) == (gr.skip(),) * 7
    assert generation_view.click_token(None, SimpleNamespace(_data={"step": 0})) == (gr.skip(),) * 7


def test_a_blank_is_focused_where_the_left_to_right_model_reads_it(registry):
    *_, payload = masked_view.fill_mask("The capital of [MASK] is Paris.", "", 3)
    focused = masked_view.focus_blank(payload, 1).result_json
    assert focused["text"].endswith("The capital of")
    assert focused["position"] == len(focused["token_ids"]) - 1
    assert focused["token_id"] == focused["trajectory"][-1]["top"][0]["token_id"]  # the model's own guess
    assert masked_view.focus_blank(None, 1) == view.unchanged()
    with pytest.raises(gr.Error, match="blank"):
        masked_view.focus_blank(payload, 2)


def test_the_icl_label_word_is_the_first_token_of_the_predicted_label(registry):
    *_, payload = icl_view.icl("sentiment", 0, "A wonderful film.", "")
    predicted = next(label for label in payload["labels"] if label["label"] == payload["prediction"])
    focused = icl_view.focus_label(payload, False).result_json
    assert focused["token_id"] == predicted["token_ids"][0]
    assert focused["position"] == len(focused["token_ids"]) - 1
    assert payload["prompt"] in focused["text"]
    if len(predicted["token_ids"]) == 1:  # a one-token label: its log-prob is the last layer's
        assert math.isclose(math.log(focused["trajectory"][-1]["prob"]), predicted["logprob"], abs_tol=1e-4)


def test_byte_tokens_stay_readable_and_a_chinese_page_reads_chinese(monkeypatch):
    gemma = tiny_gemma(attn="eager", window=4)
    monkeypatch.setattr(view.models, "get", lambda *args, **kwargs: gemma)
    with i18n.speaking("zh-CN"):
        shown = view.token_focus.__wrapped__("北京是中国的首都 ☃", "", 3, -1)
    assert i18n.labels("zh-CN")["focus.layer"] in shown.trajectory.layout.xaxis2.title.text
    assert "位置" in shown.trajectory.layout.title.text and "位置" in shown.summary
    labels = list(shown.attention.data[0].x) + [p["label"] for r in shown.result_json["trajectory"] for p in r["top"]]
    assert not any("\ufffd" in label for label in labels + shown.result_json["tokens"])
