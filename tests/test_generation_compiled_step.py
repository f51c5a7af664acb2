import logging

import pytest
import torch

from explorer import generation as g
from explorer import weight_layout
from explorer.generation import compiled_step, scheduler
from explorer.generation.batch import PaddedBatch

from builders import tiny_gemma, tiny_llama

PROMPT = "The capital of"


def greedy(lm, prompt=PROMPT, n=12):
    result = g.generate(lm, g.GenerationRequest(prompt, max_new_tokens=n))
    return [s.token_id for s in result.steps], torch.tensor([s.raw_prob for s in result.steps])


@pytest.fixture
def compiling(monkeypatch):
    """Compiling on (the suite's default is off), a small static cache; the steps through it counted."""
    monkeypatch.setattr(compiled_step, "ENABLED", True)
    monkeypatch.setattr(compiled_step, "COLUMNS", 48)
    calls = []
    step = compiled_step.CompiledStep.step
    monkeypatch.setattr(
        compiled_step.CompiledStep, "step", lambda self, token: calls.append(token) or step(self, token)
    )
    return calls


@pytest.mark.parametrize("build", [tiny_llama, tiny_gemma])
@pytest.mark.parametrize("max_batch", [1, 32], ids=["alone", "scheduler"])
def test_compiled_steps_give_eager_tokens_and_probabilities(build, max_batch, compiling, monkeypatch):
    monkeypatch.setattr(scheduler, "MAX_BATCH", max_batch)
    lm = build()
    weight_layout.for_decoding(lm.model)  # as the app loads it (the siblings share one product)
    eager_ids, eager_probs = greedy(lm)
    assert compiled_step.ready(lm) is None and not compiling  # eager until the compiled forward is ready
    compiled_step.start(lm).join()
    ids, probs = greedy(lm)
    assert len(compiling) == len(ids) - 1  # every step after the prefill's pick
    assert ids == eager_ids
    assert torch.allclose(probs, eager_probs, atol=1e-5)


def test_a_row_leaves_the_static_cache_when_the_batch_grows_or_it_fills(compiling):
    lm = tiny_llama()
    eager_ids, eager_probs = greedy(lm, n=60)
    compiled_step.start(lm).join()
    ids, probs = greedy(lm, n=60)  # past the 48 columns: the last steps are eager
    assert 0 < len(compiling) < 60 - 1
    assert ids == eager_ids and torch.allclose(probs, eager_probs, atol=1e-5)

    prompt = g.encode_prompt(lm, PROMPT)[1]

    alone, _ = PaddedBatch.prefill(lm, [prompt])
    alone.step([prompt[-1]])  # through the static cache
    other, _ = PaddedBatch.prefill(lm, [prompt[:-1]])
    alone.join(other)  # the row's keys and values come back first
    reference, _ = PaddedBatch.prefill(lm, [prompt + [prompt[-1]], prompt[:-1]])
    assert torch.allclose(alone.step([1, prompt[-1]]), reference.step([1, prompt[-1]]), atol=1e-4)
    assert compiled_step.ready(lm).take(other, other.cache)  # and the static cache is free again


def test_each_model_steps_through_its_own_weights(compiling):
    """Two models of one architecture: the frozen graph of one must not serve the other."""
    first, second = tiny_llama(seed=1), tiny_llama(seed=2)
    expected = greedy(second)
    for lm in (first, second):
        compiled_step.start(lm).join()
    ids, probs = greedy(second)
    assert len(compiling) == len(ids) - 1
    assert ids == expected[0] and torch.allclose(probs, expected[1], atol=1e-5)


def test_compiling_waits_until_no_views_hooks_are_on_the_model(compiling):
    lm = tiny_llama()
    handle = lm.model.model.layers[0].register_forward_hook(lambda *_: None)  # as the Inside views do
    thread = compiled_step.start(lm)
    thread.join(timeout=1.5)
    assert thread.is_alive() and compiled_step.ready(lm) is None  # waiting: its graph would call the hook
    handle.remove()
    thread.join()
    assert compiled_step.ready(lm) is not None


def test_a_failed_compile_leaves_decoding_eager_with_one_log_line(compiling, monkeypatch, caplog):
    lm = tiny_llama()
    monkeypatch.setattr(compiled_step.CompiledStep, "compile", lambda self: 1 / 0)
    with caplog.at_level(logging.WARNING):
        compiled_step.start(lm).join()
    assert compiled_step.ready(lm) is None
    assert [r.levelname for r in caplog.records] == ["WARNING"] and "stays eager" in caplog.text
    assert greedy(lm)[0] and not compiling


def test_off_by_setting(monkeypatch):
    monkeypatch.setattr(compiled_step, "ENABLED", False)
    assert compiled_step.start(tiny_llama()) is None
