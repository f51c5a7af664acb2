"""What demonstrations teach: the same demonstrations with their labels kept, randomised, permuted, or
their inputs taken from another task (Min et al., 2022, "Rethinking the Role of Demonstrations").

- `gold`: each demonstration shows its own label;
- `random`: each label is drawn uniformly from the task's labels (about 1 in k stays right): the
  format, the inputs and the label space stay, the input-label mapping goes;
- `shuffled`: the label words are permuted, every label shown as the next one's word (positive is
  called negative, and so on): a consistent but wrong mapping (Wei et al., 2023, "flipped labels");
- `other-task`: the inputs come from another built-in task, with random labels of this one: the
  format and label space stay, the input distribution and the mapping go.
A generation task has no label set: `random` gives each demonstration another item's answer,
`shuffled` passes the answers round the demonstrations.
The query and its scoring never change, only what the demonstrations show.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence

from ..checks import ExplorerError
from ..datasets import Example, Task, load_task

LABEL_MODES = ("gold", "random", "shuffled", "other-task")
# Where other-task inputs come from (in the task's language); any other task: the sentiment set.
OTHER_TASK = {"sentiment": "topic", "sentiment_zh": "topic_zh"}
SENTIMENT = {"en": "sentiment", "zh": "sentiment_zh"}


def check_label_mode(mode) -> str:
    if mode not in LABEL_MODES:
        raise ExplorerError(
            "label_mode = {mode!r} is not known; allowed: {allowed}.",
            mode=str(mode)[:40],
            allowed=", ".join(LABEL_MODES),
        )
    return mode


def relabel(task: Task, demos: Sequence[Example], mode: str, seed: int) -> list[Example]:
    """The demonstrations as `mode` shows them (the same for the same seed)."""
    rng = random.Random(f"{mode}:{seed}")  # its own stream: the draw of demonstrations is untouched
    if mode == "gold":
        return list(demos)
    if mode == "other-task":
        other = load_task(OTHER_TASK.get(task.name, SENTIMENT.get(task.language, "sentiment")))
        demos = [Example(item.text, demo.label) for item, demo in zip(rng.sample(other.items, len(demos)), demos)]
    if mode in ("random", "other-task"):
        answers = task.labels if task.kind == "classification" else [item.label for item in task.items]
        return [dataclasses.replace(demo, label=rng.choice(answers)) for demo in demos]
    if task.kind == "classification":  # shuffled: each label shown as the next label's word
        following = {label: task.labels[(i + 1) % len(task.labels)] for i, label in enumerate(task.labels)}
        return [dataclasses.replace(demo, label=following[demo.label]) for demo in demos]
    answers = [demo.label for demo in demos]  # shuffled, generation: each shows the next one's answer
    return [dataclasses.replace(demo, label=answers[(i + 1) % len(demos)]) for i, demo in enumerate(demos)]
