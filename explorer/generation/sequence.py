"""One request's decoding, fed one forward's logits at a time: the picking half of the decode loop.

Whoever runs the forward (the request alone, or a scheduler batching many requests) hands each
sequence its own rows of logits; the sequence applies its own controls (the rows of sequences
with equal controls together: `picked_together`), picks its next token with its own seeded
generator and checks its own stop conditions. The rows that pick together also make what their
steps show together (`step_numbers`: probabilities after every control, top candidates,
entropies); the request's own thread only gives the candidates their texts.
"""

from __future__ import annotations

from collections.abc import Sequence as Ids
from dataclasses import dataclass

import torch
from transformers import LogitsProcessor

from .sampling import stage_distributions
from .step_numbers import StepNumbers, step_numbers

CHUNK_BYTES = 4 << 20  # the sampler's doubles at a time (`draw_rows`): a few MiB, which a core's cache holds


@dataclass(frozen=True)
class Pick:
    """One step: the token chosen, and the numbers of the distributions it was chosen from."""

    token_id: int | None  # the token chosen (None for a peek: the distribution only, nothing chosen)
    forced: bool  # chosen by the user (a branch), not picked
    numbers: StepNumbers  # probabilities after each control, top candidates, entropies
    finish: str | None  # "eos" or "length" on a sequence's last pick, else None


class Sequence:
    """A prompt, the tokens forced after it (a branch), then up to `max_new_tokens` picked ones.

    `tokens` is what the first forward (the prefill) feeds; it must return the logits of the last
    `keep` positions (one per forced token, plus the prompt's last), given to `prefilled`. After
    that, each forward feeds `next_token` and gives its logits to `stepped` (or, with other
    sequences' rows, to `picked_together`), until `finished`. A peek (`max_new_tokens=0`) records
    the distribution after the prompt and picks nothing; its `top_n` candidates are ranked by raw
    probability (the model's own table), a pick's by the probability it was picked from.
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
        self.ids = list(self.tokens)  # the prompt, the forced tokens, then each picked token
        self.length = len(prompt_ids)  # tokens the next distribution is conditioned on
        self.keep = len(forced_ids) + 1
        self.next_token: int | None = None  # what the next forward feeds
        self.finished = False
        # Sequences with equal controls (the same processors with the same values) and candidate
        # counts pick together.
        stages_key = tuple((n, type(p), repr(vars(p))) for n, p in stages)
        self.controls = (do_sample, bool(max_new_tokens), top_n, stages_key)

    def prefilled(self, logits: torch.Tensor) -> list[Pick]:
        """The prefill's last `keep` rows of logits (keep, vocab): each forced token's step, then the first pick."""
        picks = [self._forced(logits[j : j + 1]) for j in range(self.keep - 1)]
        return picks + [self.stepped(logits[-1:])]

    def _forced(self, logits: torch.Tensor) -> Pick:
        token_id = self.ids[self.length]
        distributions, _ = stage_distributions(self.stages, torch.tensor([self.ids[: self.length]]), logits)
        self.length += 1
        return Pick(token_id, True, step_numbers(distributions, [token_id], self.top_n)[0], None)

    def stepped(self, logits: torch.Tensor) -> Pick:
        """The logits after the last token fed (1, vocab): pick the next token (or peek)."""
        (pick,) = picked_together([self], logits)
        return pick

    def _took(self, token_id: int | None, numbers: StepNumbers) -> Pick:
        """Record the token picked (None: a peek, nothing picked) and check the stop conditions."""
        if token_id is None:
            self.finished = True
            return Pick(None, False, numbers, "length")
        self.ids.append(token_id)
        self.length += 1
        self.n_new += 1
        self.next_token = token_id
        finish = "eos" if token_id in self.eos_ids else "length" if self.n_new == self.max_new_tokens else None
        self.finished = finish is not None
        return Pick(token_id, False, numbers, finish)


def picked_together(sequences: list[Sequence], logits: torch.Tensor) -> list[Pick]:
    """Each sequence's pick from its row of `logits` (rows, vocab). Rows with equal controls go through
    them at once (transformers' processors take batches, and a batch of 32 rows costs a few operations
    instead of a few hundred), and make their steps' numbers at once; each samples with its own
    generator, so a row picks what it picks alone.
    The processors see each row's ids padded on the right with its own last id: only the repetition
    penalty reads them, and it penalises a token once however often it appears."""
    groups: dict[tuple, list[int]] = {}
    for row, sequence in enumerate(sequences):
        groups.setdefault(sequence.controls, []).append(row)
    picks: list[Pick | None] = [None] * len(sequences)
    for rows in groups.values():
        members = [sequences[row] for row in rows]
        width = max(s.length for s in members)
        ids = torch.tensor([s.ids[: s.length] + s.ids[s.length - 1 : s.length] * (width - s.length) for s in members])
        block = logits if len(rows) == len(sequences) else logits[rows]  # (group, vocab)
        first = members[0]
        distributions, final_scores = stage_distributions(first.stages, ids, block)  # (group, vocab) each
        if not first.max_new_tokens:  # peeks
            chosen = None
        elif first.do_sample:
            chosen = draw_rows(distributions[-1], [s.generator for s in members])
        else:
            chosen = final_scores.argmax(-1).tolist()
        numbers = step_numbers(distributions, chosen, first.top_n)
        for row, sequence, token_id, row_numbers in zip(rows, members, chosen or [None] * len(rows), numbers):
            picks[row] = sequence._took(token_id, row_numbers)
    return picks


def draw_rows(probs: torch.Tensor, generators: list[torch.Generator]) -> list[int]:
    """`torch.multinomial(probs[i : i + 1], 1, generator=generators[i])` for every row, bit for bit,
    in a third of its time.

    torch draws one sample as an exponential race: the argmax of p / q with q ~ Exp(1) per token,
    its q made by a per-element sampler (~1 ms for 49k tokens, on every step of every sampled row).
    The same q is -log(1 - u) of one vectorised draw of doubles from the same generator, which
    leaves the generator where torch's sampler would (tests/test_generation_sequence.py). Each row
    draws its doubles from its own generator; the rest runs on CHUNK_BYTES of doubles at a time, which
    stay in the core's cache through the passes over them. 64 rows of Gemma's 262,144 words took 99 ms
    that way against 202 all at once (their 128 MiB of doubles to memory and back on every pass),
    SmolLM2's 18.5 against 19.9 (two threads, Intel Xeon, a vocabulary-wide softmax between draws).
    """
    rows, vocab = probs.shape
    step = max(1, CHUNK_BYTES // (vocab * 8))  # rows of doubles per chunk
    picks = []
    for start in range(0, rows, step):
        chunk = generators[start : start + step]
        u = torch.empty(len(chunk), vocab, dtype=torch.float64)  # (chunk, vocab)
        for row, generator in enumerate(chunk):
            u[row].uniform_(generator=generator)
        minus_q = u.neg_().log1p_().float()  # (chunk, vocab) -Exp(1), as torch's sampler rounds it, negated
        # p / -q is exactly -(p / q), so the argmax of p / q is the argmin of p / -q (the first, as argmax's):
        # one pass fewer over the doubles.
        picks += probs[start : start + step].div(minus_q).argmin(-1).tolist()
    return picks
