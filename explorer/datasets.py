"""The labelled data sets shipped in `assets/`, loaded as tasks for in-context learning and tuning.

Each task carries its items plus what a prompt needs by default: an instruction, a
template with `{text}` and `{label}` slots, and a verbalizer (the word that stands for
each label). Classification files hold {"text", "label"} lines; generation files hold
{"input", "output"} lines and load into the same `Example(text, label)` shape.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .checks import ExplorerError

ASSETS = Path(__file__).resolve().parent.parent / "assets"


@dataclass(frozen=True)
class Example:
    text: str
    label: str  # the class for classification tasks, the expected output for generation tasks


@dataclass(frozen=True)
class Task:
    name: str
    kind: Literal["classification", "generation"]
    instruction: str
    template: str  # one example laid out; must contain "{text}" and "{label}"
    items: tuple[Example, ...]
    labels: tuple[str, ...] = ()  # classification only, in a fixed order
    verbalizers: tuple[str, ...] = ()  # the word for each label, same order as `labels`

    def label_index(self, label: str) -> int:
        return self.labels.index(label)


@dataclass(frozen=True)
class _Spec:
    file: str
    kind: Literal["classification", "generation"]
    instruction: str
    template: str
    labels: tuple[str, ...] = ()
    verbalizers: tuple[str, ...] = ()


_SPECS = {
    "sentiment": _Spec(
        "sentiment.jsonl",
        "classification",
        "Classify the sentiment of each review as positive or negative.",
        "Review: {text}\nSentiment: {label}",
        ("positive", "negative"),
        ("positive", "negative"),
    ),
    "topic": _Spec(
        "topic.jsonl",
        "classification",
        "Classify each news headline by topic: sports, business, science or world.",
        "Headline: {text}\nTopic: {label}",
        ("sports", "business", "science", "world"),
        ("sports", "business", "science", "world"),
    ),
    "antonyms": _Spec(
        "antonyms.jsonl",
        "generation",
        "Give the opposite of each word.",
        "Word: {text}\nOpposite: {label}",
    ),
}

TASK_NAMES: tuple[str, ...] = tuple(_SPECS)


@functools.lru_cache(maxsize=len(_SPECS))  # the files never change while the app runs
def load_task(name: str) -> Task:
    """The built-in task `name` ('sentiment', 'topic' or 'antonyms') with its items."""
    spec = _SPECS.get(name)
    if spec is None:
        raise ExplorerError(f"Unknown task {name!r}; built-in tasks: {', '.join(TASK_NAMES)}.")
    items = tuple(_read(ASSETS / spec.file, spec.kind))
    return Task(name, spec.kind, spec.instruction, spec.template, items, spec.labels, spec.verbalizers)


def _read(path: Path, kind: str) -> list[Example]:
    keys = ("text", "label") if kind == "classification" else ("input", "output")
    with path.open(encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines if line.strip()]
    return [Example(row[keys[0]], row[keys[1]]) for row in rows]
