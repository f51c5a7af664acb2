from collections import Counter

import pytest

from explorer import datasets
from explorer.checks import ExplorerError


@pytest.mark.parametrize("name", datasets.TASK_NAMES)
def test_every_task_loads_with_enough_distinct_items(name):
    task = datasets.load_task(name)
    assert 60 <= len(task.items) <= 100
    assert len({item.text for item in task.items}) == len(task.items)
    assert all(item.text.strip() and item.label.strip() for item in task.items)
    assert "{text}" in task.template and "{label}" in task.template


@pytest.mark.parametrize("name", ["sentiment", "topic"])
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
    with pytest.raises(ExplorerError, match="sentiment"):
        datasets.load_task("poetry")
