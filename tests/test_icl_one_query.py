"""ICL on one query: a generation task decodes greedily, bad input and long prompts are explained
(calibration: test_icl_calibration; the exact scores: test_icl_scoring)."""

from __future__ import annotations

import pytest

from explorer import datasets, icl
from explorer.checks import ExplorerError

from builders import tiny_llama


@pytest.fixture(scope="module")
def lm():
    return tiny_llama(context=4096, chat=True)


def test_generation_task_answers_by_greedy_decoding(lm):
    task = datasets.load_task("antonyms")
    result = icl.run_icl(lm, task, "hot", shots=2)
    assert result.labels == [] and isinstance(result.prediction, str)
    assert result.expected == "cold"
    prompt = icl.build_prompt(task, result.demonstrations, "hot", lm.tokenizer)
    assert result.prediction == icl.greedy_answer(lm, prompt)  # transformers' greedy decoding: test_icl_scoring


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda lm: icl.run_icl(lm, icl.custom_task("a: A, b: B", "x => a\ny => b"), "z", shots=5),
            "only 2 demonstrations",
        ),
        (lambda lm: icl.run_icl(lm, datasets.load_task("sentiment"), "   "), "query is empty"),
        (lambda lm: icl.run_icl(lm, datasets.load_task("sentiment"), "ok", shots=40), "shots = 40"),
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
