"""Poll questions built from the tabs' own compute: the options are the model's candidates and the
revealed numbers are the tab's own, on tiny models; the toy BPE's next merge; typed questions checked."""

from __future__ import annotations

import pytest

from explorer import datasets, generation, icl, tokenisation
from explorer.checks import ExplorerError
from explorer.poll import questions

from builders import tiny_llama


@pytest.fixture(scope="module")
def lm():
    return tiny_llama(context=4096)


def test_next_token_options_are_the_models_top_candidates(lm):
    question = questions.next_token(lm, "The capital of France is", n_options=5)
    peek = generation.next_token(lm, "The capital of France is", top_n=5)
    assert question.options == tuple(questions._visible(c.label) for c in peek.candidates[:5])
    assert question.probs == tuple(c.raw_prob for c in peek.candidates[:5])
    assert list(question.probs) == sorted(question.probs, reverse=True) and question.answer == 0
    assert "The capital of France is" in question.text and lm.name in question.text


def test_a_long_prompt_is_quoted_by_its_end(lm):
    prompt = "word " * 100 + "the end"
    question = questions.next_token(lm, prompt)
    assert "…" in question.text and "the end" in question.text and len(question.text) < 300


def test_icl_options_are_the_labels_with_the_models_probabilities(lm):
    task = datasets.load_task("sentiment")
    query = "A wonderful film."
    question = questions.icl_label(lm, task, query, shots=2, seed=3)
    result = icl.run_icl(lm, task, query, 2, 3, calibrated=False)
    assert question.options == tuple(s.label for s in result.labels)
    assert question.probs == pytest.approx([s.prob for s in result.labels])
    assert question.options[question.answer] == result.prediction
    assert sum(question.probs) == pytest.approx(1)


def test_icl_generation_task_cannot_be_polled(lm):
    with pytest.raises(ExplorerError, match="classification task"):
        questions.icl_label(lm, datasets.load_task("antonyms"), "cold", shots=1)


@pytest.mark.parametrize("step", [0, 1, 3])
def test_next_merge_answer_is_the_merge_bpe_learns_next(step):
    question = questions.next_merge(tokenisation.LECTURE_CORPUS, step)
    learnt = tokenisation.train_bpe(tokenisation.LECTURE_CORPUS, step + 1).merges[step].pair
    assert question.options[question.answer] == " + ".join(learnt)
    assert len(question.options) == questions.DEFAULT_OPTIONS and len(set(question.options)) == len(question.options)
    assert question.probs[question.answer] == max(question.probs) and sum(question.probs) == pytest.approx(1)


def test_next_merge_after_everything_is_merged_is_explained():
    with pytest.raises(ExplorerError, match="no pair is left"):
        questions.next_merge("ab×2 cd×3", 10, "")


def test_a_custom_question_keeps_its_text_and_picks_the_most_probable():
    question = questions.custom("<b>Which?</b>", "<script>alert(1)</script>\nB\n C ", "0.1, 0.7 0.2")
    assert question.text == "<b>Which?</b>"  # kept as typed: the views escape it
    assert question.options == ("<script>alert(1)</script>", "B", "C") and question.answer == 1
    assert questions.custom("Q", ["x", "y"]).answer is None


@pytest.mark.parametrize(
    "options, probabilities, message",
    [
        ("only one", "", "2 to 8"),
        ("\n".join("abcdefghi"), "", "2 to 8"),
        ("a\nb", "0.5", "one per option"),
        ("a\nb", "0.5, 2", "probabilities"),
        ("a\n" + "b" * 81, "", "each option"),
    ],
)
def test_a_bad_custom_question_is_refused(options, probabilities, message):
    with pytest.raises(ExplorerError, match=message):
        questions.custom("Q?", options, probabilities)
