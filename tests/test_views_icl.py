"""The In-context learning tab's handlers: figures and the API payloads; the task defaults it shows
are the ones compute uses."""

from __future__ import annotations

import pytest

from explorer import datasets, i18n, icl
from explorer.views import icl as view

from builders import tiny_llama


@pytest.fixture(scope="module")
def lm():
    return tiny_llama(context=4096, chat=True)


def test_view_handlers_return_figures_and_the_api_payload(lm, monkeypatch):
    monkeypatch.setattr(view.models, "get", lambda *args, **kwargs: lm)
    figure, summary, prompt, result = view.icl("topic", 2, "Shares fell.", verbalizers="")
    assert [e["label"] for e in result["labels"]] == ["sports", "business", "science", "world"]
    assert set(result) >= {"model", "task", "shots", "prompt", "prompt_tokens", "labels", "prediction"}
    assert prompt == result["prompt"] and f"{result['n_prompt_tokens']:,} tokens" in summary
    assert len(figure.data) == 3  # raw, content-free bias, calibrated
    figure, result = view.icl_sweep("sentiment", shots_list="0, 1", repeats=1, max_items=4)
    assert [p["shots"] for p in result["points"]] == [0, 1]
    assert {"accuracy_mean", "accuracy_std", "n_items", "repeats"} <= set(result["points"][0])
    with pytest.raises(view.gr.Error, match="query is empty"):
        view.icl("sentiment", 1, "")


@pytest.mark.parametrize("task", [*datasets.TASK_NAMES, icl.CUSTOM])
def test_view_task_defaults_make_a_valid_task(task):
    template, verbalizers, instruction, query = view.task_defaults(task)
    chosen = icl.resolve_task(task, template, verbalizers, instruction, view.CUSTOM_EXAMPLES)
    assert chosen.template == template and query.strip()


def test_the_custom_template_shown_is_the_one_compute_uses_when_none_is_given():
    shown = view.task_defaults(icl.CUSTOM)[0]
    blank = icl.resolve_task(icl.CUSTOM, "", view.CUSTOM_VERBALIZERS, "", view.CUSTOM_EXAMPLES)
    assert shown == blank.template == icl.CUSTOM_TEMPLATE


def test_a_chinese_page_gets_chinese_tasks_examples_and_figures(lm, monkeypatch):
    monkeypatch.setattr(view.models, "get", lambda *args, **kwargs: lm)
    with i18n.speaking("zh-CN"):
        assert view.page_task.__wrapped__() == "sentiment_zh"
        task, shots, query, *_ = view.EXAMPLES["few_shot"]()
        assert (task, shots) == ("sentiment_zh", 4) and query == view.DEFAULT_QUERIES["sentiment_zh"]
        template, verbalizers, instruction, custom_query = view.task_defaults(icl.CUSTOM)
        custom = icl.resolve_task(icl.CUSTOM, template, verbalizers, instruction, i18n.t("icl.custom_examples"))
        assert custom.verbalizers == ("是", "否") and len(custom.items) == 6
        figure, summary, prompt, result = view.icl.__wrapped__(task, shots, query)
        assert "评论：" in prompt and "词元" in summary and "预测" in figure.layout.title.text
    assert view.EXAMPLES["few_shot"]()[0] == "sentiment"  # an English page: the English task
