"""The sweep of accuracy vs shots: it reports every shot count with progress, agrees with one query at a
time, sweeps a generation task without calibration, and explains bad input."""

from __future__ import annotations

import pytest

from explorer import datasets, icl
from explorer.checks import ExplorerError

from builders import tiny_llama


@pytest.fixture(scope="module")
def lm():
    return tiny_llama(context=4096, chat=True)


def test_sweep_reports_every_shot_count_with_progress(lm):
    seen = []
    task = datasets.load_task("sentiment")
    result = icl.sweep(lm, task, "2, 0, 1", repeats=2, max_items=6, progress=lambda f, m: seen.append(f))
    assert [p.shots for p in result.points] == [0, 1, 2]
    assert [p.repeats for p in result.points] == [1, 2, 2]
    for point in result.points:
        assert point.n_items == 6 and len(point.accuracies) == point.repeats
        assert 0 <= point.accuracy_mean <= 1 and point.accuracy_std >= 0
        assert point.calibrated_mean is not None
    assert result.majority_baseline == 0.5 and result.random_baseline == 0.5
    assert seen[-1] == pytest.approx(1.0) and seen == sorted(seen)


def test_sweep_accuracy_matches_one_query_at_a_time(lm):
    task = datasets.load_task("topic")
    result = icl.sweep(lm, task, "2", repeats=1, max_items=4, seed=3)
    evaluation, pool = icl.split_items(task, 4, 3)
    demos = icl.draw_demonstrations(pool, 2, 3 + 2)
    right = 0
    for item in evaluation:
        scores = icl.score_continuations(lm, icl.build_prompt(task, demos, item.text, lm.tokenizer))
        best = max(range(len(scores)), key=lambda i: scores[i].logprob)
        right += task.labels[best] == item.label
    assert result.points[0].accuracies == [right / 4]


def test_a_generation_task_sweeps_without_calibration(lm):
    sweep = icl.sweep(lm, datasets.load_task("antonyms"), "0, 1", repeats=1, max_items=3)
    assert sweep.points[0].calibrated_mean is None and sweep.random_baseline == 0.0


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda lm: icl.sweep(lm, datasets.load_task("sentiment"), "0,1,2,3,4,5,6,7,8"), "limit is 8"),
        (lambda lm: icl.sweep(lm, datasets.load_task("sentiment"), "0,8", repeats=11), "repeats"),
        (lambda lm: icl.sweep(lm, datasets.load_task("sentiment"), "0,8", max_items=75), "1 to 72"),
        (
            lambda lm: icl.sweep(lm, datasets.load_task("topic"), "1,2,3,4,5,6,7", repeats=10, max_items=40),
            "limit is 2,000",
        ),
        (lambda lm: icl.sweep(lm, datasets.load_task("topic"), ""), "shots_list is empty"),
    ],
)
def test_bad_input_is_explained(lm, call, message):
    with pytest.raises(ExplorerError, match=message):
        call(lm)
