"""The Tuning tab's handlers: the /tuning_table and /tuning_train contract, errors as gr.Error."""

from __future__ import annotations

import gradio as gr
import pytest

from explorer import tuning
from explorer.tuning import training
from explorer.views import tuning as view

from builders import tiny_llama


@pytest.fixture(scope="module")
def tiny():
    return tiny_llama(context=512)  # the general passage is ~300 of its tokens


def few_sentiments() -> tuning.LabelledData:
    full = tuning.sentiment_data()
    return tuning.LabelledData(full.train[:8], full.held_out[:4], full.labels)


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
    for method in tuning.METHODS.values():
        assert f"{method.name}: {method.summary}" in view.METHODS_LEGEND
