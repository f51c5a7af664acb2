"""explorer.lm's forwards that share work: a kept prefix's forward and scores that compute the head once per
distinct prefix — each the same numbers as a plain forward over the whole text (tiny models)."""

from __future__ import annotations

import pytest
import torch

from explorer.lm import cached_forward, cached_prefill, shared_prefix_logprobs

from builders import tiny_gemma, tiny_llama

BUILDERS = {"llama": tiny_llama, "gemma": tiny_gemma}


def full_logprobs(lm, ids: list[int]) -> torch.Tensor:
    """log p(each next token) after every prefix of `ids`, from one plain forward: (len(ids), vocab)."""
    with torch.no_grad():
        return lm.model(input_ids=torch.tensor([ids])).logits[0].float().log_softmax(-1)


@pytest.mark.parametrize("build", BUILDERS.values(), ids=BUILDERS.keys())
def test_a_kept_opening_gives_the_logits_of_a_whole_forward(build):
    lm = build()
    ids = [1, 5, 9, 14, 3, 7, 22, 8]
    whole = full_logprobs(lm, ids)[-1]
    logits, past = cached_forward(lm, ids, opening=ids[:5])  # the opening's forward, kept, then the rest
    assert torch.allclose(logits.float().log_softmax(-1), whole, atol=1e-5)
    assert past.get_seq_length() == len(ids)
    again, _ = cached_forward(lm, ids[:5] + [30, 31], opening=ids[:5])  # another prompt after the same opening
    assert torch.allclose(again.float().log_softmax(-1), full_logprobs(lm, ids[:5] + [30, 31])[-1], atol=1e-5)
    # A kept forward hands out copies of its cache: extending one leaves the next caller's as it was.
    _, first_copy = cached_forward(lm, ids[:5])
    first_copy.batch_repeat_interleave(3)
    _, second_copy = cached_forward(lm, ids[:5])
    assert second_copy.get_seq_length() == 5 and second_copy.layers[0].keys.shape[0] == 1
    # Ids that do not start with the opening run whole.
    logits, past = cached_forward(lm, [2, 5, 9], opening=[1, 5])
    assert torch.allclose(logits.float().log_softmax(-1), full_logprobs(lm, [2, 5, 9])[-1], atol=1e-5)


@pytest.mark.parametrize("build", BUILDERS.values(), ids=BUILDERS.keys())
def test_scores_with_the_head_once_per_distinct_prefix_equal_whole_forwards(build):
    lm = build()
    # Rows that go on alike past their common start [1, 5]: the head runs once for each distinct prefix.
    rows = [[1, 5, 9, 14, 3], [1, 5, 9, 14, 8, 2], [1, 5, 9, 20], [1, 5, 11, 14, 3], [1, 5, 9, 14, 3]]
    rows_of_head = []
    head = lm.model.get_output_embeddings()
    hook = head.register_forward_hook(lambda module, args, out: rows_of_head.append(len(args[0])))
    try:
        scores = shared_prefix_logprobs(lm, rows)
    finally:
        hook.remove()
    for row, score in zip(rows, scores):
        expected = full_logprobs(lm, row)[:-1].gather(1, torch.tensor(row[1:])[:, None]).double().sum()
        assert score == pytest.approx(float(expected), abs=1e-5)
    distinct = {tuple(row[:j]) for row in rows for j in range(1, len(row))}
    assert rows_of_head == [len(distinct)]  # one product: the common start's rows and the ends' distinct prefixes


@pytest.mark.parametrize("build", BUILDERS.values(), ids=BUILDERS.keys())
def test_a_kept_prefill_gives_the_last_positions_and_long_prompts_are_not_kept(build, monkeypatch):
    import explorer.lm as lm_ops

    lm = build()
    ids = [1, 5, 9, 14, 3, 7, 22, 8]
    logits, past = cached_prefill(lm, ids, keep=3)  # (3, vocab)
    assert torch.allclose(logits.float().log_softmax(-1), full_logprobs(lm, ids)[-3:], atol=1e-5)
    assert past.get_seq_length() == len(ids)
    assert torch.equal(cached_forward(lm, ids[:4])[0], cached_prefill(lm, ids[:4])[0][-1])  # one entry for both
    assert lm_ops._PREFIX_FORWARDS.peek((lm.name, tuple(ids), 3)) is not None  # kept: the next one runs no forward
    assert cached_prefill(lm, ids, keep=3)[1] is past  # the kept cache itself, read only: no copy
    monkeypatch.setattr(lm_ops, "KEPT_PROMPT_TOKENS", 4)
    logits, _ = cached_prefill(lm, ids[:6])
    assert torch.allclose(logits[-1].float().log_softmax(-1), full_logprobs(lm, ids[:6])[-1], atol=1e-5)
    assert lm_ops._PREFIX_FORWARDS.peek((lm.name, tuple(ids[:6]), 1)) is None  # longer than KEPT_PROMPT_TOKENS
