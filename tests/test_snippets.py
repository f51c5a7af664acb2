"""Every tab's "Show the code" snippet runs on its own (transformers / peft / torch, not this app) and
prints the numbers the tab's compute function returns, within 1e-4, on the bundled SmolLM2."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import pytest

from explorer import generation, icl, masked_lm, models, tokenisation, tuning
from explorer.attention import patterns
from explorer.generation.teacher_forcing import sequence_probs
from explorer.inside.block import block
from explorer.snippets import snippet

from builders import GEMMA, registered_tokenizer

TOLERANCE = 1e-4
OFFLINE = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def run(code: str) -> list[str]:
    """The snippet's printed lines, run in a fresh Python (it must not lean on this process)."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=OFFLINE, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.splitlines()


def numbers(line: str, count: int) -> list[float]:
    """The first `count` whitespace-separated fields of a printed row, as numbers (the text comes last)."""
    return [float(field) for field in line.split(maxsplit=count)[:count]]


def close(a: float, b: float) -> bool:
    """Within TOLERANCE, or a millionth of the value: a residual stream's norm (~5,800 in SmolLM2's layer 12)
    has a float32 step of ~5e-4, and the app's laid-out weights may move it by a step (weight_layout.py)."""
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=TOLERANCE)


@pytest.fixture(scope="module")
def eager(bundled):
    return models.get(bundled.name, attn="eager")


def test_generation_snippet_prints_next_token_candidates(bundled):
    controls = dict(temperature=0.7, top_k=20, top_p=0.9, repetition_penalty=1.3)
    settings = generation.SamplingSettings(True, **controls)
    expected = generation.next_token(bundled, "The capital of France is", settings)
    by_id = {c.token_id: c for c in expected.candidates}
    rows = run(snippet("generation", prompt="The capital of France is", model=bundled.name, **controls))[1:]
    assert len(rows) == 10
    for row in rows:
        token_id, raw, final = numbers(row, 3)
        candidate = by_id[int(token_id)]
        assert close(raw, candidate.raw_prob) and close(final, candidate.prob), (row, candidate)


def test_generation_snippet_with_the_chat_template(bundled):
    expected = generation.next_token(bundled, "Hi!", generation.SamplingSettings(True), use_chat_template=True)
    rows = run(snippet("generation", prompt="Hi!", model=bundled.name, use_chat_template=True))[1:]
    top = expected.candidates[0]
    token_id, raw, _ = numbers(rows[0], 3)
    assert int(token_id) == top.token_id and close(raw, top.raw_prob)


def test_sequence_snippet_prints_the_teacher_forcing_table(bundled):
    text = "The capital of France is Paris."
    expected = sequence_probs(bundled, text)
    lines = run(snippet("sequence", text=text, model=bundled.name))
    rows = lines[1 : 1 + len(expected.positions)]
    for row, position in zip(rows, expected.positions, strict=True):
        _, prob, logprob, rank = numbers(row, 4)
        assert close(prob, position.prob) and close(logprob, position.logprob) and rank == position.rank
    assert close(float(lines[-2].split("=")[1]), expected.total_logprob)
    assert close(float(lines[-1].split("=")[1]), expected.perplexity)


@pytest.mark.parametrize("head", [3, -1])
def test_attention_snippet_prints_the_weights(eager, head):
    text = "The quick brown fox jumps over the lazy dog."
    expected = patterns.attention(eager, text, layer=5, head=head)
    rows = run(snippet("attention", text=text, model=eager.name, layer=5, head=head))
    assert len(rows) == len(expected.matrix)
    for row, weights in zip(rows, expected.matrix):
        printed = numbers(row, len(weights))
        assert all(close(a, b) for a, b in zip(printed, weights)), row


def test_tokenisation_snippet_prints_the_ids(bundled):
    text = "Tokenisation, 分词 👩‍💻"
    expected = tokenisation.tokenize(bundled.tokenizer, text)
    lines = run(snippet("tokenisation", text=text, model=bundled.name))
    assert lines[0] == f"{len(text)} characters, {expected.n_tokens} tokens"
    assert [int(line.split()[0]) for line in lines[2:]] == expected.ids


