"""ICL tasks: edits of a built-in task and pasted tasks are parsed and checked, draws are reproducible."""

from __future__ import annotations

import pytest

from explorer import datasets, i18n, icl
from explorer.checks import ExplorerError


def test_the_same_seed_draws_the_same_demonstrations():
    items = datasets.load_task("topic").items
    assert icl.draw_demonstrations(items, 8, seed=7) == icl.draw_demonstrations(items, 8, seed=7)
    assert icl.draw_demonstrations(items, 8, seed=7) != icl.draw_demonstrations(items, 8, seed=8)


def test_custom_task_is_parsed():
    task = icl.custom_task("yes: Yes\nno: No", "Is fire hot? => yes\nIs ice hot? => no\n", "Q: {text}\nA: {label}")
    assert task.labels == ("yes", "no") and task.verbalizers == ("Yes", "No")
    assert task.items[1] == datasets.Example("Is ice hot?", "no")


def test_a_custom_task_without_a_template_uses_the_one_default():
    task = icl.resolve_task(icl.CUSTOM, "", "yes: Yes\nno: No", "", "Is fire hot? => yes")
    assert task.template == icl.CUSTOM_TEMPLATE and task.instruction == ""


def test_edits_replace_only_what_is_given():
    own = datasets.load_task("sentiment")
    assert icl.resolve_task("sentiment", None, None, None) == own
    edited = icl.resolve_task("sentiment", "{text} => {label}", "negative: bad\npositive: good", "Judge.")
    assert (edited.template, edited.instruction, edited.verbalizers) == ("{text} => {label}", "Judge.", ("good", "bad"))
    assert edited.items == own.items


def test_split_items_interleaves_labels_and_keeps_the_rest_as_the_pool():
    task = datasets.load_task("sentiment")
    evaluation, pool = icl.split_items(task, 6, seed=2)
    assert [item.label for item in evaluation].count("positive") == 3
    assert set(evaluation).isdisjoint(pool) and len(evaluation) + len(pool) == len(task.items)
    assert icl.split_items(task, 6, seed=2) == (evaluation, pool)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: icl.custom_task("yes: Yes", "x => yes"), "at least 2 labels"),
        (lambda: icl.custom_task("yes: Yes, no: Yes", "x => yes"), "must differ"),
        (lambda: icl.custom_task("a: A, b: B", "x -> a"), "text => label"),
        (lambda: icl.custom_task("a: A, b: B", "x => c"), "the labels are a, b"),
        (lambda: icl.resolve_task("sentiment", verbalizers="positive: , negative: bad"), "positive is empty"),
        (lambda: icl.resolve_task("sentiment", verbalizers="positive: good"), "missing: negative"),
        (lambda: icl.resolve_task("sentiment", template="{text} is"), "{label} exactly once"),
        (lambda: icl.resolve_task("sentiment", template="{label}: {text}"), "{text} must come before"),
        (lambda: icl.resolve_task("poetry"), "built-in tasks"),
    ],
)
def test_bad_task_input_is_explained(call, message):
    with pytest.raises(ExplorerError, match=message):
        call()


def test_a_task_pasted_with_full_width_punctuation_is_parsed():
    """A Chinese keyboard types ：，；＝＞ and full-width spaces; they separate like their ASCII twins,
    while the punctuation inside a demonstration's text stays as typed."""
    assert icl.parse_verbalizers("positive：好评，negative：差评") == [("positive", "好评"), ("negative", "差评")]
    assert icl.parse_verbalizers("yes：是；no：否") == [("yes", "是"), ("no", "否")]
    examples = "这家店，很好吃！\u3000＝＞\u3000yes\n太难吃了 => no\n服务热情 ＝> 是\n环境很差 =＞ 否"
    task = icl.custom_task("yes：是\nno：否", examples)
    assert task.labels == ("yes", "no") and task.verbalizers == ("是", "否")
    assert [(item.text, item.label) for item in task.items] == [
        ("这家店，很好吃！", "yes"),
        ("太难吃了", "no"),
        ("服务热情", "yes"),  # a label may be given by its word
        ("环境很差", "no"),
    ]


def test_a_chinese_task_takes_full_width_verbalizer_edits_and_says_what_is_wrong_in_chinese():
    task = icl.resolve_task("sentiment_zh", verbalizers="positive：推荐，negative：不推荐")
    assert task.verbalizers == ("推荐", "不推荐") and task.language == "zh"
    with i18n.speaking("zh-CN"), pytest.raises(ExplorerError, match="演示样例") as error:
        icl.custom_task("yes：是\nno：否", "没有箭头的一行")
    assert "text => label" not in str(error.value) and "文本 => 标签" in str(error.value)
