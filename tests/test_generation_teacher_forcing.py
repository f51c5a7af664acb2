"""Teacher forcing: each position's probability of the true next token, the sum and the perplexity."""

from __future__ import annotations

import math

import pytest
import torch

from explorer import lm as lm_ops
from explorer.checks import ExplorerError
from explorer.generation.teacher_forcing import sequence_probs

from builders import tiny_gemma, tiny_llama


@pytest.mark.parametrize("build", [tiny_llama, tiny_gemma], ids=["llama", "gemma"])
def test_positions_equal_an_independent_forward_and_sum_to_the_sentence_logprob(build):
    model = build()
    text = "The capital of France is Paris. 台湾大学"
    result = sequence_probs(model, text, top_k=3)
    ids = lm_ops.encode_document(model.tokenizer, text)
    with torch.no_grad():
        probs = model.model(torch.tensor([ids])).logits[0].float().softmax(-1)  # (n, vocab)
    assert result.token_ids == ids and len(result.positions) == len(ids) - 1
    for j, position in enumerate(result.positions):
        expected = float(probs[j, ids[j + 1]])
        assert position.prob == pytest.approx(expected, abs=1e-5)
        assert position.rank == int((probs[j] > probs[j, ids[j + 1]]).sum()) + 1
        assert [g.token_id for g in position.top] == probs[j].topk(3).indices.tolist()
    assert result.total_logprob == pytest.approx(lm_ops.sentence_logprobs(model, [text])[0], abs=1e-4)
    assert result.perplexity == pytest.approx(math.exp(-result.total_logprob / len(result.positions)))
    assert "".join(s.text for s in result.segments) == model.tokenizer.decode(ids)


def test_bad_input_is_explained():
    model = tiny_llama()
    with pytest.raises(ExplorerError, match="empty"):
        sequence_probs(model, "  ")
    with pytest.raises(ExplorerError, match="top_k"):
        sequence_probs(model, "hello", top_k=0)
    with pytest.raises(ExplorerError, match="limit is 128"):
        sequence_probs(model, "word " * 200)


def test_bundled_model_perplexity_of_a_plain_sentence_is_moderate(bundled):
    result = sequence_probs(bundled, "The capital of France is Paris.")
    assert 1 < result.perplexity < 200 and result.positions[-2].token == " Paris"
    assert result.positions[-2].rank <= 3
