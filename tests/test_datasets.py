import re
from collections import Counter

import pytest

from explorer import datasets
from explorer.checks import ExplorerError

CHINESE_TASKS = ["sentiment_zh", "topic_zh", "sentiment_zh_train"]
HAN = re.compile(r"[\u4e00-\u9fff]")  # a CJK unified ideograph


def is_chinese_word(word: str) -> bool:
    return len(word) >= 2 and all(HAN.fullmatch(char) for char in word)


@pytest.mark.parametrize("name", [*datasets.TASK_NAMES, "sentiment_zh_train"])
def test_every_task_loads_with_enough_distinct_items(name):
    task = datasets.load_task(name)
    assert 60 <= len(task.items) <= 100
    assert len({item.text for item in task.items}) == len(task.items)
    assert all(item.text.strip() and item.label.strip() for item in task.items)
    assert "{text}" in task.template and "{label}" in task.template


@pytest.mark.parametrize("name", ["sentiment", "topic", *CHINESE_TASKS])
def test_classification_sets_are_balanced_over_their_labels(name):
    task = datasets.load_task(name)
    counts = Counter(item.label for item in task.items)
    assert set(counts) == set(task.labels)
    assert len(set(counts.values())) == 1
    assert len(task.verbalizers) == len(task.labels)


def test_sentiment_labels_are_positive_and_negative():
    task = datasets.load_task("sentiment")
    assert task.kind == "classification"
    assert set(task.labels) == {"positive", "negative"}
    assert task.label_index("negative") == task.labels.index("negative")


def test_generation_task_has_no_label_set():
    task = datasets.load_task("antonyms")
    assert task.kind == "generation" and task.labels == ()


def test_unknown_task_names_the_choices():
    with pytest.raises(ExplorerError, match="sentiment_zh"):
        datasets.load_task("poetry")


# ---------------------------------------------------------------- Chinese


@pytest.mark.parametrize("name", CHINESE_TASKS)
def test_chinese_tasks_are_chinese_with_english_label_ids(name):
    task = datasets.load_task(name)
    english = datasets.load_task(name.split("_")[0])
    assert task.language == "zh" and english.language == "en"
    assert task.labels == english.labels  # label ids stay English
    assert all(
        len(HAN.findall(text)) >= 8 and not re.search(r"[A-Za-z]", text) for text in (item.text for item in task.items)
    )
    assert all(is_chinese_word(word) for word in task.verbalizers)
    assert len(set(task.verbalizers)) == len(task.verbalizers)
    assert HAN.search(task.instruction) and task.template.count("：") == 2
    assert all(word in task.instruction for word in task.verbalizers)


def test_sentiment_zh_verbalizers_and_template():
    task = datasets.load_task("sentiment_zh")
    assert dict(zip(task.labels, task.verbalizers)) == {"positive": "好评", "negative": "差评"}
    assert task.template == "评论：{text}\n情感：{label}"
    assert dict(zip(datasets.load_task("topic_zh").labels, datasets.load_task("topic_zh").verbalizers)) == {
        "sports": "体育",
        "business": "财经",
        "science": "科技",
        "world": "国际",
    }


def test_the_chinese_training_set_is_its_own_and_not_a_prompting_task():
    train = datasets.training_task("zh-CN")
    assert train.name == "sentiment_zh_train" and train.name not in datasets.TASK_NAMES
    assert len(train.items) >= 40
    assert not {i.text for i in train.items} & {i.text for i in datasets.load_task("sentiment_zh").items}
    assert datasets.training_task("en") is datasets.load_task("sentiment")
    assert {"sentiment_zh", "topic_zh"} <= set(datasets.TASK_NAMES)


def test_general_passages():
    english, chinese = datasets.general_passage("en"), datasets.general_passage("zh-CN")
    assert english.startswith("The history of the printing press") and english.endswith("in letters.")
    assert 400 <= len(chinese) <= 600 and len(HAN.findall(chinese)) >= 300
    assert chinese == datasets.general_passage("zh") and "\n" not in chinese
    with pytest.raises(ExplorerError, match="en, zh"):
        datasets.general_passage("fr")


def test_chinese_cloze_sentences():
    rows = datasets.load_cloze("zh-CN")
    assert len(rows) >= 30 and len({row.text for row in rows}) == len(rows)
    for row in rows:
        assert row.text.count("[MASK]") == 1 and HAN.search(row.text), row.text
        assert row.answers and all(a and not re.search(r"\s", a) for a in row.answers), row
        before, after = row.text.split("[MASK]")
        where = "start" if not before else "end" if not after.strip("。！？") else "middle"
        assert row.position == where, row.text
    assert {row.position for row in rows} == {"start", "middle", "end"}
    assert all(count >= 5 for count in Counter(row.category for row in rows).values())
    assert len(datasets.load_cloze("en")) == 30
