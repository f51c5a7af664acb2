"""Short real training runs: the loss falls, runs repeat, the shared model stays untouched."""

from __future__ import annotations

import math

import pytest
import torch

from explorer import tuning
from explorer.checks import ExplorerError
from explorer.datasets import Example
from explorer.lm import encode_document, sentence_logprobs
from explorer.tuning import training

from builders import tiny_gemma, tiny_llama


@pytest.fixture(scope="module")
def tiny():
    return tiny_llama(context=512)  # the general passage is ~300 of its tokens


def tiny_data(train_items: int = 8) -> tuning.LabelledData:
    positive = ["great fun, I loved it", "lovely and kind staff", "the best day ever", "wonderful, works well"]
    negative = ["awful, it broke at once", "rude and slow service", "the worst day ever", "terrible, never again"]
    items = [Example(t, "positive") for t in positive] + [Example(t, "negative") for t in negative]
    return tuning.LabelledData(tuple(items[:train_items]), tuple(items), ("positive", "negative"))


def test_a_few_steps_lower_the_loss_and_leave_the_shared_model_alone(tiny):
    before = {k: v.clone() for k, v in tiny.model.state_dict().items()}
    result = tuning.train(tiny, ["full", "lora"], steps=8, learning_rate=1e-2, data=tiny_data())
    for run in result.runs:
        assert run.steps_done == 8 == len(run.step_seconds) and run.stopped is None
        assert run.losses[-1] < run.losses[0]
        assert run.ppl_before > 1 and run.ppl_after > 1 and run.peak_mem_mb > 0
    after = tiny.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_training_is_reproducible(tiny):
    first = tuning.train(tiny, ["adapter"], steps=3, seed=7, data=tiny_data(4))
    second = tuning.train(tiny, ["adapter"], steps=3, seed=7, data=tiny_data(4))
    assert first.runs[0].losses == second.runs[0].losses


def test_perplexity_before_training_is_the_language_model_s(tiny):
    """Read through the untrained classifier, the passage scores as the LM scores it (as a document)."""
    model = tuning.prepare(tiny, "head", tuning.TuningSettings()).model
    n_predicted = len(encode_document(tiny.tokenizer, training.GENERAL_TEXT)) - 1
    expected = math.exp(-sentence_logprobs(tiny, [training.GENERAL_TEXT])[0] / n_predicted)
    assert training.perplexity(model, tiny) == pytest.approx(expected, rel=1e-4)


def test_gemma3_trains_every_method_for_a_few_finite_steps():
    gemma = tiny_gemma(context=512)
    settings = tuning.TuningSettings(lora_r=4, adapter_size=8, prefix_tokens=5, prompt_tokens=6)
    result = tuning.train(gemma, list(tuning.METHODS), steps=2, learning_rate=1e-3, settings=settings, data=tiny_data())
    assert [r.method for r in result.runs] == list(tuning.METHODS)
    for run in result.runs:
        assert run.steps_done == 2 and run.stopped is None, run.method
        values = [*run.losses, run.ppl_before, run.ppl_after, run.peak_mem_mb, run.seconds_per_step]
        assert all(math.isfinite(v) and v > 0 for v in values), run.method
        assert 0 <= run.accuracy_before <= 1 and 0 <= run.accuracy <= 1


def test_nan_loss_stops_that_run_and_keeps_the_others():
    broken = tiny_llama(seed=1, context=512)
    broken.model.model.norm.weight.data[0] = float("nan")
    result = tuning.train(broken, ["head", "lora"], steps=3, data=tiny_data())
    assert [r.method for r in result.runs] == ["head", "lora"]
    for run in result.runs:
        assert run.steps_done == 0 and "nan" in run.stopped.lower()
        assert math.isnan(run.seconds_per_step) and math.isnan(run.peak_mem_mb)


def test_a_model_too_short_for_the_general_passage_is_refused_before_training():
    with pytest.raises(ExplorerError, match="context"):
        tuning.train(tiny_llama(context=64), ["head"], steps=1, data=tiny_data())


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(methods=["lora", "dora"]), "Unknown method"),
        (dict(methods=[]), "at least one"),
        (dict(methods="head, ,"), None),
        (dict(steps=0), "steps"),
        (dict(steps=tuning.MAX_STEPS + 1), str(tuning.MAX_STEPS)),
        (dict(learning_rate=0), "learning_rate"),
        (dict(learning_rate=-1e-3), "learning_rate"),
        (dict(seed=-1), "seed"),
        (dict(settings=tuning.TuningSettings(lora_r=0)), "lora_r"),
    ],
)
def test_bad_training_requests_are_explained(tiny, monkeypatch, kwargs, message):
    if message is None:  # a well-formed comma-separated list is accepted
        assert tuning.check_methods(kwargs["methods"]) == ["head"]
        return
    monkeypatch.setattr(training, "train_one", lambda *args: pytest.fail("checked only after training"))
    with pytest.raises(ExplorerError, match=message):
        tuning.train(tiny, **{"methods": ["head"], **kwargs})


def test_a_chinese_page_trains_on_chinese_reviews_and_measures_a_chinese_passage():
    from explorer import datasets, i18n

    with i18n.speaking("zh-CN"):
        data = tuning.sentiment_data(i18n.current())
    assert data.task == "sentiment_zh_train" and data.passage == datasets.general_passage("zh")
    assert any("\u4e00" <= ch <= "\u9fff" for ch in data.train[0].text)
    assert tuning.sentiment_data().passage == tuning.GENERAL_TEXT
