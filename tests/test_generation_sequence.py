"""A sequence's sampled pick: the same tokens, and the generator left in the same state, as torch.multinomial."""

from __future__ import annotations

import pytest
import torch

from explorer.generation import sequence
from explorer.generation.sequence import draw_rows


@pytest.mark.parametrize(("vocab", "sharpness"), [(49152, 3.0), (256, 1.0), (256, 30.0)])
def test_draw_is_torch_multinomial_bit_for_bit(vocab, sharpness):
    """A real vocabulary, a small one, and a peaked one (most probabilities underflow to 0, as after top-p)."""
    probs = (torch.randn(1, vocab, generator=torch.Generator().manual_seed(vocab)) * sharpness).softmax(-1)
    torch_side, ours = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    expected = [int(torch.multinomial(probs, 1, generator=torch_side)) for _ in range(200)]
    assert [draw_rows(probs, [ours])[0] for _ in range(200)] == expected
    assert len(set(expected)) > 1 or sharpness > 10  # the draws do vary where the distribution is wide
    assert torch.equal(ours.get_state(), torch_side.get_state())  # the next draws agree too


# One chunk (the default's size at this vocabulary), then chunks of 2 rows and of 1.
@pytest.mark.parametrize("rows_per_chunk", [None, 2, 1])
def test_rows_drawn_together_each_draw_what_they_draw_alone(monkeypatch, rows_per_chunk):
    if rows_per_chunk:
        monkeypatch.setattr(sequence, "CHUNK_BYTES", rows_per_chunk * 300 * 8)
    probs = (torch.randn(5, 300, generator=torch.Generator().manual_seed(1)) * 2.0).softmax(-1)
    together = [torch.Generator().manual_seed(seed) for seed in range(5)]
    alone = [torch.Generator().manual_seed(seed) for seed in range(5)]
    for _ in range(20):
        expected = [int(torch.multinomial(probs[r : r + 1], 1, generator=alone[r])) for r in range(5)]
        assert draw_rows(probs, together) == expected
