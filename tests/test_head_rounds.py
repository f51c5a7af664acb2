"""Searches run together, one LM-head product per round (explorer/head_rounds.py), find what each finds alone."""

from __future__ import annotations

import pytest
import torch

from explorer.head_rounds import heads_together, hidden_forward

from builders import tiny_gemma, tiny_llama

BUILDERS = {"llama": tiny_llama, "gemma": tiny_gemma}


def greedy_search(lm, ids: list[int], steps: int):
    """A small search in the form heads_together runs: yields hidden rows, is sent their logits."""
    hidden, past = hidden_forward(lm, torch.tensor([ids]))
    chosen = []
    for _ in range(steps):
        logits = yield hidden[:, -1]  # (1, vocab)
        chosen.append(int(logits[0].argmax()))
        hidden, past = hidden_forward(lm, torch.tensor([[chosen[-1]]]), past)
    return chosen


def plain_greedy(lm, ids: list[int], steps: int) -> list[int]:
    """The reference: each next token from a whole forward over the text so far, no cache."""
    chosen = []
    for _ in range(steps):
        with torch.no_grad():
            chosen.append(int(lm.model(input_ids=torch.tensor([ids + chosen])).logits[0, -1].argmax()))
    return chosen


@pytest.mark.parametrize("build", BUILDERS.values(), ids=BUILDERS.keys())
def test_searches_run_together_find_what_each_finds_alone(build):
    lm = build()
    searches = [([1, 5, 9], 4), ([1, 30], 2), ([1, 7, 7, 7, 2], 3)]
    alone = [plain_greedy(lm, ids, steps) for ids, steps in searches]
    products = []
    head = lm.model.get_output_embeddings()
    hook = head.register_forward_hook(lambda module, args, out: products.append(len(args[0])))
    try:
        together = heads_together(lm, [greedy_search(lm, ids, steps) for ids, steps in searches])
    finally:
        hook.remove()
    assert together == alone
    assert products == [3, 3, 2, 1]  # one product per round, with the rows of every search still running
