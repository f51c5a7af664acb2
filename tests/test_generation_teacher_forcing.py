"""Teacher forcing: each position's probability of the true next token, the sum and the perplexity."""

from __future__ import annotations

import math

import pytest
import torch

from explorer import lm as lm_ops
from explorer.checks import ExplorerError
from explorer.generation.teacher_forcing import sequence_probs

from builders import tiny_gemma, tiny_llama


@pytest.mark.parametrize("slice_", [lm_ops.VOCAB_CHUNK, 7], ids=["whole", "sliced"])
@pytest.mark.parametrize("build", [tiny_llama, tiny_gemma], ids=["llama", "gemma"])
def test_positions_equal_an_independent_forward_and_sum_to_the_sentence_logprob(build, slice_, monkeypatch):
    """Exact whether the vocabulary is reduced at once or in slices of 7 (ranks, top-k and logsumexp
    combined across slices)."""
    monkeypatch.setattr(lm_ops, "VOCAB_CHUNK", slice_)
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
        best = probs[j].topk(3)
        assert [g.prob for g in position.top] == pytest.approx(best.values.tolist(), abs=1e-6)
        assert [g.prob for g in position.top] == pytest.approx(probs[j, [g.token_id for g in position.top]], abs=1e-6)
        if slice_ != 7:  # slices may order words tied to 1e-7 (a tiny random model) otherwise
            assert [g.token_id for g in position.top] == best.indices.tolist()
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
