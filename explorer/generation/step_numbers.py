"""What a step shows, for every row of a forward at once: each row's top candidates, their
probabilities after every control, and the entropies of its raw and final distributions.

Made where the rows pick (the scheduler's thread, or the request's own when it runs alone), batched
over the rows that pick together, rather than in each request's thread: a hall's sixty-four request
threads each running a few vocabulary-wide operations per token queue on the interpreter lock
around every operation, and the shared forward, whose Python also needs the lock, waits in that
queue. Without Gradio the same hall served 177 tokens/s that way, 217 with these numbers made in the
round (239 with no numbers at all; bench/hall.py, 64 rows, Intel Xeon).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class StepNumbers:
    """One row's step, as the display needs it."""

    chosen: list[float] | None  # the chosen token's probability after each stage, raw first (None: a peek)
    top_ids: list[int]  # the most likely tokens, most likely first
    top_probs: list[list[float]]  # [candidate][stage]: each top token's probability after each stage
    entropy_raw: float  # nats, of the raw distribution
    entropy: float  # nats, of the distribution picked from


def step_numbers(distributions: list[torch.Tensor], chosen: list[int] | None, top_n: int) -> list[StepNumbers]:
    """Each row's numbers from its probabilities after each stage (rows, vocab each, raw first) and the
    token it chose (`chosen` None: the rows peeked). The top `top_n` are ranked by the final probability
    (the tokens the controls filtered out follow, by raw probability), or for a peek by the raw one."""
    raw, final = distributions[0], distributions[-1]
    ids = top_ids(raw, final, top_n, by_raw=chosen is None)  # (rows, n)
    if chosen is not None:
        ids = torch.cat([torch.tensor(chosen)[:, None], ids], 1)  # (rows, 1 + n): the chosen one first
    probs = torch.stack([d.gather(1, ids) for d in distributions], -1).tolist()  # [row][token][stage]
    entropy_raw = entropies(raw)  # (rows,)
    entropy = entropy_raw if final is raw else entropies(final)  # (rows,)
    first = 0 if chosen is None else 1
    return [
        StepNumbers(None if chosen is None else p[0], i[first:], p[first:], h_raw, h)
        for i, p, h_raw, h in zip(ids.tolist(), probs, entropy_raw.tolist(), entropy.tolist())
    ]


def entropies(probs: torch.Tensor) -> torch.Tensor:
    """Each row's entropy in nats, -sum p log p (rows,), a filtered-out token (p = 0) adding 0: its p is
    raised to the least normal float inside the log only, one vocabulary-wide temporary worked on in place.
    `torch.special.entr` gives the same numbers, but its log is not vectorised: for 64 rows on two threads
    (Intel Xeon), SmolLM2's vocabulary 1.55 ms against 4.3-4.7 with `entr`, Gemma's (64 MiB a tensor)
    9.5 against 29; with a new tensor for each of the clamp, the log and the product, 1.9 and 18.4 ms."""
    terms = probs.clamp_min(torch.finfo(probs.dtype).tiny)  # (rows, vocab)
    return terms.log_().mul_(probs).sum(-1).neg_()  # (rows,)


def top_ids(raw: torch.Tensor, final: torch.Tensor, n: int, by_raw: bool = False) -> torch.Tensor:
    """Each row's n most likely ids (rows, n) by final probability, the ids the controls filtered out
    (final probability 0) following by raw probability; or simply by raw probability (`by_raw`)."""
    n = min(n, raw.shape[-1])
    if by_raw:
        return raw.topk(n).indices
    top = final.topk(n)  # (rows, n), most likely first: the kept tokens (probability > 0) come first
    kept = (top.values > 0).sum(-1, keepdim=True)  # (rows, 1)
    if bool((kept == n).all()):
        return top.indices
    filtered = raw.masked_fill(final > 0, -1.0).topk(n).indices  # (rows, n): filtered-out ids by raw probability
    places = torch.arange(n)  # (n,)
    return torch.where(places < kept, top.indices, filtered.gather(1, (places - kept).clamp(min=0)))
