"""What the three tuning experiments share: lists of whole numbers, streamed results, progress slices.

Each experiment is a generator of its growing result (one more run each time), so a view can draw
the runs as they finish and a cancelled request stops at the next run; `last` drains one for a
caller that wants the finished result only.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable
from typing import TypeVar

from .. import checks
from ..checks import ExplorerError
from ..models import Progress

Result = TypeVar("Result")


def whole_numbers(value, name: str, low: int, high: int, most: int) -> list[int]:
    """'1, 2, 4' (or a list) -> sorted distinct whole numbers in [low, high], at most `most` of them."""
    if isinstance(value, str):
        parts = [part for part in value.replace(";", ",").replace(" ", ",").split(",") if part.strip()]
    elif isinstance(value, (list, tuple)):
        parts = list(value)
    else:
        raise ExplorerError("{name} must be a list of whole numbers like '1, 2, 4'.", name=name)
    if not parts:
        raise ExplorerError("{name} is empty; give whole numbers like '1, 2, 4'.", name=name)
    if len(parts) > most:
        raise ExplorerError("{name} has {count} values; the limit is {most}.", name=name, count=len(parts), most=most)
    return sorted({checks.number(part, name, low, high, integer=True) for part in parts})


def last(results: Iterable[Result]) -> Result:
    """The final (complete) result of an experiment's stream."""
    return collections.deque(results, maxlen=1).pop()


def share(progress: Progress | None, index: int, count: int, label: str) -> Progress:
    """The `index`-th of `count` equal slices of a progress bar, its messages prefixed with `label`."""

    def report(fraction: float, message: str) -> None:
        if progress:
            progress((index + fraction) / count, f"{label}: {message}")

    return report
