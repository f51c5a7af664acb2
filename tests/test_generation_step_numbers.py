"""A step's numbers made for many rows at once: each row's are what it gets alone, written out plainly."""

from __future__ import annotations

import pytest
import torch
from transformers import TemperatureLogitsWarper, TopKLogitsWarper

from explorer.generation.sampling import stage_distributions
from explorer.generation.step_numbers import entropies, step_numbers, top_ids

VOCAB = 300


def distributions(rows: int, top_k: int = 0):
    """Probabilities raw, after temperature 0.7, and (with `top_k`) after top-k, for `rows` random rows."""
    logits = torch.randn(rows, VOCAB, generator=torch.Generator().manual_seed(rows)) * 3.0
    stages = [("temperature", TemperatureLogitsWarper(0.7))] + ([("top_k", TopKLogitsWarper(top_k))] if top_k else [])
    return stage_distributions(stages, torch.zeros(rows, 1, dtype=torch.long), logits)[0]


def plain_top(raw: torch.Tensor, final: torch.Tensor, n: int) -> list[int]:
    """One row, spelled out: the kept tokens by final probability, then the filtered-out ones by raw probability."""
    order = sorted(range(len(raw)), key=lambda i: (final[i] > 0, final[i], raw[i]), reverse=True)
    kept = [i for i in order if final[i] > 0][:n]
    filtered = sorted((i for i in range(len(raw)) if final[i] == 0), key=lambda i: raw[i], reverse=True)
    return kept + filtered[: n - len(kept)]


@pytest.mark.parametrize("top_k", [0, 4, 10])
def test_top_ids_rank_the_kept_by_final_then_the_filtered_by_raw(top_k):
    raw, *_, final = distributions(6, top_k)
    got = top_ids(raw, final, 10).tolist()
    assert got == [plain_top(raw[r], final[r], 10) for r in range(6)]
    assert top_ids(raw, final, 10, by_raw=True).tolist() == raw.topk(10).indices.tolist()


def test_rows_together_get_what_each_gets_alone():
    stages = distributions(5, top_k=4)
    chosen = [int(d.argmax()) for d in stages[-1]]
    together = step_numbers(stages, chosen, 10)
    for row, numbers in enumerate(together):
        (alone,) = step_numbers([d[row : row + 1] for d in stages], [chosen[row]], 10)
        assert numbers == alone
        assert numbers.chosen == [d[row, chosen[row]].item() for d in stages]  # raw, temperature, top-k
        assert numbers.top_probs == [[d[row, i].item() for d in stages] for i in numbers.top_ids]
        assert numbers.entropy_raw == pytest.approx(-(stages[0][row] * stages[0][row].log()).sum().item(), abs=1e-5)
        final = stages[-1][row][stages[-1][row] > 0]
        assert numbers.entropy == pytest.approx(-(final * final.log()).sum().item(), abs=1e-5)  # 0 log 0 = 0


def test_a_peek_has_no_chosen_token_and_ranks_by_raw_probability():
    stages = distributions(3, top_k=4)
    for row, numbers in enumerate(step_numbers(stages, None, 20)):
        assert numbers.chosen is None and len(numbers.top_ids) == 20
        assert numbers.top_ids == stages[0][row].topk(20).indices.tolist()


def test_one_stage_gives_one_entropy_twice():
    (raw,) = distributions(2)[:1]
    numbers = step_numbers([raw], [0, 1], 5)
    assert all(n.entropy == n.entropy_raw and len(n.chosen) == 1 for n in numbers)


def test_entropies_equal_torch_entr_with_filtered_tokens_adding_nothing():
    scores = torch.randn(6, 500, generator=torch.Generator().manual_seed(0)) * 4
    scores[:3, :450] = float("-inf")  # top-k filtered rows: most probabilities exactly 0
    probs = scores.softmax(-1)
    got = entropies(probs)
    assert torch.isfinite(got).all()
    assert torch.allclose(got, torch.special.entr(probs).sum(-1), atol=1e-6, rtol=0)
    assert torch.allclose(entropies(torch.eye(3)), torch.zeros(3))  # one certain token: 0 nats
