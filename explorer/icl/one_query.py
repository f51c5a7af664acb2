"""ICL on one query: the exact prompt, each label's probability (calibrated or not), the prediction.

A classification task scores each label's verbalizer after the prompt (`scoring`) and calibrates the
probabilities against content-free queries (`calibration`). A generation task (antonyms) has no
labels: its answer is the greedy continuation of the prompt up to the end of the line.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass

from .. import checks, i18n
from ..checks import ExplorerError
from ..datasets import Example, Task
from ..lm import check_fits
from ..models import LoadedModel
from ..segments import token_labels
from .calibration import best_index, calibrate, content_free_probs, normalise
from .prompts import Prompt, build_prompt, encode
from .scoring import MAX_NEW_TOKENS, greedy_answer, score_many, shared_prefix
from .tasks import draw_demonstrations

MAX_SHOTS = 32
MAX_QUERY_CHARS = 2_000


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
        result.prediction = task.labels[best_index(probs)]
        if calibrated:
            result.content_free_probs = content_free_probs(lm, task, demos, chat, prefix)
            fixed = calibrate(probs, result.content_free_probs)
            for entry, p in zip(result.labels, fixed):
                entry.calibrated_prob = p
            result.calibrated_prediction = task.labels[best_index(fixed)]
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
