"""ICL's accuracy versus the number of shots: `repeats` random draws of demonstrations per shot count,
scored with and without calibration, beside the majority and chance baselines. The demonstrations'
labels are shown as `label_mode` says (gold, random, shuffled, other-task: what demonstrations teach).
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .. import checks, i18n
from ..checks import ExplorerError
from ..datasets import Example, Task
from ..models import LoadedModel, Progress
from .calibration import best_index, calibrate, content_free_probs, normalise
from .label_modes import check_label_mode, relabel
from .one_query import MAX_SHOTS, fitting_prompt
from .prompts import build_prompt
from .scoring import BATCH_SIZE, greedy_answer, score_many, shared_prefix
from .tasks import draw_demonstrations, split_items

MAX_SHOT_COUNTS = 8
MAX_REPEATS = 10
MAX_ITEMS = 100
MAX_SWEEP_QUERIES = 2_000  # shot counts x draws x items: a few minutes on 2 cores at most
DEFAULT_SHOTS = (0, 1, 2, 4, 8)


@dataclass
class SweepPoint:
    shots: int
    accuracy_mean: float
    accuracy_std: float
    n_items: int
    repeats: int
    calibrated_mean: float | None = None
    calibrated_std: float | None = None
    accuracies: list[float] = dataclasses.field(default_factory=list)  # one per draw
    calibrated_accuracies: list[float] = dataclasses.field(default_factory=list)


@dataclass
class SweepResult:
    task: str
    model: str
    points: list[SweepPoint]
    majority_baseline: float  # always answering the evaluation set's most common label
    random_baseline: float  # guessing uniformly among the labels (0 for generation)
    chat: bool = False
    seconds: float = 0.0
    label_mode: str = "gold"  # what the demonstrations' labels show (`label_modes`)


def parse_shots(shots_list) -> list[int]:
    """'0, 1, 2, 4, 8' (or a list) -> sorted distinct shot counts, each checked."""
    if isinstance(shots_list, str):
        parts = [p for p in shots_list.replace(";", ",").replace(" ", ",").split(",") if p.strip()]
    else:
        parts = list(shots_list or [])
    if not parts:
        raise ExplorerError("shots_list is empty; give shot counts like '0, 1, 2, 4, 8'.")
    if len(parts) > MAX_SHOT_COUNTS:
        raise ExplorerError(
            "shots_list has {n} shot counts; the limit is {limit}.", n=len(parts), limit=MAX_SHOT_COUNTS
        )
    return sorted({checks.number(p, "each shot count", 0, MAX_SHOTS, integer=True) for p in parts})


def sweep(
    lm: LoadedModel,
    task: Task,
    shots_list=DEFAULT_SHOTS,
    repeats: int = 3,
    max_items: int = 40,
    seed: int = 0,
    chat: bool = False,
    progress: Progress | None = None,
    label_mode: str = "gold",
) -> SweepResult:
    """Accuracy versus shots over `repeats` random draws of demonstrations, with and without calibration;
    the demonstrations' labels shown as `label_mode` says (gold, random, shuffled, other-task)."""
    started = time.perf_counter()
    label_mode = check_label_mode(label_mode)
    shot_counts = parse_shots(shots_list)
    repeats = checks.number(repeats, "repeats", 1, MAX_REPEATS, integer=True)
    most = min(MAX_ITEMS, len(task.items) - max(shot_counts))
    max_items = checks.number(
        max_items,
        "max_items",
        1,
        most,
        integer=True,
        allowed=i18n.message(
            "1 to {most} (the task has {n} items and the largest shot count takes {k} of them as demonstrations)",
            {"most": most, "n": len(task.items), "k": max(shot_counts)},
        ),
    )
    draws = {k: 1 if k == 0 else repeats for k in shot_counts}  # 0 shots: every draw is the same prompt
    total = sum(draws.values()) * max_items
    if total > MAX_SWEEP_QUERIES:
        raise ExplorerError(
            "This sweep scores {total:,} prompts (shot counts x repeats x items); the limit is {limit:,}. "
            "Use fewer shot counts, repeats or items.",
            total=total,
            limit=MAX_SWEEP_QUERIES,
        )
    seed = checks.seed(seed)
    evaluation, pool = split_items(task, max_items, seed)
    done = 0
    points = []
    for k in shot_counts:
        plain, fixed = [], []
        for draw in range(draws[k]):
            step = {"k": k, "draw": draw + 1, "draws": draws[k]}

            def tick(message: str = i18n.message("{k} shots, draw {draw}/{draws}", step)) -> None:
                nonlocal done
                done += 1
                if progress:
                    progress(done / total, message)

            draw_seed = seed + 1000 * draw + k
            demos = relabel(task, draw_demonstrations(pool, k, draw_seed), label_mode, draw_seed)
            accuracy, calibrated = _evaluate_draw(lm, task, demos, evaluation, chat, tick)
            plain.append(accuracy)
            if calibrated is not None:
                fixed.append(calibrated)
        points.append(
            SweepPoint(
                k,
                statistics.fmean(plain),
                _std(plain),
                len(evaluation),
                draws[k],
                statistics.fmean(fixed) if fixed else None,
                _std(fixed) if fixed else None,
                plain,
                fixed,
            )
        )
    targets = [item.label for item in evaluation]
    majority = max(targets.count(t) for t in set(targets)) / len(targets)
    chance = 1 / len(task.labels) if task.kind == "classification" else 0.0
    return SweepResult(task.name, lm.name, points, majority, chance, chat, time.perf_counter() - started, label_mode)


def _evaluate_draw(
    lm: LoadedModel, task: Task, demos, evaluation: Sequence[Example], chat: bool, tick: Callable[[], None]
) -> tuple[float, float | None]:
    """Accuracy of one draw of demonstrations on the evaluation items (and calibrated, if classification)."""
    fitting_prompt(lm, task, demos, max(evaluation, key=lambda e: len(e.text)).text, chat)
    prompts = [build_prompt(task, demos, item.text, lm.tokenizer, chat) for item in evaluation]
    prefix = shared_prefix(lm, task, demos, chat)  # the demonstrations run once for every query
    n = len(evaluation)
    if task.kind == "generation":
        right = 0
        for item, prompt in zip(evaluation, prompts):
            right += _is_correct(greedy_answer(lm, prompt, prefix), item.label)
            tick()
        return right / n, None
    content_free = content_free_probs(lm, task, demos, chat, prefix)
    gold = [task.label_index(item.label) for item in evaluation]
    right = right_calibrated = 0
    for at in range(0, n, BATCH_SIZE):  # a batch at a time, to report progress
        for scores, answer in zip(score_many(lm, prompts[at : at + BATCH_SIZE], prefix), gold[at : at + BATCH_SIZE]):
            probs = normalise([s.logprob for s in scores])
            right += best_index(probs) == answer
            right_calibrated += best_index(calibrate(probs, content_free)) == answer
            tick()
    return right / n, right_calibrated / n


def _is_correct(answer: str, expected: str) -> bool:
    return answer.strip().lower().rstrip(".") == expected.strip().lower()


def _std(values: Sequence[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0
