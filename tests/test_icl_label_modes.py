"""What demonstrations teach: random labels really differ from the gold ones, permuted label words are a
consistent wrong mapping, other-task inputs come from another task, and the sweep shows its mode."""

from __future__ import annotations

import inspect

import pytest

from explorer import datasets, icl
from explorer.checks import ExplorerError
from explorer.icl import shot_sweep
from explorer.icl.label_modes import LABEL_MODES, relabel
from explorer.views import icl as view

from builders import tiny_llama

SENTIMENT, TOPIC, ANTONYMS = (datasets.load_task(name) for name in ("sentiment", "topic", "antonyms"))


def demos(task, k=16, seed=0):
    return icl.draw_demonstrations(task.items, k, seed)


def test_gold_keeps_the_demonstrations():
    assert relabel(SENTIMENT, demos(SENTIMENT), "gold", 0) == demos(SENTIMENT)


def test_random_labels_really_differ_from_the_gold_ones():
    agree = total = 0
    for seed in range(20):
        gold = demos(TOPIC, seed=seed)
        shown = relabel(TOPIC, gold, "random", seed)
        assert [d.text for d in shown] == [d.text for d in gold] and all(d.label in TOPIC.labels for d in shown)
        agree += sum(a.label == b.label for a, b in zip(shown, gold))
        total += len(gold)
        assert shown == relabel(TOPIC, gold, "random", seed)  # seeded
    assert 0.1 < agree / total < 0.4  # about 1 in 4 labels stays right by chance, not all of them
    assert relabel(TOPIC, demos(TOPIC), "random", 0) != relabel(TOPIC, demos(TOPIC), "random", 1)


@pytest.mark.parametrize("task", [SENTIMENT, TOPIC])
def test_shuffled_shows_every_label_as_the_next_label_s_word(task):
    gold = demos(task)
    shown = relabel(task, gold, "shuffled", 0)
    following = dict(zip(task.labels, task.labels[1:] + task.labels[:1]))
    assert [d.label for d in shown] == [following[d.label] for d in gold]
    assert all(a.label != b.label for a, b in zip(shown, gold)) and [d.text for d in shown] == [d.text for d in gold]


def test_other_task_inputs_come_from_another_task_with_this_task_s_labels():
    shown = relabel(SENTIMENT, demos(SENTIMENT, 8), "other-task", 0)
    topic_texts = {item.text for item in TOPIC.items}
    assert all(d.text in topic_texts and d.label in SENTIMENT.labels for d in shown)
    assert all(d.text in {i.text for i in SENTIMENT.items} for d in relabel(TOPIC, demos(TOPIC, 8), "other-task", 0))


def test_a_generation_task_s_answers_are_passed_round_or_drawn_from_other_items():
    gold = demos(ANTONYMS, 6)
    rotated = relabel(ANTONYMS, gold, "shuffled", 0)
    assert [d.label for d in rotated] == [d.label for d in gold[1:] + gold[:1]]
    answers = {item.label for item in ANTONYMS.items}
    assert all(d.label in answers for d in relabel(ANTONYMS, gold, "random", 0))


def test_the_sweep_scores_with_the_relabelled_demonstrations(monkeypatch):
    lm = tiny_llama(context=512)
    seen = []
    original = shot_sweep._evaluate_draw
    monkeypatch.setattr(
        shot_sweep, "_evaluate_draw", lambda lm, task, d, *rest: seen.append(d) or original(lm, task, d, *rest)
    )
    result = icl.sweep(lm, SENTIMENT, "4", repeats=2, max_items=4, seed=3, label_mode="shuffled")
    assert result.label_mode == "shuffled" and len(seen) == 2
    pool = icl.split_items(SENTIMENT, 4, 3)[1]
    for draw, shown in enumerate(seen):
        gold = icl.draw_demonstrations(pool, 4, 3 + 1000 * draw + 4)
        assert shown == relabel(SENTIMENT, gold, "shuffled", 3 + 1000 * draw + 4) != gold
    with pytest.raises(ExplorerError, match=r"label_mode = 'flipped' is not known; allowed: gold, random"):
        icl.sweep(lm, SENTIMENT, "4", label_mode="flipped")


def test_the_endpoint_takes_label_mode_last_and_the_plot_shows_it(monkeypatch):
    parameters = [p for p in inspect.signature(view.icl_sweep).parameters if p not in ("progress", "request")]
    assert (
        parameters[-1] == "label_mode" and inspect.signature(view.icl_sweep).parameters["label_mode"].default == "gold"
    )
    assert LABEL_MODES == ("gold", "random", "shuffled", "other-task")
    monkeypatch.setattr(view.models, "get", lambda *args, **kwargs: tiny_llama(context=512))
    figure, result = view.icl_sweep("sentiment", shots_list="1", repeats=1, max_items=4, label_mode="random")
    assert result["label_mode"] == "random" and "random labels" in figure.layout.title.text
