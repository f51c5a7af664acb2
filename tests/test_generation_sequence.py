"""A sequence's sampled pick: the same tokens, and the generator left in the same state, as torch.multinomial."""

from __future__ import annotations

import pytest
import torch

from explorer.generation.sequence import draw


@pytest.mark.parametrize(("vocab", "sharpness"), [(49152, 3.0), (256, 1.0), (256, 30.0)])
def test_draw_is_torch_multinomial_bit_for_bit(vocab, sharpness):
    """A real vocabulary, a small one, and a peaked one (most probabilities underflow to 0, as after top-p)."""
    probs = (torch.randn(1, vocab, generator=torch.Generator().manual_seed(vocab)) * sharpness).softmax(-1)
    torch_side, ours = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    expected = [int(torch.multinomial(probs, 1, generator=torch_side)) for _ in range(200)]
    assert [draw(probs, ours) for _ in range(200)] == expected
    assert len(set(expected)) > 1 or sharpness > 10  # the draws do vary where the distribution is wide
    assert torch.equal(ours.get_state(), torch_side.get_state())  # the next draws agree too
