"""One request's decoding, fed one forward's logits at a time: the picking half of the decode loop.

Whoever runs the forward (the request alone, or a scheduler batching many requests) hands each
sequence its own rows of logits; the sequence applies its own controls, picks its next token
with its own seeded generator, checks its own stop conditions, and returns what the display
needs as plain numbers (`Pick`). Turning ids into text is left to the request's own thread.
"""

from __future__ import annotations

from collections.abc import Sequence as Ids
from dataclasses import dataclass

import torch
from transformers import LogitsProcessor

from .sampling import entropies, stage_distributions


@dataclass(frozen=True)
class Pick:
    """One step's numbers: the token chosen and the candidates' probabilities after every stage."""

    token_id: int | None  # the token chosen (None for a peek: the distribution only, nothing chosen)
    forced: bool  # chosen by the user (a branch), not picked
    candidate_ids: list[int]  # the chosen token first (unless a peek), then the top candidates
    stage_probs: list[list[float]]  # [candidate][stage]: raw first, then after each control
    entropy_raw: float  # nats, of the raw distribution
    entropy: float  # nats, of the distribution picked from
    finish: str | None  # "eos" or "length" on a sequence's last pick, else None


def top_ids(distributions: list[torch.Tensor], n: int, by_raw: bool = False) -> list[int]:
    """The n most likely ids by final prob; the tokens the controls filtered out (prob 0) follow by raw prob."""
    raw, final = distributions[0][0], distributions[-1][0]  # (vocab,) each
    n = min(n, raw.numel())
    if by_raw:
        return raw.topk(n).indices.tolist()
    top = final.topk(n)
    kept = top.indices[top.values > 0].tolist()
    if len(kept) == n:
        return kept
    return kept + raw.masked_fill(final > 0, -1.0).topk(n - len(kept)).indices.tolist()


class Sequence:
    """A prompt, the tokens forced after it (a branch), then up to `max_new_tokens` picked ones.

    `tokens` is what the first forward (the prefill) feeds; it must return the logits of the last
    `keep` positions (one per forced token, plus the prompt's last), given to `prefilled`. After
    that, each forward feeds `next_token` and gives its logits to `stepped`, until `finished`.
    A peek (`max_new_tokens=0`) records the distribution after the prompt and picks nothing.
    """

    def __init__(
        self,
        prompt_ids: Ids[int],
        stages: list[tuple[str, LogitsProcessor]],
        *,
        forced_ids: Ids[int] = (),
        max_new_tokens: int = 0,
        do_sample: bool = False,
        seed: int = 0,
        eos_ids: frozenset[int] = frozenset(),
        top_n: int = 10,
    ):
        self.tokens = [*prompt_ids, *forced_ids]
        self.stages, self.do_sample, self.eos_ids, self.top_n = stages, do_sample, eos_ids, top_n
        self.max_new_tokens, self.n_new = max_new_tokens, 0
        self.generator = torch.Generator().manual_seed(seed)
        self.ids = torch.tensor([self.tokens + [0] * max_new_tokens])  # (1, n): filled as tokens are picked
        self.length = len(prompt_ids)  # tokens the next distribution is conditioned on
        self.keep = len(forced_ids) + 1
        self.next_token: int | None = None  # what the next forward feeds
        self.finished = False

    def prefilled(self, logits: torch.Tensor) -> list[Pick]:
        """The prefill's last `keep` rows of logits (keep, vocab): each forced token's step, then the first pick."""
        picks = [self._forced(logits[j : j + 1]) for j in range(self.keep - 1)]
        return picks + [self.stepped(logits[-1:])]

    def _forced(self, logits: torch.Tensor) -> Pick:
        token_id = int(self.ids[0, self.length])
        distributions, _ = stage_distributions(self.stages, self.ids[:, : self.length], logits)
        self.length += 1
        return self._pick(token_id, distributions, forced=True, finish=None)

    def stepped(self, logits: torch.Tensor) -> Pick:
        """The logits after the last token fed (1, vocab): pick the next token (or peek)."""
        distributions, scores = stage_distributions(self.stages, self.ids[:, : self.length], logits)
        if not self.max_new_tokens:  # a peek
            self.finished = True
            return self._pick(None, distributions, forced=False, finish="length")
        if self.do_sample:
            token_id = int(torch.multinomial(distributions[-1], 1, generator=self.generator))
        else:
            token_id = int(scores.argmax(-1))
        self.ids[0, self.length] = token_id
        self.length += 1
        self.n_new += 1
        self.next_token = token_id
        finish = "eos" if token_id in self.eos_ids else "length" if self.n_new == self.max_new_tokens else None
        self.finished = finish is not None
        return self._pick(token_id, distributions, forced=False, finish=finish)

    def _pick(self, token_id: int | None, distributions: list[torch.Tensor], forced: bool, finish) -> Pick:
        """What the display needs, gathered in one op per stage."""
        chosen = [] if token_id is None else [token_id]
        ids = chosen + top_ids(distributions, self.top_n, by_raw=token_id is None)
        probs = torch.stack([d[0, ids] for d in distributions]).T.tolist()  # [candidate][stage]
        entropy_raw, entropy = entropies(distributions)
        return Pick(token_id, forced, ids, probs, entropy_raw, entropy, finish)
