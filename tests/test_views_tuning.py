"""The Tuning tab's handlers: the /tuning_table and /tuning_train contract, errors as gr.Error."""

from __future__ import annotations

import re
from types import SimpleNamespace

import gradio as gr
import pytest

from explorer import i18n, tuning
from explorer.tuning import training
from explorer.views import tuning as view

from builders import tiny_llama

CHINESE_PAGE = SimpleNamespace(headers={"accept-language": "zh-CN,zh;q=0.9"})  # what a Chinese browser sends
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def tiny():
    return tiny_llama(context=512)  # the general passage is ~300 of its tokens


def few_sentiments(language: str = "en") -> tuning.LabelledData:
    full = tuning.sentiment_data(language)
    return tuning.LabelledData(full.train[:8], full.held_out[:4], full.labels, full.task, full.passage)


def test_views_serve_the_contract(tiny, monkeypatch):
    monkeypatch.setattr(view.models, "get", lambda *args, **kwargs: tiny)
    rows, _, _, table = view.tuning_table("", 4, 8, 5, 6, 2)
    assert set(table) >= {"model", "total_params", "rows"}
    assert set(table["rows"][0]) >= {"method", "family", "trainable", "percent", "checkpoint_mb"}
    assert len(rows) == len(tuning.METHODS) and all(len(row) == len(view.TABLE_COLUMNS) for row in rows)
    monkeypatch.setattr(training, "sentiment_data", few_sentiments)
    figure, rows, runs = view.tuning_train("", "head,lora", 2, 1e-2, 0)
    assert [r["method"] for r in runs["runs"]] == ["head", "lora"] and len(figure.data) == 2
    contract = "method trainable losses accuracy seconds_per_step peak_mem_mb ppl_before ppl_after"  # docs/API.md
    assert set(runs["runs"][0]) >= set(contract.split())
    assert [row[0] for row in rows] == [tuning.METHODS["head"].name, tuning.METHODS["lora"].name]
    with pytest.raises(gr.Error, match="Unknown method"):
        view.tuning_train("", ["sgd"])
    with pytest.raises(gr.Error, match="lora_r"):
        view.tuning_table("", 0)


def test_a_run_stopped_at_once_shows_and_serialises(tiny):
    run = training.Run(
        "head", 64, [], 0.5, float("nan"), float("nan"), 9.0, 9.0, 0.5, "Head", 0, "loss became nan", "", []
    )
    result = training.TrainingResult("tiny", [run], 3, 1e-3, 0, 8, 8, 4, "sentiment")
    assert view.payload(result)["runs"][0]["seconds_per_step"] is None  # plain JSON, no NaN
    assert view.rows_of(result.runs, view.RUN_COLUMNS)[0][3] == "—"


def test_the_legend_names_every_method_with_its_summary():
    legend, chinese = i18n.labels("en")["tuning_methods.explainer"], i18n.labels("zh-CN")["tuning_methods.explainer"]
    for method in tuning.METHODS.values():
        assert f"{method.name}: {method.summary}" in legend
        assert i18n.labels("zh-CN")[f"tuning.method.{method.id}"] in chinese
    for family, text in tuning.FAMILIES.items():
        assert text in legend and i18n.labels("zh-CN")[f"tuning.family.{family}"] in chinese


def test_the_english_labels_are_the_catalogue_s_names_and_the_explainers_state_the_constants():
    english = i18n.labels("en")
    assert all(english[f"tuning.method.{m.id}"] == m.name for m in tuning.METHODS.values())
    for language in ("en", "zh-CN"):
        pages = i18n.labels(language)
        assert (
            f"{tuning.BATCH_SIZE} " in pages["tuning_train.explainer"]
            and str(tuning.MAX_STEPS) in pages["tuning_train.explainer"]
        )
        assert (
            f"{tuning.BATCH_SIZE} " in pages["tuning.explainer"]
            and f"{tuning.MEMORY_SEQ_LEN} " in pages["tuning.explainer"]
        )


def test_a_chinese_page_gets_chinese_tables_figures_and_messages(tiny, monkeypatch):
    monkeypatch.setattr(view.models, "get", lambda *args, **kwargs: tiny)
    rows, trainable, tasks, table = view.tuning_table("", 4, 8, 5, 6, 2, request=CHINESE_PAGE)
    assert rows[0][:2] == ["全参数微调", "全参数微调"] and CJK.search(trainable.layout.title.text)
    assert (
        CJK.search(tasks.layout.xaxis.title.text) and table["rows"][0]["name"] == "Full fine-tuning"
    )  # the payload's id stays
    bitfit = next(row for row in rows if row[0] == "BitFit")
    assert CJK.search(bitfit[-1])  # the note: no bias terms, the norms are trained instead
    with pytest.raises(gr.Error, match="未知的方法"):
        view.tuning_train("", ["sgd"], request=CHINESE_PAGE)
    with pytest.raises(gr.Error, match="lora_r") as refused:
        view.tuning_table("", 0, request=CHINESE_PAGE)
    assert CJK.search(str(refused.value))


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_the_lecture_examples_fill_every_input_in_the_page_s_language(language):
    for name, example in view.EXAMPLES.items():
        assert f"tuning.example.{name}" in i18n.labels(language)
        with i18n.speaking(language):
            hint, *values = example()
        assert len(values) == 10 and (CJK.search(hint) is not None) == (language != "en")
    _, model, lora_r, *_, methods, steps, learning_rate, seed = view.forgetting_example()
    assert (model, lora_r, methods, steps, learning_rate) == (view.models.BUNDLED_NAME, 8, ["full", "lora"], 10, 1e-3)
    assert view.families_example()[2:7] == (8, 64, 20, 20, 2)


def test_build_registers_the_two_endpoints():
    with gr.Blocks() as demo:
        view.build()
    public = {f.api_name for f in demo.fns.values() if f.api_visibility == "public"}
    assert {"tuning_table", "tuning_train"} <= public
