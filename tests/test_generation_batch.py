"""The left-padded batch: rows of different lengths compute what each computes alone; joins and leaves keep it tight."""

from __future__ import annotations

import pytest
import torch

from explorer.generation.batch import PaddedBatch

from builders import tiny_gemma, tiny_llama


@pytest.fixture(scope="module", params=["llama", "gemma"])
def lm(request):
    return tiny_llama() if request.param == "llama" else tiny_gemma()  # gemma: window 8, passed below


def rows(n: int, *lengths: int) -> list[list[int]]:
    generator = torch.Generator().manual_seed(n)
    return [torch.randint(5, 200, (length,), generator=generator).tolist() for length in lengths]


def run_alone(lm, tokens: list[int], feeds: list[int]) -> list[torch.Tensor]:
    batch, logits = PaddedBatch.prefill(lm, [tokens])
    return [logits[0, -1]] + [batch.step([token])[0] for token in feeds]


def test_padded_rows_equal_each_row_alone_past_the_sliding_window(lm):
    prompts, feeds = rows(0, 3, 12, 1, 7), rows(1, 14, 14, 14, 14)
    batch, first = PaddedBatch.prefill(lm, prompts)
    assert batch.mask.shape == (4, 12) and batch.positions.tolist() == [3, 12, 1, 7]
    batched = [first[:, -1]] + [batch.step([f[s] for f in feeds]) for s in range(14)]
    for row, (prompt, feed) in enumerate(zip(prompts, feeds)):
        alone = run_alone(lm, prompt, feed)
        assert torch.allclose(torch.stack([b[row] for b in batched]), torch.stack(alone), atol=1e-5)


def test_prefill_keeps_the_last_positions_of_every_row(lm):
    prompts = rows(2, 4, 9)
    _, logits = PaddedBatch.prefill(lm, prompts, keep=3)  # (rows, 3, vocab)
    for row, prompt in enumerate(prompts):
        for back in range(3):
            alone = PaddedBatch.prefill(lm, [prompt[: len(prompt) - back]])[1][0, -1]
            assert torch.allclose(logits[row, -1 - back], alone, atol=1e-5)


def test_join_and_leave_keep_each_row_exact_and_the_columns_tight(lm):
    long, short, newcomer = rows(3, 15, 2, 5)
    batch, _ = PaddedBatch.prefill(lm, [long, short])
    batch.step([7, 8])
    joining, _ = PaddedBatch.prefill(lm, [newcomer])
    batch.join(joining)  # the newcomer's 5 columns are padded to the batch's 16
    assert batch.mask.shape == (3, 16) and batch.mask[2].sum() == 5
    batch.step([9, 10, 11])
    batch.keep_rows([1, 2])  # the long row leaves: only the newcomer's 6 columns stay in use
    assert batch.mask.shape == (2, 6) and batch.cache.layers[0].keys.shape[2] == 6
    got = batch.step([12, 13])
    assert torch.allclose(got[0], run_alone(lm, short, [8, 10, 12])[-1], atol=1e-5)
    assert torch.allclose(got[1], run_alone(lm, newcomer, [11, 13])[-1], atol=1e-5)


def test_a_prompt_sent_again_is_prefilled_without_a_forward(lm):
    import explorer.lm as lm_ops

    shared, other = rows(4, 6, 9)
    first, first_logits = PaddedBatch.prefill(lm, [shared])
    assert lm_ops._PREFIX_FORWARDS.peek((lm.name, tuple(shared), 1)) is not None  # kept
    batch, logits = PaddedBatch.prefill(lm, [shared, other, shared])  # a hall: the same prompt twice
    assert torch.equal(logits[0], first_logits[0]) and torch.equal(logits[2], first_logits[0])  # the kept logits
    # The kept forward hands out copies: stepping one batch leaves the next prefill's cache as it was.
    first.step([7])
    again, _ = PaddedBatch.prefill(lm, [shared])
    assert again.cache.layers[0].keys.shape[2] == len(shared)
    assert torch.equal(batch.cache.layers[0].keys[0, :, 3:], again.cache.layers[0].keys[0])


def test_a_row_shorter_than_keep_gets_zeros_before_its_first_token(lm):
    short, long = rows(5, 2, 6)
    _, logits = PaddedBatch.prefill(lm, [short, long], keep=3)  # (rows, 3, vocab)
    assert not logits[0, 0].any()
    assert torch.allclose(logits[0, 1:], PaddedBatch.prefill(lm, [short], keep=2)[1][0], atol=1e-6)


def test_a_step_writes_its_column_into_the_cache_in_place(lm):
    batch, _ = PaddedBatch.prefill(lm, rows(6, 3, 5))  # the rows are stacked into buffers with room to grow
    layer = batch.cache.layers[0]
    where = layer.keys.data_ptr()
    for token in range(layer.HEADROOM):
        batch.step([token, token])
    assert layer.keys.data_ptr() == where and layer.keys.shape[2] == 5 + layer.HEADROOM
    batch.step([1, 2])  # full: the next buffers are wider
    assert layer.keys.data_ptr() != where and layer.keys.shape[2] == 5 + 1 + layer.HEADROOM


def test_rows_joining_or_leaving_are_copied_once_into_buffers_the_steps_then_write_into(lm):
    batch, _ = PaddedBatch.prefill(lm, rows(7, 4, 2))
    batch.join(PaddedBatch.prefill(lm, rows(8, 6))[0])
    layer = batch.cache.layers[0]
    assert not layer.keys[:2, :, :2].any() and not layer.values[1, :, :4].any()  # the pads: zeros
    for change in (lambda: None, lambda: batch.keep_rows([0, 1])):  # joined, then the longest row gone
        change()
        where = layer.keys.data_ptr()
        batch.step([3] * batch.rows)
        assert layer.keys.data_ptr() == where
    assert layer.keys.shape[2] == batch.mask.shape[1] == 6  # the first row's 4 tokens and 2 steps
