import math
import time

import pytest
import torch

from explorer import generation as g
from explorer.checks import ExplorerError

from builders import tiny_gemma

SAMPLED = g.SamplingSettings(do_sample=True, temperature=0.7, top_k=20, top_p=0.9, repetition_penalty=1.3)


def run(lm, prompt, settings=g.SamplingSettings(), max_new_tokens=32, seed=0, forced_ids=(), **options):
    request = g.GenerationRequest(prompt, settings, max_new_tokens, seed, forced_ids=tuple(forced_ids), **options)
    return g.generate(lm, request)


def reference_generate(lm, prompt, settings, n, seed=0):
    """transformers' own generate() on the same ids, with its processed scores and raw logits."""
    ids = {"input_ids": torch.tensor([g.encode_prompt(lm, prompt)[1]])}
    torch.manual_seed(seed)
    out = lm.model.generate(
        **ids,
        max_new_tokens=n,
        do_sample=settings.do_sample,
        temperature=settings.temperature,
        top_k=settings.top_k,
        top_p=settings.top_p,
        repetition_penalty=settings.repetition_penalty,
        output_scores=True,
        output_logits=True,
        return_dict_in_generate=True,
        pad_token_id=lm.tokenizer.eos_token_id,
    )
    return out.sequences[0, ids["input_ids"].shape[1] :].tolist(), out.scores, out.logits


@pytest.mark.parametrize("settings", [g.SamplingSettings(), SAMPLED], ids=["greedy", "sampled"])
def test_tokens_and_probabilities_equal_transformers_generate(tiny, settings):
    ids, scores, logits = reference_generate(tiny, "The capital of", settings, 8, seed=3)
    result = run(tiny, "The capital of", settings, max_new_tokens=8, seed=3)
    assert [s.token_id for s in result.steps] == ids
    for step, processed, raw in zip(result.steps, scores, logits):
        assert step.prob == pytest.approx(float(processed.softmax(-1)[0, step.token_id]), abs=1e-5)
        assert step.raw_prob == pytest.approx(float(raw.softmax(-1)[0, step.token_id]), abs=1e-5)


def test_greedy_equals_generate_on_bundled_model(bundled):
    ids, _, _ = reference_generate(bundled, "The capital of France is", g.SamplingSettings(), 12)
    result = run(bundled, "The capital of France is", max_new_tokens=12)
    assert [s.token_id for s in result.steps] == ids
    assert "Paris" in result.text


def test_seeded_sampling_equals_generate_on_bundled_model(bundled):
    ids, _, _ = reference_generate(bundled, "Once upon a time", SAMPLED, 16, seed=7)
    result = run(bundled, "Once upon a time", SAMPLED, max_new_tokens=16, seed=7)
    assert [s.token_id for s in result.steps] == ids


def test_same_seed_same_output_other_seed_other_output(tiny):
    settings = g.SamplingSettings(do_sample=True, temperature=1.5)
    first, again = (run(tiny, "Once upon", settings, 20, seed=1) for _ in range(2))
    other = run(tiny, "Once upon", settings, 20, seed=2)
    assert [s.token_id for s in first.steps] == [s.token_id for s in again.steps]
    assert [s.token_id for s in first.steps] != [s.token_id for s in other.steps]


def test_stages_show_each_control_and_top_is_ordered(tiny):
    result = run(tiny, "The capital of", SAMPLED, max_new_tokens=3)
    assert result.stages == ["raw", "repetition penalty", "temperature", "top-k", "top-p"]
    for step in result.steps:
        assert len(step.top) >= 10
        keys = [(c.prob, c.raw_prob) for c in step.top]
        assert keys == sorted(keys, reverse=True)
        for candidate in step.top:
            assert len(candidate.stage_probs) == 5
            assert candidate.stage_probs[0] == pytest.approx(candidate.raw_prob)
            assert candidate.stage_probs[-1] == pytest.approx(candidate.prob)
        assert sum(c.prob for c in step.top) <= 1 + 1e-5
        assert step.entropy <= step.entropy_raw + 1e-4  # every control here only sharpens


def test_top_k_one_leaves_one_token_and_ties_break_by_raw(tiny):
    result = run(tiny, "Once", g.SamplingSettings(do_sample=True, top_k=1), max_new_tokens=2)
    step = result.steps[0]
    assert step.prob == pytest.approx(1.0) and step.top[0].token_id == step.token_id
    rest = [c.raw_prob for c in step.top[1:]]
    assert all(c.prob == 0 for c in step.top[1:]) and rest == sorted(rest, reverse=True)


def test_greedy_ignores_sampling_controls(tiny):
    plain = run(tiny, "Once upon", g.SamplingSettings(), 6)
    with_controls = run(tiny, "Once upon", g.SamplingSettings(temperature=0.1, top_k=3, top_p=0.2), 6)
    assert [s.token_id for s in plain.steps] == [s.token_id for s in with_controls.steps]


