"""ICL runs: one query (each label's probability, calibrated or not) and the sweep of accuracy vs shots.

Calibration follows Zhao et al. (2021), "Calibrate Before Use": the label distribution the model
gives to content-free queries ("N/A", "", "[MASK]") estimates its bias in this context; dividing by
it (and renormalising) is the paper's diagonal W = diag(p_cf)^-1. A generation task (antonyms) has
no labels: its answer is the greedy continuation of the prompt up to the end of the line.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .. import checks, i18n
from ..checks import ExplorerError
from ..datasets import Example, Task
from ..lm import check_fits
from ..models import LoadedModel, Progress
from ..segments import token_labels
from .label_modes import check_label_mode, relabel
from .prompts import Prompt, build_prompt, encode
from .scoring import BATCH_SIZE, MAX_NEW_TOKENS, Prefix, greedy_answer, score_many, shared_prefix
from .tasks import draw_demonstrations, split_items

CONTENT_FREE = ("N/A", "", "[MASK]")
MAX_SHOTS = 32
MAX_QUERY_CHARS = 2_000
MAX_SHOT_COUNTS = 8
MAX_REPEATS = 10
MAX_ITEMS = 100
MAX_SWEEP_QUERIES = 2_000  # shot counts x draws x items: a few minutes on 2 cores at most
DEFAULT_SHOTS = (0, 1, 2, 4, 8)


# ---------------------------------------------------------------- one query


@dataclass
class LabelScore:
    label: str
    verbalizer: str
    logprob: float
    prob: float  # normalised over the labels
    calibrated_prob: float | None = None
    tokens: list[str] = dataclasses.field(default_factory=list)  # the scored tokens of the verbalizer
    token_ids: list[int] = dataclasses.field(default_factory=list)  # the same tokens, as ids


@dataclass
class IclResult:
    model: str
    task: str
    shots: int
    prompt: str  # exactly what the model reads
    prompt_tokens: list[str]
    labels: list[LabelScore]  # empty for a generation task
    prediction: str
    n_prompt_tokens: int = 0
    context_length: int = 0
    demonstrations: list[Example] = dataclasses.field(default_factory=list)
    calibrated_prediction: str | None = None
    content_free_probs: list[float] | None = None
    expected: str | None = None  # generation tasks: the data set's answer when the query is one of its items
    seconds: float = 0.0


def run_icl(
    lm: LoadedModel,
    task: Task,
    query: str,
    shots: int = 4,
    seed: int = 0,
    chat: bool = False,
    calibrated: bool = True,
) -> IclResult:
    """Score one query: the exact prompt, each label's log-prob and probability, the prediction."""
    started = time.perf_counter()
    query = checks.text(query, "query", MAX_QUERY_CHARS).strip()
    shots = checks.number(shots, "shots", 0, MAX_SHOTS, integer=True)
    pool = [item for item in task.items if item.text != query]  # never show the answer as a demonstration
    demos = draw_demonstrations(pool, shots, checks.seed(seed))
    prompt = fitting_prompt(lm, task, demos, query, chat)
    ids = encode(lm.tokenizer, prompt.text, chat)
    result = IclResult(
        lm.name,
        task.name,
        shots,
        prompt.text,
        token_labels(lm.tokenizer, ids),  # a cut character shows its bytes (⟨e5 a5⟩), never �
        [],
        "",
        len(ids),
        lm.context_length,
        demos,
    )
    prefix = shared_prefix(lm, task, demos, chat)  # run once for the query and the content-free queries
    if task.kind == "generation":
        result.prediction = greedy_answer(lm, prompt, prefix)
        result.expected = next((item.label for item in task.items if item.text == query), None)
    else:
        scores = score_many(lm, [prompt], prefix)[0]
        probs = normalise([s.logprob for s in scores])
        result.labels = [
            LabelScore(label, word, s.logprob, p, tokens=list(s.tokens), token_ids=list(s.token_ids))
            for label, word, s, p in zip(task.labels, task.verbalizers, scores, probs)
        ]
        result.prediction = task.labels[_best(probs)]
        if calibrated:
            result.content_free_probs = content_free_probs(lm, task, demos, chat, prefix)
            fixed = calibrate(probs, result.content_free_probs)
            for entry, p in zip(result.labels, fixed):
                entry.calibrated_prob = p
            result.calibrated_prediction = task.labels[_best(fixed)]
    result.seconds = time.perf_counter() - started
    return result


def fitting_prompt(lm: LoadedModel, task: Task, demos: Sequence[Example], query: str, chat: bool) -> Prompt:
    """The prompt, or an error saying how many shots fit the model's context."""
    prompt = build_prompt(task, demos, query, lm.tokenizer, chat)
    reserve = max([MAX_NEW_TOKENS] + [len(c) for c in prompt.continuations])  # at most a token per character
    limit = lm.context_length - reserve
    why = i18n.message(
        "{model}'s context of {n:,} tokens less {reserve} for the answer",
        {"model": lm.name, "n": lm.context_length, "reserve": reserve},
    )

    def length(k: int) -> int:
        return len(encode(lm.tokenizer, build_prompt(task, demos[:k], query, lm.tokenizer, chat).text, chat))

    try:
        check_fits(
            lm,
            length(len(demos)),
            limit=limit,
            why=why,
            what="prompt (instruction, template, demonstrations and query)",
        )
    except ExplorerError as error:
        fitting = next((k for k in range(len(demos) - 1, -1, -1) if length(k) <= limit), None)
        advice = (
            i18n.message("At most {k} shots fit.", {"k": fitting})
            if fitting is not None
            else i18n.message("Not even 0 shots fit: shorten the query.", {})
        )
        raise ExplorerError("{error} {advice}", error=str(error), advice=advice) from None
    return prompt


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


def _best(probs: Sequence[float]) -> int:
    return max(range(len(probs)), key=probs.__getitem__)


# ---------------------------------------------------------------- sweep


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
            right += _best(probs) == answer
            right_calibrated += _best(calibrate(probs, content_free)) == answer
            tick()
    return right / n, right_calibrated / n


def _is_correct(answer: str, expected: str) -> bool:
    return answer.strip().lower().rstrip(".") == expected.strip().lower()


def _std(values: Sequence[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0
