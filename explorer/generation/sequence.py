"""One request's decoding, fed one forward's logits at a time: the picking half of the decode loop.

Whoever runs the forward (the request alone, or a scheduler batching many requests) hands each
sequence its own rows of logits; the sequence applies its own controls, picks its next token
with its own seeded generator and checks its own stop conditions. Only that is on the way to the
next forward: the `Pick` carries the scores after every control, and the request's own thread
turns them into what the display needs (probabilities, top candidates, their texts) while the
next forward runs.
"""

from __future__ import annotations

from collections.abc import Sequence as Ids
from dataclasses import dataclass

import torch
from transformers import LogitsProcessor

from .sampling import stage_scores


@dataclass(frozen=True)
class Pick:
    """One step: the token chosen, and the scores it was chosen from."""

    token_id: int | None  # the token chosen (None for a peek: the distribution only, nothing chosen)
    forced: bool  # chosen by the user (a branch), not picked
    scores: list[torch.Tensor]  # (1, vocab) each: the raw logits, then the scores after each control
    finish: str | None  # "eos" or "length" on a sequence's last pick, else None


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
    ):
        self.tokens = [*prompt_ids, *forced_ids]
        self.stages, self.do_sample, self.eos_ids = stages, do_sample, eos_ids
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
        scores = stage_scores(self.stages, self.ids[:, : self.length], logits)
        self.length += 1
        return Pick(token_id, True, scores, None)

    def stepped(self, logits: torch.Tensor) -> Pick:
        """The logits after the last token fed (1, vocab): pick the next token (or peek)."""
        scores = stage_scores(self.stages, self.ids[:, : self.length], logits)
        if not self.max_new_tokens:  # a peek
            self.finished = True
            return Pick(None, False, scores, "length")
        if self.do_sample:
            token_id = draw(scores[-1].softmax(-1), self.generator)
        else:
            token_id = int(scores[-1].argmax(-1))
        self.ids[0, self.length] = token_id
        self.length += 1
        self.n_new += 1
        self.next_token = token_id
        finish = "eos" if token_id in self.eos_ids else "length" if self.n_new == self.max_new_tokens else None
        self.finished = finish is not None
        return Pick(token_id, False, scores, finish)


def draw(probs: torch.Tensor, generator: torch.Generator) -> int:
    """`torch.multinomial(probs, 1, generator=generator)`, bit for bit, in a third of its time.

    torch draws one sample as an exponential race: the argmax of p / q with q ~ Exp(1) per token,
    its q made by a per-element sampler (~1 ms for 49k tokens, on every step of every sampled row).
    The same q is -log(1 - u) of one vectorised draw of doubles from the same generator, which
    leaves the generator where torch's sampler would (tests/test_generation_sequence.py).
    """
    u = torch.empty(probs.shape, dtype=torch.float64).uniform_(generator=generator)  # (1, vocab)
    q = u.neg_().log1p_().neg_().float()  # (1, vocab) Exp(1), as torch's sampler rounds it
    return int(probs.div(q).argmax())
