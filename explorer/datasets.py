"""The data shipped in `assets/`, in English and Chinese: tasks for prompting and tuning,
cloze sentences for the masked-LM tab and a general passage to measure forgetting.

Each task carries its items plus what a prompt needs by default: an instruction, a
template with `{text}` and `{label}` slots, and a verbalizer (the word that stands for
each label). Classification files hold {"text", "label"} lines; generation files hold
{"input", "output"} lines and load into the same `Example(text, label)` shape. Label ids
stay English in every language ("positive"); only the verbalizers are words of the
task's language ("好评"). Chinese files are written in Simplified Chinese.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .checks import ExplorerError

ASSETS = Path(__file__).resolve().parent.parent / "assets"
LANGUAGES = ("en", "zh")  # the languages the shipped data is written in


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
    language: str = "en"  # the language of the items and verbalizers, one of LANGUAGES

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
    language: str = "en"
    listed: bool = True  # offered as a prompting task (in TASK_NAMES); False: a training set only


_SENTIMENT_ZH = _Spec(
    "sentiment_zh.jsonl",
    "classification",
    "判断每条评论的情感是好评还是差评。",
    "评论：{text}\n情感：{label}",
    ("positive", "negative"),  # label ids stay English; the verbalizers are the Chinese words
    ("好评", "差评"),
    language="zh",
)
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
    "sentiment_zh": _SENTIMENT_ZH,
    "topic_zh": _Spec(
        "topic_zh.jsonl",
        "classification",
        "按主题给每条新闻标题分类：体育、财经、科技或国际。",
        "新闻标题：{text}\n类别：{label}",
        ("sports", "business", "science", "world"),
        ("体育", "财经", "科技", "国际"),
        language="zh",
    ),
    # Reviews of their own for the Tuning tab's Chinese runs, so that no tuned item is also
    # an ICL demonstration of sentiment_zh.
    "sentiment_zh_train": dataclasses.replace(_SENTIMENT_ZH, file="train_zh.jsonl", listed=False),
}

TASK_NAMES: tuple[str, ...] = tuple(name for name, spec in _SPECS.items() if spec.listed)
# The task each language's short training runs (the Tuning tab) split into train and held-out items.
TRAINING_TASKS = {"en": "sentiment", "zh": "sentiment_zh_train"}


@functools.lru_cache(maxsize=len(_SPECS))  # the files never change while the app runs
def load_task(name: str) -> Task:
    """The built-in task `name` (one of TASK_NAMES, or a training set of TRAINING_TASKS) with its items."""
    spec = _SPECS.get(name)
    if spec is None:
        raise ExplorerError(
            "Unknown task {name!r}; built-in tasks: {allowed}.", name=name, allowed=", ".join(TASK_NAMES)
        )
    items = tuple(_read(ASSETS / spec.file, spec.kind))
    return Task(name, spec.kind, spec.instruction, spec.template, items, spec.labels, spec.verbalizers, spec.language)


def training_task(language: str) -> Task:
    """The labelled set the Tuning tab trains on in `language` ('en', 'zh', or a locale such as 'zh-CN')."""
    return load_task(TRAINING_TASKS[data_language(language)])


def general_passage(language: str) -> str:
    """A fixed encyclopaedic passage in `language`: its perplexity before and after tuning shows forgetting."""
    return (ASSETS / f"general_{data_language(language)}.txt").read_text(encoding="utf-8").strip()


@dataclass(frozen=True)
class Cloze:
    text: str  # a sentence with exactly one "[MASK]"
    answers: tuple[str, ...]  # the acceptable whole words for the blank
    category: str  # what it tests: capitals, numbers, opposites, ...
    position: Literal["start", "middle", "end"]  # where the blank is: what the left context can know


def load_cloze(language: str) -> tuple[Cloze, ...]:
    """The fill-in-the-blank sentences in `language` (assets/cloze.jsonl, assets/cloze_zh.jsonl)."""
    code = data_language(language)
    path = ASSETS / ("cloze.jsonl" if code == "en" else f"cloze_{code}.jsonl")
    return tuple(Cloze(row["text"], tuple(row["answers"]), row["category"], row["position"]) for row in _rows(path))


def data_language(language: str) -> str:
    """The data's language for a language tag: 'zh-CN' and 'zh' → 'zh', 'en-GB' → 'en'."""
    code = str(language).split("-")[0].lower()
    if code not in LANGUAGES:
        raise ExplorerError(
            "No data in language {language!r}; available: {allowed}.", language=language, allowed=", ".join(LANGUAGES)
        )
    return code


def _read(path: Path, kind: str) -> list[Example]:
    keys = ("text", "label") if kind == "classification" else ("input", "output")
    return [Example(row[keys[0]], row[keys[1]]) for row in _rows(path)]


def _rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]