def test_branch_keeps_prefix_forces_token_and_continues(tiny):
    original = run(tiny, "Once upon", max_new_tokens=6)
    alternative = original.steps[2].top[3]
    forced = [s.token_id for s in original.steps[:2]] + [alternative.token_id]
    branched = run(tiny, "Once upon", max_new_tokens=4, forced_ids=forced)
    assert [s.token_id for s in branched.steps[:3]] == forced
    assert [s.forced for s in branched.steps] == [True] * 3 + [False] * 4
    # The forced steps' distributions are the ones the original run saw at those positions.
    assert branched.steps[2].raw_prob == pytest.approx(alternative.raw_prob, abs=1e-5)
    assert branched.steps[0].top[0].raw_prob == pytest.approx(original.steps[0].top[0].raw_prob, abs=1e-5)


def test_stream_yields_a_growing_result(tiny):
    lengths = [len(r.steps) for r in g.stream_generation(tiny, g.GenerationRequest("Once", max_new_tokens=5))]
    assert lengths == [1, 2, 3, 4, 5]


def test_chat_template_reaches_eos_on_bundled_model(bundled):
    result = run(bundled, "Say hello.", max_new_tokens=60, use_chat_template=True)
    assert result.prompt.startswith("<|im_start|>")
    assert result.finish_reason == "eos" and result.steps[-1].token_id == bundled.tokenizer.eos_token_id
    assert result.text and "<|im_end|>" not in result.text


def test_next_token_matches_one_forward(tiny):
    settings = g.SamplingSettings(temperature=0.5, top_k=5)
    result = g.next_token(tiny, "The capital of", settings)
    ids = torch.tensor([g.encode_prompt(tiny, "The capital of")[1]])
    with torch.no_grad():
        raw = tiny.model(ids).logits[0, -1].softmax(-1)
    assert len(result.candidates) >= 20
    assert [c.token_id for c in result.candidates[:20]] == raw.topk(20).indices.tolist()
    assert result.candidates[0].raw_prob == pytest.approx(float(raw.max()), abs=1e-5)
    assert sum(c.prob for c in result.candidates) == pytest.approx(1.0, abs=1e-5)  # top-5 kept, all listed
    assert result.entropy_raw == pytest.approx(float(torch.special.entr(raw).sum()), abs=1e-4)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(prompt="   "), "prompt is empty"),
        (dict(max_new_tokens=0), "max_new_tokens"),
        (dict(max_new_tokens=1025), "max_new_tokens"),
        (dict(max_new_tokens=2.5), "whole number"),
        (dict(settings=g.SamplingSettings(do_sample=True, temperature=0)), "temperature"),
        (dict(settings=g.SamplingSettings(top_p=0)), "top_p"),
        (dict(settings=g.SamplingSettings(top_p=1.5)), "top_p"),
        (dict(settings=g.SamplingSettings(top_k=-1)), "top_k"),
        (dict(settings=g.SamplingSettings(repetition_penalty=0)), "repetition_penalty"),
        (dict(settings=g.SamplingSettings(temperature=math.nan)), "finite"),
        (dict(seed=-1), "seed"),
        (dict(prompt="word " * 200), "limit is 128"),
        (dict(prompt="x" * 200_000), "limit is 20,000"),
    ],
)
def test_bad_input_is_explained(tiny, kwargs, message):
    arguments = dict(prompt="Once upon", settings=g.SamplingSettings(), max_new_tokens=4, seed=0) | kwargs
    started = time.perf_counter()
    with pytest.raises(ExplorerError, match=message):
        run(tiny, **arguments)
    assert time.perf_counter() - started < 1.0


def test_chat_template_refused_without_one(tiny):
    with pytest.raises(ExplorerError, match="no chat template"):
        run(tiny, "hi", use_chat_template=True)


def test_a_gemma_style_model_decodes_like_generate_past_its_sliding_window():
    """Gemma 3's sliding-window layers (window 8 here) and single key/value head, over 20 tokens."""
    gemma = tiny_gemma()
    for settings in (g.SamplingSettings(), SAMPLED):
        ids, scores, _ = reference_generate(gemma, "The capital of France", settings, 14, seed=5)
        result = run(gemma, "The capital of France", settings, max_new_tokens=14, seed=5)
        assert [s.token_id for s in result.steps] == ids
        for step, processed in zip(result.steps, scores):
            assert step.prob == pytest.approx(float(processed.softmax(-1)[0, step.token_id]), abs=1e-5)


def test_segments_of_a_generation_are_whole_characters_that_make_its_text(bundled):
    """SmolLM2 writes Chinese in byte tokens: the segments join them into characters, never "�"."""
    result = run(bundled, "台湾大学是", max_new_tokens=12)
    assert "".join(s.text for s in result.segments) == result.text
    assert [s.start for s in result.segments] == [0] + [s.end for s in result.segments[:-1]]
    assert result.segments[-1].end == len(result.steps)
    closed = result.segments if result.text[-1:] != "\ufffd" else result.segments[:-1]
    assert all("\ufffd" not in s.text for s in closed)


def test_the_last_result_names_every_candidate_of_every_step(tiny):
    """Candidates' texts are decoded once, at the end of the stream, for every step together."""
    *_, last = g.stream_generation(tiny, g.GenerationRequest("Once upon", SAMPLED, max_new_tokens=5))
    for step in last.steps:
        ids = [c.token_id for c in step.top]
        assert [c.token for c in step.top] == tiny.tokenizer.batch_decode([[i] for i in ids])
        assert [c.piece for c in step.top] == tiny.tokenizer.convert_ids_to_tokens(ids)
        assert all(c.label for c in step.top)
