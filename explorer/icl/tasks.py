"""ICL tasks: a built-in task with the user's edits, or a task pasted by the user, checked once.

A task (`datasets.Task`) carries what a prompt needs: an instruction, a template with `{text}`
and `{label}` slots, the labels and their *verbalizers* (the word that stands for each label),
and the items demonstrations are drawn from.
"""

from __future__ import annotations

import dataclasses
import random
import re
from collections.abc import Sequence

from .. import i18n
from ..checks import ExplorerError
from ..datasets import Example, Task, load_task

CUSTOM = "custom"  # the task name for a task pasted by the user
CUSTOM_TEMPLATE = "Input: {text}\nLabel: {label}"  # a custom task's template when none is given
MAX_CUSTOM_EXAMPLES = 200
# Pasted tasks may be typed with a Chinese keyboard: full-width punctuation works like its ASCII twin
# (str.strip() already drops the full-width space U+3000).
ARROW = re.compile(r"(?:=|＝)(?:>|＞)")  # "text => label", also "text ＝＞ label"
ENTRY_SEPARATOR = re.compile(r"[,，;；]")  # between 'label: word' entries on one line
COLON = re.compile(r"[:：]")  # between a label and its word


def resolve_task(
    task: str | None = "sentiment",
    template: str | None = "",
    verbalizers: str | None = "",
    instruction: str | None = "",
    custom_examples: str | None = "",
) -> Task:
    """A built-in task with the user's edits, or the pasted custom task. An empty (or None) template,
    verbalizers or instruction keeps the built-in task's own; a custom task takes its labels from
    `verbalizers` and its demonstrations from `custom_examples`."""
    name = (task or "sentiment").strip()
    template, verbalizers, instruction = template or "", verbalizers or "", instruction or ""
    if name == CUSTOM:
        return custom_task(verbalizers, custom_examples or "", template, instruction)
    return configure(load_task(name), template, verbalizers, instruction)


def configure(task: Task, template: str = "", verbalizers: str = "", instruction: str = "") -> Task:
    """`task` with the user's template, verbalizer words and instruction (each '' keeps the task's).

    `verbalizers` is one `label: word` pair per line (or comma-separated), one for every label.
    """
    changes = {}
    if template.strip():
        changes["template"] = template
    if instruction.strip():
        changes["instruction"] = instruction.strip()
    if verbalizers.strip() and task.kind == "classification":
        words = dict(parse_verbalizers(verbalizers))
        unknown = [label for label in words if label not in task.labels]
        missing = [label for label in task.labels if label not in words]
        if unknown or missing:
            raise ExplorerError(
                "Verbalizers must give one word for each label of {task!r}: {labels}{unknown}{missing}.",
                task=task.name,
                labels=", ".join(task.labels),
                unknown=i18n.message("; unknown: {labels}", {"labels": ", ".join(unknown)}) if unknown else "",
                missing=i18n.message("; missing: {labels}", {"labels": ", ".join(missing)}) if missing else "",
            )
        changes["verbalizers"] = tuple(words[label] for label in task.labels)
    configured = dataclasses.replace(task, **changes)
    validate(configured)
    return configured


def custom_task(verbalizers: str, examples: str, template: str = "", instruction: str = "") -> Task:
    """A task pasted by the user: `label: word` lines and `text => label` demonstration lines."""
    pairs = parse_verbalizers(verbalizers)
    task = Task(
        name=CUSTOM,
        kind="classification",
        instruction=instruction.strip(),
        template=template if template.strip() else CUSTOM_TEMPLATE,
        items=(),
        labels=tuple(label for label, _ in pairs),
        verbalizers=tuple(word for _, word in pairs),
    )
    validate(task)  # the labels first: the demonstrations are checked against them
    by_word = dict(zip(task.verbalizers, task.labels))
    items = []
    for number, line in enumerate(examples.splitlines(), 1):
        if not line.strip():
            continue
        arrows = list(ARROW.finditer(line))
        text, label = (line[: arrows[-1].start()], line[arrows[-1].end() :].strip()) if arrows else ("", "")
        if not text.strip():
            raise ExplorerError(
                "Demonstration line {number} ({line!r}) must read 'text => label'.",
                number=number,
                line=line.strip()[:40],
            )
        label = label if label in task.labels else by_word.get(label, label)  # a label may be given by its word
        if label not in task.labels:
            raise ExplorerError(
                "Demonstration line {number} has label {label!r}; the labels are {labels}.",
                number=number,
                label=label,
                labels=", ".join(task.labels),
            )
        items.append(Example(text.strip(), label))
    if len(items) > MAX_CUSTOM_EXAMPLES:
        raise ExplorerError("{n} demonstrations given; the limit is {limit}.", n=len(items), limit=MAX_CUSTOM_EXAMPLES)
    return dataclasses.replace(task, items=tuple(items))


