"""Prompt-based fine-tuning vs a new head: no parameter is added, the scores are the LM head's own,
the sizes are checked against the data, and every (method, size) is summarised over the seeds."""

from __future__ import annotations

import dataclasses
import math
import statistics

import pytest
import torch

from explorer import datasets, tuning
from explorer.checks import ExplorerError
from explorer.datasets import Example
from explorer.icl import build_prompt
from explorer.tuning import few_shot, training, verbalizer
from explorer.tuning.few_shot import PromptVsHeadConfig

from builders import tiny_gemma, tiny_llama

SENTIMENT = datasets.load_task("sentiment")


@pytest.fixture(scope="module")
def tiny():
    return tiny_llama(context=512)


def tiny_data() -> tuning.LabelledData:
    positive = ["great fun, I loved it", "lovely and kind staff", "the best day ever", "wonderful, works well"]
    negative = ["awful, it broke at once", "rude and slow service", "the worst day ever", "terrible, never again"]
    items = [Example(t, "positive") for t in positive] + [Example(t, "negative") for t in negative]
    return tuning.LabelledData(tuple(items), tuple(items[::2]), ("positive", "negative"))


def test_prompt_based_tuning_adds_no_parameters(tiny):
    prepared = verbalizer.prepare_prompt_based(tiny, SENTIMENT, seed=0)
    own = {p.data_ptr() for p in tiny.model.parameters()}
    assert all(p.data_ptr() in own for p in prepared.model.parameters())  # every weight is the LM's own
    assert prepared.trainable == sum(p.numel() for p in tiny.model.parameters())  # tied: the LM's count
    head = tuning.prepare(tiny, "full", tuning.TuningSettings())
    assert head.trainable == prepared.trainable + 2 * tiny.model.config.hidden_size  # the new head's weights


@pytest.mark.parametrize("build", [tiny_llama, tiny_gemma])
def test_the_scores_are_the_lm_head_s_logits_of_the_label_words(build):
    lm = build(context=512)
    ids = verbalizer.label_token_ids(lm, SENTIMENT)
    model = verbalizer.prepare_prompt_based(lm, SENTIMENT, seed=0).model
    text = build_prompt(SENTIMENT, [], "great fun").text
    input_ids, mask = training.encode(lm, [text])
    with torch.no_grad():
        expected = lm.model(input_ids=input_ids).logits[0, -1, ids]  # (k,)
        scores = model(input_ids=input_ids, attention_mask=mask).logits[0]
    torch.testing.assert_close(scores, expected, rtol=1e-4, atol=1e-4)
    for word, token in zip(SENTIMENT.verbalizers, ids):  # each is what follows the template's "Sentiment:"
        assert lm.tokenizer(text + " " + word, add_special_tokens=False)["input_ids"][len(input_ids[0])] == token


def test_label_words_with_the_same_first_token_are_refused(tiny):
    same = dataclasses.replace(SENTIMENT, verbalizers=("positive", "positives"))
    with pytest.raises(ExplorerError, match="start with the same token"):
        verbalizer.label_token_ids(tiny, same)


def test_the_experiment_summarises_every_method_and_size_over_the_seeds(tiny):
    config = PromptVsHeadConfig(sizes="4, 2", repeats=2, steps=2, learning_rate=1e-2, seed=5)
    partial = list(few_shot.iter_prompt_vs_head(tiny, config, data=tiny_data()))
    result = partial[-1]
    assert len(partial) == 2 * 2 * 2  # sizes x seeds x trained methods
    assert result.config["sizes"] == (2, 4) and result.held_out_items == 4 and result.train_items == 8
    assert {(p.method, p.size) for p in result.points} == {(m, n) for m in few_shot.METHODS for n in (2, 4)}
    for point in result.points:
        assert len(point.accuracies) == 2 and all(0 <= a <= 1 for a in point.accuracies)
        assert point.accuracy_mean == pytest.approx(statistics.fmean(point.accuracies))
        assert math.isfinite(point.accuracy_std)
    zero_shot = {p.accuracy_mean for p in result.points if p.method == "zero-shot"}
    assert len(zero_shot) == 1 and all(p.accuracy_std == 0 for p in result.points if p.method == "zero-shot")
    assert result.template == build_prompt(SENTIMENT, [], "{text}").text
    assert result.label_words == list(SENTIMENT.verbalizers)


def test_a_run_is_reproducible(tiny):
    config = PromptVsHeadConfig(sizes=(2,), repeats=1, steps=2, learning_rate=1e-2)
    first = few_shot.prompt_vs_head(tiny, config, data=tiny_data())
    second = few_shot.prompt_vs_head(tiny, config, data=tiny_data())
    assert [p.accuracies for p in first.points] == [p.accuracies for p in second.points]


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(sizes="4, 9"), r"size of 9 is larger than the data.*1 to 8"),
        (dict(sizes=""), "sizes is empty"),
        (dict(sizes="0"), "sizes"),
        (dict(sizes="1,2,3,4,5,6,7"), "limit is 6"),
        (dict(sizes="2", repeats=0), "repeats"),
        (dict(sizes="2", learning_rate=-1), "learning_rate"),
    ],
)
def test_bad_settings_are_refused_with_what_is_allowed(tiny, change, message):
    with pytest.raises(ExplorerError, match=message):
        few_shot.prompt_vs_head(tiny, PromptVsHeadConfig(**change), data=tiny_data())
