"""Several searches of one model, one LM-head product per round: each search is a generator that yields
the final-normed hidden states whose logits it needs and is sent those logits; `heads_together` runs them
in lockstep. A product reads the whole head whatever its rows (Gemma's: 262,144 x 640 floats), so on a CPU
a product of 4 rows costs nearly as much as one of 32, and several searches cost little more than one
(the Masked LM tab's left-only words and every proposal search: explorer/masked_lm/fill.py)."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any

import torch

from .lm import head_logits
from .models import LoadedModel


def hidden_forward(lm: LoadedModel, ids: torch.Tensor, past=None) -> tuple[torch.Tensor, object]:
    """The transformer without its LM head, in inference mode for this call only: the final-normed
    hidden states (batch, n, d) of `ids` (batch, n) after `past`, and the extended KV cache."""
    with torch.inference_mode():
        out = lm.model.base_model(input_ids=ids, past_key_values=past, use_cache=True)
    return out.last_hidden_state, out.past_key_values


def heads_together(lm: LoadedModel, steps: Sequence[Generator[torch.Tensor, torch.Tensor, Any]]) -> list:
    """Run `steps` in lockstep and return what each returns. Each is a generator that yields the
    final-normed hidden states (rows, d) whose logits it needs and is sent their logits (rows, vocab).
    Each round, the rows every waiting generator yielded go through ONE product with the LM head: a
    product reads the whole head (Gemma's: 262,144 × 640 floats) whatever its rows, so on a CPU a
    product of 4 rows costs nearly as much as one of 32, and several searches cost little more than one."""
    results: list = [None] * len(steps)
    waiting: dict[int, torch.Tensor] = {}  # each running generator's rows, (rows, d)

    def advance(index: int, logits: torch.Tensor | None) -> None:
        try:
            waiting[index] = steps[index].send(logits)
        except StopIteration as done:
            waiting.pop(index, None)
            results[index] = done.value

    for index in range(len(steps)):
        advance(index, None)
    while waiting:
        order, sizes = list(waiting), [len(rows) for rows in waiting.values()]
        with torch.inference_mode():
            logits = head_logits(lm.model, torch.cat([waiting[index] for index in order]))  # (all rows, vocab)
        for index, part in zip(order, logits.split(sizes)):
            advance(index, part)
    return results
