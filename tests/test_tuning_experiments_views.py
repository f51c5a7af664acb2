"""The experiments' endpoints: streamed (one chart per finished run), every parameter defaulted, the
payload's fields as docs/API.md lists them, errors as gr.Error, charts in the request's language."""

from __future__ import annotations

import inspect
import math
from types import SimpleNamespace

import gradio as gr
import pytest
from test_tuning_lm_head import bert_data

from explorer import tuning
from explorer.tuning import budget, few_shot, remedies
from explorer.views import experiments as view

from builders import tiny_bert_for_templates, tiny_llama


@pytest.fixture(scope="module")
def tiny():
    return tiny_llama(context=512)


@pytest.fixture(autouse=True)
def small(tiny, monkeypatch):
    """The tiny model and a handful of reviews, so each endpoint runs in seconds."""
    full = tuning.sentiment_data()
    data = tuning.LabelledData(full.train[:8], full.held_out[:4], full.labels)
    monkeypatch.setattr(view.models, "get", lambda *args, **kwargs: tiny)
    for module in (remedies, few_shot, budget):
        monkeypatch.setattr(module, "sentiment_data", lambda language="en": data)


def finite(value) -> bool:
    if isinstance(value, dict):
        return all(finite(v) for v in value.values())
    if isinstance(value, list):
        return all(finite(v) for v in value)
    return not isinstance(value, float) or math.isfinite(value)


@pytest.mark.parametrize("handler", [view.tuning_remedies, view.tuning_prompt_vs_head, view.tuning_rank_sweep])
def test_every_parameter_has_a_default_and_the_handler_streams(handler):
    parameters = inspect.signature(handler).parameters.values()
    assert all(p.default is not inspect.Parameter.empty for p in parameters)
    assert inspect.isgeneratorfunction(inspect.unwrap(handler))


def test_remedies_stream_a_chart_per_run_with_a_finite_payload():
    yielded = list(view.tuning_remedies("", steps=1, learning_rate=1e-3))
    assert len(yielded) == 4
    figure, data = yielded[-1]
    assert [run["method"] for run in data["runs"]] == ["full", "replay", "l2sp", "lora"] and finite(data)
    fields = "method trainable accuracy_before accuracy ppl_before ppl_after drift losses"
    assert set(data["runs"][0]) >= set(fields.split()) and len(data["runs"][0]["drift"]) == len(data["positions"])
    assert len(figure.data) == 2 * 2 + 1 + 4  # before/after bars in two panels, LoRA switched off, drift lines
    lora = data["runs"][-1]
    assert lora["ppl_update_removed"] == pytest.approx(lora["ppl_before"])  # isolation: the old model is back
    assert all(run["ppl_update_removed"] is None for run in data["runs"][:-1])


def test_prompt_vs_head_and_the_rank_sweep_serve_their_payloads():
    *_, (figure, data) = view.tuning_prompt_vs_head("", sizes="2, 4", repeats=1, steps=1)
    assert {p["method"] for p in data["points"]} == {"head", "prompt", "zero-shot"} and finite(data)
    assert len(figure.data) == 3
    *_, (accuracy, where, data) = view.tuning_rank_sweep("", ranks="1, 2", prompt_lengths="1", steps=1)
    assert [(p["method"], p["setting"]) for p in data["points"]] == [
        ("head", 0),
        ("lora", 1),
        ("lora", 2),
        ("prompt", 1),
    ]
    assert {"max_rank", "positions", "placements"} <= set(data) and finite(data)
    assert len(accuracy.data) == 3 and len(where.data) == 2


def test_charts_follow_the_request_s_language():
    chinese = SimpleNamespace(headers={"accept-language": "zh-CN,zh;q=0.9"})
    *_, (figure, _) = view.tuning_prompt_vs_head("", sizes="2", repeats=1, steps=1, request=chinese)
    assert "基于提示" in figure.layout.title.text
    with pytest.raises(gr.Error, match="超过了数据量"):
        list(view.tuning_prompt_vs_head("", sizes="64", request=chinese))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: view.tuning_remedies("", replay_ratio=2), r"replay_ratio.*\[0, 1\]"),
        (lambda: view.tuning_remedies("", l2sp_strength=-1), "l2sp_strength"),
        (lambda: view.tuning_prompt_vs_head("", sizes="64"), "larger than the data"),
        (lambda: view.tuning_rank_sweep("", ranks="1, 99"), "rank 99 is larger than the layer"),
    ],
)
def test_bad_input_is_a_message_for_people(call, message):
    with pytest.raises(gr.Error, match=message):
        list(call())


def test_build_adds_the_three_endpoints():
    with gr.Blocks() as demo:
        view.build()
    names = {fn.api_name for fn in demo.fns.values()}
    assert {"tuning_remedies", "tuning_prompt_vs_head", "tuning_rank_sweep"} <= names


def test_a_masked_lm_is_taken_by_name_and_tuned_through_its_mlm_head(monkeypatch):
    bert = tiny_bert_for_templates()

    def get(name, kind=None, **options):
        assert kind is None  # no causal-only gate: compute says what a model cannot take
        return bert

    monkeypatch.setattr(view.models, "get", get)
    monkeypatch.setattr(few_shot, "sentiment_data", lambda language="en": bert_data())
    *_, (figure, result) = view.tuning_prompt_vs_head("tiny-bert", sizes="2", repeats=1, steps=1)
    assert result["model"] == "tiny-bert" and result["template"].endswith("[MASK]") and finite(result)
