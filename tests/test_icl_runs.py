"""ICL runs: calibration removes a constructed bias, the sweep reports every shot count and agrees
with one query at a time, generation tasks decode greedily, bad input and long prompts are explained."""

from __future__ import annotations

import pytest
import torch

from explorer import datasets, icl, models
from explorer.checks import ExplorerError

from builders import tiny_llama


@pytest.fixture(scope="module")
def lm():
    return tiny_llama(context=4096, chat=True)


def biased_model(favoured: str, other: str, bias: float = 6.0) -> models.LoadedModel:
    """A tiny model whose output layer adds `bias` to the tokens of `favoured` that `other` lacks, whatever the input."""
    lm = tiny_llama(seed=1, context=4096, chat=True)
    lm.model.config.tie_word_embeddings = False
    head = torch.nn.Linear(32, lm.model.config.vocab_size, bias=True)
    with torch.no_grad():
        head.weight.copy_(lm.model.lm_head.weight)
        head.bias.zero_()
        tokens = set(lm.tokenizer(favoured)["input_ids"]) - set(lm.tokenizer(other)["input_ids"])
        head.bias[list(tokens)] = bias
    lm.model.lm_head = head
    return lm


def test_calibration_removes_a_constructed_label_bias():
    lm = biased_model(" positive", " negative")
    task = datasets.load_task("sentiment")
    results = [icl.run_icl(lm, task, item.text, shots=0) for item in task.items[:20]]
    assert {r.prediction for r in results} == {"positive"}  # the bias wins every time
    assert all(r.content_free_probs[0] > 0.9 for r in results)
    assert "negative" in {r.calibrated_prediction for r in results}  # calibration undoes it
    for r in results:
        assert sum(e.calibrated_prob for e in r.labels) == pytest.approx(1.0)


def test_calibrate_divides_by_the_content_free_distribution():
    assert icl.calibrate([0.7, 0.3], [0.9, 0.1]) == pytest.approx([0.7 / 0.9 / (0.7 / 0.9 + 3), 3 / (0.7 / 0.9 + 3)])


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


def test_generation_task_answers_by_greedy_decoding(lm):
    task = datasets.load_task("antonyms")
    result = icl.run_icl(lm, task, "hot", shots=2)
    assert result.labels == [] and isinstance(result.prediction, str)
    assert result.expected == "cold"
    prompt = icl.build_prompt(task, result.demonstrations, "hot", lm.tokenizer)
    assert result.prediction == icl.greedy_answer(lm, prompt)  # transformers' greedy decoding: test_icl_scoring
    sweep = icl.sweep(lm, task, "0, 1", repeats=1, max_items=3)
    assert sweep.points[0].calibrated_mean is None and sweep.random_baseline == 0.0


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda lm: icl.run_icl(lm, icl.custom_task("a: A, b: B", "x => a\ny => b"), "z", shots=5),
            "only 2 demonstrations",
        ),
        (lambda lm: icl.run_icl(lm, datasets.load_task("sentiment"), "   "), "query is empty"),
        (lambda lm: icl.run_icl(lm, datasets.load_task("sentiment"), "ok", shots=40), "shots = 40"),
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


def test_prompt_over_the_context_says_how_many_shots_fit(tiny):
    task = datasets.load_task("sentiment")
    shape = r"context of 128 tokens less \d+ for the answer\)\. Shorten it\. At most (\d+) shots fit"
    with pytest.raises(ExplorerError, match=shape) as error:
        icl.run_icl(tiny, task, "Fine.", shots=8)
    fitting = int(error.value.args[0].split("At most ")[1].split()[0])
    assert icl.run_icl(tiny, task, "Fine.", shots=fitting).shots == fitting
    with pytest.raises(ExplorerError, match="Shorten it"):
        icl.run_icl(tiny, task, "Fine.", shots=fitting + 1)
