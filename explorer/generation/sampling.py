"""The sampling controls: `transformers`' own logits processors, in the order `generate()` applies them.

Each control is one entry of `CONTROLS`: the field of `SamplingSettings` that holds it, its value
when off, its allowed range, and the processor that applies it. A new control is one entry here,
one field below, and its slider in the view.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import torch
from transformers import (
    LogitsProcessor,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from .. import checks

MAX_TEMPERATURE = 10.0
MAX_REPETITION_PENALTY = 10.0


@dataclass(frozen=True)
class Control:
    stage: str  # the name of the distribution after it, in plots and payloads
    field: str  # the SamplingSettings field holding its value
    off: float  # the value that leaves the distribution unchanged
    check: Callable[[object], float]  # validates a user's value (message names the range)
    make: Callable[[float], LogitsProcessor]  # the transformers processor for a value
    sampling_only: bool  # greedy decoding skips it (it cannot change the argmax)


CONTROLS: tuple[Control, ...] = (
    Control(
        "repetition penalty", "repetition_penalty", 1.0,
        lambda v: checks.number(v, "repetition_penalty", 0, MAX_REPETITION_PENALTY, low_open=True),
        RepetitionPenaltyLogitsProcessor, sampling_only=False,
    ),
    Control(
        "temperature", "temperature", 1.0,
        lambda v: checks.number(v, "temperature", 0, MAX_TEMPERATURE, low_open=True),
        TemperatureLogitsWarper, sampling_only=True,
    ),
    Control(
        "top-k", "top_k", 0,
        lambda v: checks.number(v, "top_k", 0, 1_000_000, integer=True, allowed="a whole number ≥ 0 (0 = off)"),
        TopKLogitsWarper, sampling_only=True,
    ),
    Control(
        "top-p", "top_p", 1.0,
        lambda v: checks.number(v, "top_p", 0, 1, low_open=True),
        TopPLogitsWarper, sampling_only=True,
    ),
)  # fmt: skip


@dataclass(frozen=True)
class SamplingSettings:
    do_sample: bool = False  # False: greedy, always the most likely token
    temperature: float = 1.0  # divides the logits: < 1 sharpens, > 1 flattens
    top_k: int = 0  # keep the k most likely tokens (0 = off)
    top_p: float = 1.0  # keep the smallest set whose probability reaches p (1 = off)
    repetition_penalty: float = 1.0  # make tokens already in the text less likely (1 = off)

    def validated(self) -> SamplingSettings:
        """The same settings, checked: each bad value gives a message naming its range."""
        values = {c.field: c.check(getattr(self, c.field)) for c in CONTROLS}
        return replace(self, do_sample=bool(self.do_sample), **values)

    def controls(self, sampling: bool | None = None) -> list[tuple[str, LogitsProcessor]]:
        """The processors that change something, in `generate()`'s order. Greedy decoding uses only
        those that can change the argmax (the repetition penalty)."""
        sampling = self.do_sample if sampling is None else sampling
        return [
            (c.stage, c.make(getattr(self, c.field)))
            for c in CONTROLS
            if getattr(self, c.field) != c.off and (sampling or not c.sampling_only)
        ]


def stage_scores(
    stages: Sequence[tuple[str, LogitsProcessor]], input_ids: torch.Tensor, logits: torch.Tensor
) -> list[torch.Tensor]:
    """The scores after each stage (raw first), each (batch, vocab). transformers' processors return
    new tensors, so every stage's scores stay as they were; the last are the ones to pick from."""
    scores = [logits.float()]
    for _, processor in stages:
        scores.append(processor(input_ids, scores[-1]))
    return scores


def stage_distributions(
    stages: Sequence[tuple[str, LogitsProcessor]], input_ids: torch.Tensor, logits: torch.Tensor
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Probabilities after each stage (raw first), each (batch, vocab), and the final scores to pick from."""
    scores = stage_scores(stages, input_ids, logits)
    return [s.softmax(-1) for s in scores], scores[-1]
