"""How few parameters suffice: a LoRA rank sweep and a prompt-length sweep, and where each method's
trainable parameters sit.

Every point is a short seeded run of the shared training loop (`training.train_one`): the new head
alone (the fewest parameters a classifier can train), LoRA at each rank (peft's default target
modules), prompt tuning with each number of virtual tokens. Accuracy against trainable parameters
(log scale) shows how quickly accuracy saturates: the intrinsic dimension of a task is small
(Aghajanyan et al., 2021). Placement counts every catalogue method's trainable parameters per layer
and module from the real modules (`placement`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

from peft.tuners.lora import LoraLayer

from .. import checks, i18n
from ..checks import ExplorerError
from ..i18n import t
from ..lm import decoder_layers
from ..models import LoadedModel, Progress
from .experiment import last, share, whole_numbers
from .methods import MAX_RANK, MAX_VIRTUAL_TOKENS, METHODS, TuningSettings, prepare
from .placement import Placement, placement, positions
from .training import MAX_LEARNING_RATE, MAX_STEPS, LabelledData, check_passage, sentiment_data, train_one

MAX_SWEEP_VALUES = 8


@dataclass(frozen=True)
class BudgetConfig:
    ranks: tuple[int, ...] | str = "1, 2, 4, 8, 16, 64"  # LoRA ranks
    prompt_lengths: tuple[int, ...] | str = "1, 4, 16"  # virtual tokens of prompt tuning
    steps: int = 8  # optimiser steps per run
    learning_rate: float = 3e-3  # the head alone and LoRA
    # Prompt tuning's (its head trains at it too: Lester et al.'s 0.3 makes a short run's head overshoot).
    prompt_learning_rate: float = 3e-3
    seed: int = 0


@dataclass
class BudgetPoint:
    method: str  # "head", "lora" or "prompt"
    setting: int  # LoRA's rank, or prompt tuning's virtual tokens (0 for the head alone)
    trainable: int  # counted from the instantiated modules, the new head included
    accuracy_before: float
    accuracy: float
    ppl_before: float
    ppl_after: float
    losses: list[float]
    stopped: str | None


@dataclass
class BudgetResult:
    model: str
    points: list[BudgetPoint]
    max_rank: int  # the narrowest layer LoRA adapts
    positions: list[str]  # "input", "0", ..., "output"
    placements: list[Placement]  # every catalogue method, at the default settings
    config: dict
    seconds: float


def lora_width(lm: LoadedModel) -> tuple[int, str, tuple[int, int]]:
    """The largest rank LoRA can take on this model: the narrowest side of the layers it adapts."""
    model = prepare(lm, "lora", TuningSettings(lora_r=1)).model
    layers = [(name, m) for name, m in model.named_modules() if isinstance(m, LoraLayer)]
    name, narrowest = min(layers, key=lambda item: min(item[1].in_features, item[1].out_features))
    shape = (narrowest.out_features, narrowest.in_features)
    return min(shape), name.split(".")[-1], shape


def checked(config: BudgetConfig, lm: LoadedModel) -> tuple[BudgetConfig, int]:
    most, module, shape = lora_width(lm)
    ranks = whole_numbers(config.ranks, "ranks", 1, MAX_RANK, MAX_SWEEP_VALUES)
    if ranks[-1] > most:
        raise ExplorerError(
            "rank {rank} is larger than the layer it adapts ({module}: {rows}×{cols}); allowed: 1 to {most}.",
            rank=ranks[-1],
            module=module,
            rows=shape[0],
            cols=shape[1],
            most=most,
        )
    rate = dict(low=0, high=MAX_LEARNING_RATE, low_open=True)
    return BudgetConfig(
        ranks=tuple(ranks),
        prompt_lengths=tuple(
            whole_numbers(config.prompt_lengths, "prompt_lengths", 1, MAX_VIRTUAL_TOKENS, MAX_SWEEP_VALUES)
        ),
        steps=checks.number(config.steps, "steps", 1, MAX_STEPS, integer=True),
        learning_rate=checks.number(config.learning_rate, "learning_rate", **rate),
        prompt_learning_rate=checks.number(config.prompt_learning_rate, "prompt_learning_rate", **rate),
        seed=checks.seed(config.seed),
    ), most


def placements(lm: LoadedModel, settings: TuningSettings) -> list[Placement]:
    """Every catalogue method `lm` can take set up on it (nothing trained), its trainable parameters placed."""
    placed = []
    for method in METHODS:
        try:
            placed += placement(method, prepare(lm, method, settings).model)
        except ExplorerError:  # a peft method with no target modules for this architecture: not placed
            continue
    return placed


def iter_budget(
    lm: LoadedModel,
    config: BudgetConfig = BudgetConfig(),
    progress: Progress | None = None,
    data: LabelledData | None = None,
) -> Iterator[BudgetResult]:
    """The placement first, then the result so far after each run (head, each rank, each prompt length)."""
    started = time.perf_counter()
    config, most = checked(config, lm)
    data = data or sentiment_data(i18n.current())
    check_passage(lm, data)
    if progress:
        progress(0.0, t("experiments.budget.placement"))
    result = BudgetResult(
        lm.name,
        [],
        most,
        positions(len(decoder_layers(lm.model))),
        placements(lm, TuningSettings(num_labels=len(data.labels))),
        vars(config),
        0.0,
    )
    yield result
    runs = [("head", 0)] + [("lora", r) for r in config.ranks] + [("prompt", n) for n in config.prompt_lengths]
    for index, (method, setting) in enumerate(runs):
        settings = TuningSettings(
            lora_r=setting or 1, prompt_tokens=setting or 1, num_labels=len(data.labels)
        )  # only the method's own setting matters
        rate = config.prompt_learning_rate if method == "prompt" else config.learning_rate
        label = t(f"experiments.budget.{method}", n=setting)
        run = train_one(
            lm, method, config.steps, rate, config.seed, settings, data, share(progress, index, len(runs), label)
        )
        result.points.append(
            BudgetPoint(
                method,
                setting,
                run.trainable,
                run.accuracy_before,
                run.accuracy,
                run.ppl_before,
                run.ppl_after,
                run.losses,
                run.stopped,
            )
        )
        result.seconds = time.perf_counter() - started
        yield result


def budget(lm: LoadedModel, config: BudgetConfig = BudgetConfig(), progress=None, data=None) -> BudgetResult:
    """Every run, finished."""
    return last(iter_budget(lm, config, progress, data))
