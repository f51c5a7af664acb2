"""The labels' probabilities and contextual calibration (Zhao et al. (2021), "Calibrate Before Use").

The label distribution the model gives to content-free queries ("N/A", "", "[MASK]") estimates its
bias in this context; dividing by it (and renormalising) is the paper's diagonal W = diag(p_cf)^-1.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from ..datasets import Example, Task
from ..models import LoadedModel
from .prompts import build_prompt
from .scoring import Prefix, score_many

CONTENT_FREE = ("N/A", "", "[MASK]")


def content_free_probs(
    lm: LoadedModel, task: Task, demos: Sequence[Example], chat: bool, prefix: Prefix | None = None
) -> list[float]:
    """The label distribution for content-free queries, averaged: the model's bias in this context."""
    prompts = [build_prompt(task, demos, text, lm.tokenizer, chat) for text in CONTENT_FREE]
    per_input = [normalise([s.logprob for s in scores]) for scores in score_many(lm, prompts, prefix)]
    return [statistics.fmean(column) for column in zip(*per_input)]


def normalise(logprobs: Sequence[float]) -> list[float]:
    """Softmax over the labels' log-probs: their probabilities renormalised to sum to 1."""
    top = max(logprobs)
    weights = [math.exp(lp - top) for lp in logprobs]
    total = sum(weights)
    return [w / total for w in weights]


def calibrate(probs: Sequence[float], content_free: Sequence[float]) -> list[float]:
    """Zhao et al.'s contextual calibration: divide by the content-free probabilities, renormalise."""
    weighted = [p / max(q, 1e-12) for p, q in zip(probs, content_free)]
    total = sum(weighted)
    return [w / total for w in weighted]


def best_index(probs: Sequence[float]) -> int:
    """The index of the likeliest label (the first of equals)."""
    return max(range(len(probs)), key=probs.__getitem__)
