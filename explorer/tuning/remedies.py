"""Forgetting and its three remedies, side by side: the same data, steps and seed for every run.

- full fine-tuning, no remedy: every weight follows the task alone;
- replay (`replay`): general text's language-modelling loss mixed into every step, weighted by
  `replay_ratio` (GPT-1's auxiliary objective, λ = 0.5 in the paper);
- regularisation (`anchors`): L2-SP's λ/2·‖θ − θ₀‖² towards the pre-trained weights, or EWC's
  Fisher-weighted pull;
- parameter isolation: LoRA, whose pre-trained weights never move (an entry of `methods`).
Each run reports the task's held-out accuracy, the general passage's perplexity before and after
(forgetting), and the drift ‖θ − θ₀‖ of every layer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import nn

from .. import checks, datasets, i18n
from ..i18n import t
from ..lm import decoder_layers
from ..models import LoadedModel, Progress
from . import anchors, replay
from .experiment import last, share
from .methods import MAX_RANK, Prepared, TuningSettings, prepare
from .placement import positions
from .training import (
    MAX_LEARNING_RATE,
    MAX_STEPS,
    LabelledData,
    check_passage,
    fit,
    own_trainable_copies,
    perplexity,
    sentiment_data,
)

MAX_STRENGTH = 1e6
FISHER_WINDOWS = 4  # windows of general text whose squared gradients estimate EWC's Fisher
REMEDIES = ("full", "replay", "l2sp", "lora")  # the runs, in order; "l2sp" is "ewc" when EWC is on


@dataclass(frozen=True)
class RemediesConfig:
    steps: int = 12  # optimiser steps of every run (batches of training.BATCH_SIZE sentences)
    learning_rate: float = 3e-4  # of full fine-tuning and its two remedies (high enough to forget)
    replay_ratio: float = 0.5  # weight of the general text's LM loss against the task's (0: no replay)
    l2sp_strength: float = 0.1  # λ in λ/2·‖θ − θ₀‖² (Adam's steps are ~lr per weight: λ = 0.1 already pulls)
    ewc: bool = False  # weigh each weight's pull by a diagonal Fisher from general text (EWC)
    lora_r: int = 8  # LoRA's rank
    lora_learning_rate: float = 2e-3  # LoRA's own: a low-rank update wants larger steps
    seed: int = 0  # head initialisation, batches, replay windows

    def validated(self) -> RemediesConfig:
        rate = dict(low=0, high=MAX_LEARNING_RATE, low_open=True)
        return RemediesConfig(
            steps=checks.number(self.steps, "steps", 1, MAX_STEPS, integer=True),
            learning_rate=checks.number(self.learning_rate, "learning_rate", **rate),
            replay_ratio=checks.number(self.replay_ratio, "replay_ratio", 0, 1),
            l2sp_strength=checks.number(self.l2sp_strength, "l2sp_strength", 0, MAX_STRENGTH),
            ewc=bool(self.ewc),
            lora_r=checks.number(self.lora_r, "lora_r", 1, MAX_RANK, integer=True),
            lora_learning_rate=checks.number(self.lora_learning_rate, "lora_learning_rate", **rate),
            seed=checks.seed(self.seed),
        )


@dataclass
class RemedyRun:
    method: str  # "full", "replay", "l2sp" or "ewc", "lora"
    trainable: int
    accuracy_before: float  # held-out sentiment accuracy
    accuracy: float
    ppl_before: float  # the general passage's perplexity through the model
    ppl_after: float
    ppl_update_removed: float | None  # LoRA: with its update switched off (the pre-trained model, untouched)
    drift: list[float]  # ‖θ − θ₀‖ at each of RemediesResult.positions
    losses: list[float]  # the task's cross-entropy at each step
    steps_done: int
    stopped: str | None
    seconds: float


@dataclass
class RemediesResult:
    model: str
    positions: list[str]  # "input", "0", "1", ..., "output"
    runs: list[RemedyRun]
    config: dict
    seconds: float
    general_text: str  # the passage whose perplexity is measured, in the data's language


def iter_remedies(
    lm: LoadedModel,
    config: RemediesConfig = RemediesConfig(),
    progress: Progress | None = None,
    data: LabelledData | None = None,
) -> Iterator[RemediesResult]:
    """The result so far (one object, grown) after each run (full, replay, L2-SP or EWC, LoRA), on `data`
    (default: the sentiment set)."""
    config = config.validated()
    data = data or sentiment_data(i18n.current())  # a Chinese page: Chinese reviews, a Chinese passage
    check_passage(lm, data)
    started = time.perf_counter()
    where = positions(len(decoder_layers(lm.model)))
    result = RemediesResult(lm.name, where, [], vars(config), 0.0, data.passage)
    methods = [("ewc" if config.ewc and m == "l2sp" else m) for m in REMEDIES]
    for index, method in enumerate(methods):
        report = share(progress, index, len(methods), t(f"experiments.remedy.{method}"))
        result.runs.append(run_remedy(lm, method, config, data, len(where) - 2, report))
        result.seconds = time.perf_counter() - started
        yield result


def remedies(lm: LoadedModel, config: RemediesConfig = RemediesConfig(), progress=None, data=None) -> RemediesResult:
    """Every run, finished."""
    return last(iter_remedies(lm, config, progress, data))


def run_remedy(
    lm: LoadedModel, method: str, config: RemediesConfig, data: LabelledData, n_layers: int, report: Progress
) -> RemedyRun:
    """One run: set up, anchor θ₀, add the method's term to the task loss, train, measure."""
    started = time.perf_counter()
    lora = method == "lora"
    settings = TuningSettings(lora_r=config.lora_r, num_labels=len(data.labels))
    prepared = prepare(lm, "lora" if lora else "full", settings, config.seed, total_steps=config.steps)
    anchored = anchors.capture(prepared, lm)  # before the clones: θ₀ stays the cached model's
    own_trainable_copies(prepared, lm)
    language = datasets.load_task(data.task).language  # of the general text to replay
    extra = remedy_term(lm, method, config, prepared, anchored, report, language)
    rate = config.lora_learning_rate if lora else config.learning_rate
    run = fit(lm, prepared, config.steps, rate, config.seed, data, report, extra)
    removed = None
    if lora:  # parameter isolation: switch the update off and the pre-trained model is back
        with prepared.model.disable_adapter():
            removed = perplexity(prepared.model, lm, data.passage)
    return RemedyRun(
        method=method,
        trainable=run.trainable,
        accuracy_before=run.accuracy_before,
        accuracy=run.accuracy,
        ppl_before=run.ppl_before,
        ppl_after=run.ppl_after,
        ppl_update_removed=removed,
        drift=anchors.drift(prepared.model, anchored, n_layers),
        losses=run.losses,
        steps_done=run.steps_done,
        stopped=run.stopped,
        seconds=time.perf_counter() - started,
    )


def remedy_term(
    lm: LoadedModel,
    method: str,
    config: RemediesConfig,
    prepared: Prepared,
    anchored: dict[str, anchors.Anchor],
    report: Progress,
    language: str = "en",
) -> Callable[[nn.Module, int], torch.Tensor] | None:
    """What the method adds to the task's loss at each step: replay's weighted LM loss on general
    text in `language`, or the pull towards θ₀ (L2-SP, EWC); nothing for plain full fine-tuning and LoRA."""
    if method == "replay" and config.replay_ratio > 0:
        general = replay.replay_batches(lm, config.steps, config.seed, language)
        return lambda model, step: config.replay_ratio * replay.language_modelling_loss(model, lm, general[step])
    if method in ("l2sp", "ewc") and config.l2sp_strength > 0:
        fisher = None
        if method == "ewc":
            report(0.0, t("experiments.progress.fisher"))
            windows = replay.replay_batches(lm, FISHER_WINDOWS, config.seed + 1, language)
            fisher = anchors.diagonal_fisher(prepared.model, lm, anchored, [batch[0] for batch in windows])
        return lambda model, step: anchors.penalty(anchored, config.l2sp_strength, fisher)
    return None