def parse_verbalizers(spec: str) -> list[tuple[str, str]]:
    """'positive: great, negative: terrible' -> [('positive', 'great'), ('negative', 'terrible')];
    full-width punctuation too: 'positive：好评，negative：差评'."""
    entries = [part for line in spec.splitlines() for part in ENTRY_SEPARATOR.split(line) if part.strip()]
    pairs = []
    for entry in entries:
        label, *word = COLON.split(entry, maxsplit=1)
        pairs.append((label.strip(), (word[0] if word else label).strip()))  # a bare word is its own label
    return pairs


def validate(task: Task) -> None:
    """Raise ExplorerError unless the template and (for classification) the verbalizers are usable."""
    for slot in ("{text}", "{label}"):
        if task.template.count(slot) != 1:
            raise ExplorerError(
                "The template must contain {slot} exactly once, e.g. {example!r}.",
                slot=slot,
                example="Review: {text}\nSentiment: {label}",
            )
    if task.template.index("{text}") > task.template.index("{label}"):
        raise ExplorerError(
            "In the template, {text} must come before {label}: the model reads the input, then says the label."
        )
    if task.kind != "classification":
        return
    if len(task.labels) < 2:
        raise ExplorerError(
            "A classification task needs at least 2 labels; got {n}: {labels}.",
            n=len(task.labels),
            labels=", ".join(task.labels) or "-",
        )
    if any(not label for label in task.labels) or len(set(task.labels)) != len(task.labels):
        raise ExplorerError(
            "Labels must be distinct and non-empty; got {labels}.", labels=", ".join(map(repr, task.labels))
        )
    empty = [label for label, word in zip(task.labels, task.verbalizers) if not word]
    if empty:
        raise ExplorerError(
            "The verbalizer word for {labels} is empty; give each label a word.", labels=", ".join(empty)
        )
    if len(set(task.verbalizers)) != len(task.verbalizers):
        raise ExplorerError(
            "Verbalizer words must differ, or the model cannot tell the labels apart; got {words}.",
            words=", ".join(task.verbalizers),
        )


def verbalizer_of(task: Task, example: Example) -> str:
    """What the model should say for `example`: its label's word, or a generation task's expected output."""
    if task.kind == "classification":
        return task.verbalizers[task.label_index(example.label)]
    return example.label


# ---------------------------------------------------------------- demonstrations


def draw_demonstrations(pool: Sequence[Example], k: int, seed: int) -> list[Example]:
    """k demonstrations in random order, the same for the same seed."""
    if k > len(pool):
        raise ExplorerError(
            "shots = {k} but only {n} demonstrations are available; allowed: 0 to {n}.", k=k, n=len(pool)
        )
    return random.Random(seed).sample(list(pool), k)


def split_items(task: Task, n_eval: int, seed: int = 0) -> tuple[list[Example], list[Example]]:
    """Evaluation items (label-stratified, seeded) and the rest as the demonstration pool."""
    rng = random.Random(seed)
    by_label: dict[str, list[Example]] = {}
    for item in task.items:
        by_label.setdefault(item.label if task.kind == "classification" else "", []).append(item)
    for group in by_label.values():
        rng.shuffle(group)
    interleaved = [item for row in zip(*by_label.values()) for item in row]  # one of each label in turn
    leftovers = [item for group in by_label.values() for item in group if item not in interleaved]
    ordered = interleaved + leftovers
    return ordered[:n_eval], ordered[n_eval:]
