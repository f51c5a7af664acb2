"""Prompt-based fine-tuning vs a new classifier head, across training-set sizes (Gao et al., 2021).

For each size n and each seed, n training items are drawn (label-balanced) and two runs train on
them with the same steps, learning rate and batches:
(a) `head`: full fine-tuning of a classifier with a NEW, randomly initialised head reading the raw text
    (a causal LM's last token, a masked LM's [CLS]);
(b) `prompt`: full fine-tuning through the LM head: the template and the label words' scores
    (`verbalizer`: a causal LM's next token, a masked LM's [MASK] in the label slot), no new parameters;
and (c) `zero-shot`: the same template with no training (prompt-based's accuracy before training).
Accuracy is on the same held-out items; mean ± std over the seeds. The head starts from chance and
must learn what the label words already mean to the pre-trained model: with few examples the prompt
usually wins, and the gap closes as n grows.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass

from .. import checks, datasets, i18n
from ..checks import ExplorerError
from ..i18n import t
from ..icl import split_items
from ..models import LoadedModel, Progress
from .experiment import last, share, whole_numbers
from .methods import TuningSettings, prepare
from .training import (
    MAX_LEARNING_RATE,
    MAX_STEPS,
    LabelledData,
    check_passage,
    fit,
    own_trainable_copies,
    sentiment_data,
)
from .verbalizer import prepare_prompt_based, prompted, template_text

MAX_SIZES = 6
MAX_REPEATS = 5
METHODS = ("head", "prompt", "zero-shot")


@dataclass(frozen=True)
class PromptVsHeadConfig:
    sizes: tuple[int, ...] | str = "4, 16, 48"  # training-set sizes (items drawn per seed)
    repeats: int = 2  # seeds per size: seed, seed + 1, ...
    steps: int = 5  # optimiser steps per run (batches of training.BATCH_SIZE items, repeated if n is small)
    learning_rate: float = 1e-4  # both runs: full fine-tuning
    seed: int = 0


@dataclass
class SizePoint:
    method: str  # "head", "prompt" or "zero-shot"
    size: int  # training items
    accuracy_mean: float  # over the seeds, on the held-out items
    accuracy_std: float
    accuracies: list[float]  # one per seed


@dataclass
class PromptVsHeadResult:
    model: str
    task: str
    template: str  # what the prompt-based runs read, with {text} for the item
    label_words: list[str]
    points: list[SizePoint]
    held_out_items: int
    train_items: int  # the pool the sizes draw from
    config: dict
    seconds: float


def checked(config: PromptVsHeadConfig, available: int) -> PromptVsHeadConfig:
    sizes = whole_numbers(config.sizes, "sizes", 1, 10**6, MAX_SIZES)
    if sizes[-1] > available:
        raise ExplorerError(
            "A training-set size of {size} is larger than the data: the set has {available} training items; "
            "allowed: 1 to {available}.",
            size=sizes[-1],
            available=available,
        )
    return PromptVsHeadConfig(
        sizes=tuple(sizes),
        repeats=checks.number(config.repeats, "repeats", 1, MAX_REPEATS, integer=True),
        steps=checks.number(config.steps, "steps", 1, MAX_STEPS, integer=True),
        learning_rate=checks.number(config.learning_rate, "learning_rate", 0, MAX_LEARNING_RATE, low_open=True),
        seed=checks.seed(config.seed),
    )


def iter_prompt_vs_head(
    lm: LoadedModel,
    config: PromptVsHeadConfig = PromptVsHeadConfig(),
    progress: Progress | None = None,
    data: LabelledData | None = None,
) -> Iterator[PromptVsHeadResult]:
    """The result so far after each run; sizes in turn, each over every seed."""
    started = time.perf_counter()
    data = data or sentiment_data(i18n.current())  # a Chinese page: Chinese reviews and label words
    config = checked(config, len(data.train))
    check_passage(lm, data)
    task = datasets.load_task(data.task)  # its template and label words; `data` holds its items
    accuracies = {(method, size): [] for method in METHODS for size in config.sizes}
    result = PromptVsHeadResult(
        lm.name,
        task.name,
        template_text(lm, task, "{text}"),
        list(task.verbalizers),
        [],
        len(data.held_out),
        len(data.train),
        vars(config),
        0.0,
    )
    runs = [(size, seed) for size in config.sizes for seed in range(config.seed, config.seed + config.repeats)]
    for index, (size, seed) in enumerate(runs):
        pool = dataclasses.replace(task, items=data.train)
        subset = dataclasses.replace(data, train=tuple(split_items(pool, size, seed)[0]))
        for offset, method in enumerate(METHODS[:2]):
            report = share(progress, 2 * index + offset, 2 * len(runs), t(f"experiments.few_shot.{method}", n=size))
            if method == "head":
                prepared = prepare(lm, "full", TuningSettings(num_labels=len(data.labels)), seed)
                train_data = subset
            else:
                prepared, train_data = prepare_prompt_based(lm, task, seed), prompted(lm, subset, task)
            own_trainable_copies(prepared, lm)
            run = fit(lm, prepared, config.steps, config.learning_rate, seed, train_data, report)
            accuracies[method, size].append(run.accuracy)
            if method == "prompt":
                accuracies["zero-shot", size].append(run.accuracy_before)
            result.points = summarise(accuracies)
            result.seconds = time.perf_counter() - started
            yield result


def prompt_vs_head(lm: LoadedModel, config: PromptVsHeadConfig = PromptVsHeadConfig(), progress=None, data=None):
    """Every run, finished."""
    return last(iter_prompt_vs_head(lm, config, progress, data))


def summarise(accuracies: dict[tuple[str, int], list[float]]) -> list[SizePoint]:
    """Mean ± std per (method, size) over the seeds done so far."""
    return [
        SizePoint(method, size, statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0, values)
        for (method, size), values in accuracies.items()
        if values
    ]
