"""A poll's question, frozen from a tab's inputs, with the model's own answer to reveal beside the class's.

Each builder runs the tab's own compute and keeps what a student needs (the question, its options)
apart from what the lecturer reveals (the model's number for each option, and its pick):
- `next_token`: which token comes next? The most likely next tokens (Generation's `next_token`), each
  with the model's probability;
- `icl_label`: which label will the model pick? The task's labels, each with its probability after the
  prompt (ICL's `run_icl`);
- `next_merge`: which pair merges next? The most frequent adjacent pairs after `step` merges of the toy
  BPE (Tokenisation's `toy_bpe`), each with its share of their counts; BPE merges the most frequent;
- `custom`: a question, options and probabilities typed by the lecturer (or sent by a script).
Options never show the numbers: they are the answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import checks, generation, icl, tokenisation
from ..checks import ExplorerError
from ..datasets import Task
from ..i18n import t
from ..models import LoadedModel
from ..tokenisation import toy_bpe

MAX_OPTIONS = 8
MIN_OPTIONS = 2
DEFAULT_OPTIONS = 4
MAX_QUESTION_CHARS = 500
MAX_OPTION_CHARS = 80
QUOTED_CHARS = 160  # the end of a prompt (or a query) quoted in a question


@dataclass(frozen=True)
class Question:
    text: str  # the question as the students read it
    options: tuple[str, ...]
    probs: tuple[float, ...]  # the model's own number for each option, revealed with the tally
    answer: int | None  # the option the model (or the algorithm) picks; None if it has no pick
    measure: str  # what `probs` are, for the reveal's legend


def next_token(
    lm: LoadedModel, prompt: str, use_chat_template: bool = False, n_options: int = DEFAULT_OPTIONS
) -> Question:
    """Which token comes next? The model's most likely next tokens, with their (raw) probabilities."""
    n_options = _n_options(n_options)
    result = generation.next_token(lm, prompt, use_chat_template=use_chat_template, top_n=n_options)
    candidates = result.candidates[:n_options]  # the most likely first, by raw_prob
    return Question(
        text=t("poll.question.next_token", model=lm.name, prompt=_quoted(prompt)),
        options=tuple(_visible(c.label) for c in candidates),
        probs=tuple(c.raw_prob for c in candidates),
        answer=0,  # the most likely token: greedy decoding's pick
        measure=t("poll.measure.next_token"),
    )


def icl_label(lm: LoadedModel, task: Task, query: str, shots: int = 4, seed: int = 0, chat: bool = False) -> Question:
    """Which label will the model pick? The task's labels, with the model's probabilities after the prompt."""
    result = icl.run_icl(lm, task, query, shots, seed, chat, calibrated=False)
    if not result.labels:
        raise ExplorerError(
            "Task {task!r} generates its answer instead of picking a label; a poll must ask about a "
            "classification task (e.g. sentiment or topic).",
            task=task.name,
        )
    return Question(
        text=t("poll.question.icl_label", model=lm.name, query=_quoted(query), shots=shots),
        options=tuple(s.label if s.label == s.verbalizer else f"{s.label} ({s.verbalizer})" for s in result.labels),
        probs=tuple(s.prob for s in result.labels),
        answer=[s.label for s in result.labels].index(result.prediction),
        measure=t("poll.measure.icl_label"),
    )


def next_merge(
    corpus: str,
    step: int = 0,
    end_of_word: str = tokenisation.END_OF_WORD,
    n_options: int = DEFAULT_OPTIONS,
) -> Question:
    """Which pair merges next after `step` merges? The most frequent adjacent pairs, with their share of
    the counts among the options; BPE merges the most frequent (the first seen wins a tie)."""
    n_options = _n_options(n_options)
    step = checks.number(step, "step", 0, toy_bpe.MAX_MERGES - 1, integer=True)
    trained = toy_bpe.train_bpe(corpus, max(step, 1), end_of_word)  # checks the corpus and the marker
    if step:
        words = [(tuple(trained.segmentations[w]), c) for w, c in trained.word_counts.items()]
    else:
        words = [(toy_bpe.split_into_symbols(w, trained.end_of_word), c) for w, c in trained.word_counts.items()]
    if len(trained.merges) < step or not (stats := toy_bpe.count_pairs(words)):
        raise ExplorerError(
            "After {step} merges every word is a single symbol: no pair is left to merge. "
            "Ask about an earlier step (at most {last}).",
            step=step,
            last=max(len(trained.merges) - 1, 0),
        )
    winner, _ = toy_bpe.most_frequent_pair(stats, words)
    ranked = sorted(stats.items(), key=lambda item: -item[1])  # stable: a tie keeps the first seen first
    options = [winner] + [pair for pair, _ in ranked if pair != winner][: n_options - 1]
    total = sum(stats[pair] for pair in options)
    return Question(
        text=t("poll.question.next_merge", step=step, corpus=_quoted(corpus)),
        options=tuple(f"{a} + {b}" for a, b in options),
        probs=tuple(stats[pair] / total for pair in options),
        answer=0,
        measure=t("poll.measure.next_merge"),
    )


def custom(question, options, probabilities=None) -> Question:
    """A question and its options as typed: options one per line (or a list); `probabilities`, if
    given, one number in [0, 1] per option (commas, spaces or lines between them)."""
    text = checks.text(question, "question", MAX_QUESTION_CHARS).strip()
    choices = _listed(options, "options", "\n")
    if not MIN_OPTIONS <= len(choices) <= MAX_OPTIONS:
        raise ExplorerError(
            "options has {n} answer(s); a poll must have {low} to {high}, one per line.",
            n=len(choices),
            low=MIN_OPTIONS,
            high=MAX_OPTIONS,
        )
    choices = [checks.text(choice, "each option", MAX_OPTION_CHARS).strip() for choice in choices]
    given = probabilities is not None and not (isinstance(probabilities, str) and not probabilities.strip())
    numbers = _listed(probabilities, "probabilities", None) if given else []
    if numbers and len(numbers) != len(choices):
        raise ExplorerError(
            "probabilities has {n} number(s) for {k} options; there must be one per option, or none.",
            n=len(numbers),
            k=len(choices),
        )
    probs = [checks.number(p, "probabilities", 0, 1) for p in numbers]
    return Question(
        text=text,
        options=tuple(choices),
        probs=tuple(probs),
        answer=max(range(len(probs)), key=probs.__getitem__) if probs else None,
        measure=t("poll.measure.custom"),
    )


# ---------------------------------------------------------------- helpers


def _n_options(n) -> int:
    return checks.number(n, "n_options", MIN_OPTIONS, MAX_OPTIONS, integer=True)


def _quoted(text: str) -> str:
    """The end of a long text (what a prediction depends on most), marked as cut."""
    text = " ".join(text.split())
    return text if len(text) <= QUOTED_CHARS else "…" + text[-QUOTED_CHARS:]


def _visible(token: str) -> str:
    """A token as a button label: spaces and line breaks made visible (' Paris' is '␣Paris')."""
    return token.replace(" ", "␣").replace("\n", "↵").replace("\t", "⇥") or "∅"


def _listed(value, name: str, separator: str | None) -> list:
    """A list as sent, or a string split on `separator` (None: commas, semicolons or whitespace)."""
    if isinstance(value, (list, tuple)):
        return list(value)
    checks.text(value, name)
    if separator is None:
        value = value.replace(",", " ").replace(";", " ")
    return [part for part in value.split(separator) if part.strip()]
