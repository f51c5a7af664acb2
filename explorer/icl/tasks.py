"""ICL tasks: a built-in task with the user's edits, or a task pasted by the user, checked once.

A task (`datasets.Task`) carries what a prompt needs: an instruction, a template with `{text}`
and `{label}` slots, the labels and their *verbalizers* (the word that stands for each label),
and the items demonstrations are drawn from.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence

from ..checks import ExplorerError
from ..datasets import Example, Task, load_task

CUSTOM = "custom"  # the task name for a task pasted by the user
CUSTOM_TEMPLATE = "Input: {text}\nLabel: {label}"  # a custom task's template when none is given
MAX_CUSTOM_EXAMPLES = 200


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
                f"Verbalizers must give one word for each label of {task.name!r}: {', '.join(task.labels)}"
                + (f"; unknown: {', '.join(unknown)}" if unknown else "")
                + (f"; missing: {', '.join(missing)}" if missing else "")
                + "."
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
    items = []
    for number, line in enumerate(examples.splitlines(), 1):
        if not line.strip():
            continue
        text, arrow, label = line.rpartition("=>")
        if not arrow or not text.strip():
            raise ExplorerError(f"Demonstration line {number} ({line.strip()[:40]!r}) must read 'text => label'.")
        if label.strip() not in task.labels:
            raise ExplorerError(
                f"Demonstration line {number} has label {label.strip()!r}; the labels are {', '.join(task.labels)}."
            )
        items.append(Example(text.strip(), label.strip()))
    if len(items) > MAX_CUSTOM_EXAMPLES:
        raise ExplorerError(f"{len(items)} demonstrations given; the limit is {MAX_CUSTOM_EXAMPLES}.")
    return dataclasses.replace(task, items=tuple(items))


def parse_verbalizers(spec: str) -> list[tuple[str, str]]:
    """'positive: great, negative: terrible' -> [('positive', 'great'), ('negative', 'terrible')]."""
    entries = [part for line in spec.splitlines() for part in line.split(",") if part.strip()]
    pairs = []
    for entry in entries:
        label, colon, word = entry.partition(":")
        pairs.append((label.strip(), (word if colon else label).strip()))  # a bare word is its own label
    return pairs


def validate(task: Task) -> None:
    """Raise ExplorerError unless the template and (for classification) the verbalizers are usable."""
    for slot in ("{text}", "{label}"):
        if task.template.count(slot) != 1:
            raise ExplorerError(
                f"The template must contain {slot} exactly once, e.g. 'Review: {{text}}\\nSentiment: {{label}}'."
            )
    if task.template.index("{text}") > task.template.index("{label}"):
        raise ExplorerError(
            "In the template, {text} must come before {label}: the model reads the input, then says the label."
        )
    if task.kind != "classification":
        return
    if len(task.labels) < 2:
        raise ExplorerError(
            f"A classification task needs at least 2 labels; got {len(task.labels)}: {', '.join(task.labels) or 'none'}."
        )
    if any(not label for label in task.labels) or len(set(task.labels)) != len(task.labels):
        raise ExplorerError(f"Labels must be distinct and non-empty; got {', '.join(map(repr, task.labels))}.")
    empty = [label for label, word in zip(task.labels, task.verbalizers) if not word]
    if empty:
        raise ExplorerError(f"The verbalizer word for {', '.join(empty)} is empty; give each label a word.")
    if len(set(task.verbalizers)) != len(task.verbalizers):
        raise ExplorerError(
            f"Verbalizer words must differ, or the model cannot tell the labels apart; got {', '.join(task.verbalizers)}."
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
            f"shots = {k} but only {len(pool)} demonstrations are available; allowed: 0 to {len(pool)}."
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