def test_inside_snippet_prints_parameters_and_the_residual_stream(eager):
    text = "The quick brown fox"
    expected = block(eager, text)
    lines = dict(line.split(": ", 1) for line in run(snippet("inside", text=text, model=eager.name)))
    assert int(lines["parameters"]) == expected.num_parameters
    assert int(lines["embedding"]) == next(c.params for c in expected.components if c.name == "embedding")
    layer = next(c for c in expected.components if c.name == "layer 3")
    printed = dict(part.rsplit(" ", 1) for part in lines["layer 3"].split(", "))
    assert {group: int(count) for group, count in printed.items()} == layer.groups
    for index, mean in enumerate(expected.residual_mean):
        assert close(float(lines[f"residual {index}"]), mean), index


def test_icl_snippet_prints_the_label_probabilities(bundled):
    inputs = dict(task="sentiment", template="", verbalizers="", instruction="", custom_examples="")
    chosen = icl.resolve_task(**inputs)
    expected = icl.run_icl(bundled, chosen, "A warm, funny and moving film.", shots=2, seed=1, calibrated=False)
    assert snippet("icl", result=None, **inputs) == ""  # the prompt is the run's: nothing before it
    rows = run(snippet("icl", result={"model": expected.model, "prompt": expected.prompt, "labels": [1]}, **inputs))
    for row, label in zip(rows[1:], expected.labels, strict=True):
        logprob, prob = numbers(row, 2)
        assert close(logprob, label.logprob) and close(prob, label.prob) and row.split()[-1] == label.label


def test_masked_lm_snippet_rescores_the_candidates(bundled):
    text = "The capital of France is [MASK], a city on the Seine."
    assert snippet("masked_lm", text=text, model=bundled.name, method="causal-rescoring", result=None) == ""
    assert_rescoring_snippet_prints_the_tab_s_logprobs(bundled, text)


def test_masked_lm_snippet_sums_a_chinese_sentence_s_two_tokenisations():
    """On Gemma-3-270M, whose tokenizer cuts 中国的首都是 as 中国的|首|都是: the snippet's sum over the
    tokenizer's tokens and the word-by-word tokens is the tab's log-likelihood."""
    registered_tokenizer(GEMMA)  # a skip where Gemma-3-270M is not registered
    assert_rescoring_snippet_prints_the_tab_s_logprobs(models.get(GEMMA), "中国的首都是[MASK]。")


def assert_rescoring_snippet_prints_the_tab_s_logprobs(lm, text: str) -> None:
    expected = masked_lm.fill_mask(lm, lm, text, top_k=5)
    result = {
        "method": expected.method,
        "masks": [{"candidates": [vars(c) for c in m.candidates]} for m in expected.masks],
    }
    rows = run(snippet("masked_lm", text=text, model=lm.name, method="causal-rescoring", result=result))[1:]
    by_word = {c.token: c for c in expected.masks[0].candidates}
    assert len(rows) == len(by_word)
    for row in rows:
        logprob, _ = numbers(row, 2)
        word = eval(row.split(maxsplit=2)[2])  # noqa: S307 - the snippet prints the word's repr
        assert close(logprob, by_word[word].logprob), row


def test_tuning_snippet_prints_trainable_counts(bundled):
    settings = tuning.TuningSettings(lora_r=4, prefix_tokens=10, prompt_tokens=12, num_labels=3)
    expected = {row.method: row.trainable for row in tuning.table(bundled, settings).rows}
    code = snippet("tuning", model=bundled.name, lora_r=4, prefix_tokens=10, prompt_tokens=12, num_labels=3)
    printed = dict(line.split(": ") for line in run(code))
    assert len(printed) == 8
    for method, count in printed.items():
        assert int(count) == expected[method], method
