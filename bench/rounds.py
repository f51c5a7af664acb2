"""Where a lecture hall's time goes, round by round: the generation scheduler's rounds timed.

`instrument(log)` wraps the scheduler's round and its parts (the shared forward, the picks, the
newcomers joining, the finished rows leaving) with timers, and appends one line per round to `log`:
when it started (wall clock), its rows, its milliseconds, each part's, and the scheduler thread's own
CPU time and run-queue wait (/proc/thread-self/schedstat: time spent ready to run while the cores ran
something else). The rest of a round's time, neither CPU nor run queue, is the thread waiting: for the
interpreter's lock, or at its thread team's barriers.

`table(log, start, end)` sums the rounds that started between `start` and `end` by their rows (a
round's tokens: one per running row), so a hall's ramp-up (few rows, the students still arriving) and
its full rounds can be told apart.

bench/load.py --rounds starts the app through this file (`rounds.py LOG app.py`: instrument, then
run app.py), bench/hall.py --rounds instruments its own process; both print the table.
"""

from __future__ import annotations

import runpy
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from explorer.generation import batch, scheduler  # noqa: E402

PARTS = ("forward", "picks", "join", "leave")
BUCKET = 16  # rows per line of the table

_round = threading.local()  # the current round's milliseconds per part (the scheduler's thread)


def instrument(log: Path) -> None:
    """Time every round of every scheduler in this process into `log` (appended, one line a round)."""

    def timed(part: str, function: Callable) -> Callable:
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                parts = getattr(_round, "parts", None)
                if parts is not None:
                    parts[part] += 1e3 * (time.perf_counter() - started)

        return wrapper

    step = scheduler.Scheduler.step

    def timed_round(self: scheduler.Scheduler) -> None:
        _round.parts = dict.fromkeys(PARTS, 0.0)
        rows, queued, cpu, started = len(self._rows), _run_queue_ms(), time.thread_time(), time.perf_counter()
        try:
            step(self)
        finally:
            wall, cpu = 1e3 * (time.perf_counter() - started), 1e3 * (time.thread_time() - cpu)
            millis = [wall, *(_round.parts[part] for part in PARTS), cpu, _run_queue_ms() - queued]
            with log.open("a") as out:
                out.write(f"{time.time() - wall / 1e3:.4f} {rows} " + " ".join(f"{x:.2f}" for x in millis) + "\n")
            _round.parts = None

    scheduler.Scheduler.step = timed_round
    batch.PaddedBatch.step = timed("forward", batch.PaddedBatch.step)
    scheduler.picked_together = timed("picks", scheduler.picked_together)
    scheduler.Scheduler._join = timed("join", scheduler.Scheduler._join)
    scheduler.Scheduler._keep = timed("leave", scheduler.Scheduler._keep)


def _run_queue_ms() -> float:
    """This thread's time spent waiting in the run queue so far (Linux's schedstat), in ms."""
    try:
        return int(Path("/proc/thread-self/schedstat").read_text().split()[1]) / 1e6
    except (OSError, IndexError, ValueError):
        return 0.0


def table(log: Path, start: float, end: float) -> str:
    """The rounds that started in [start, end] (wall clock) summed by rows, as a Markdown table."""
    sums: dict[int, list[float]] = {}
    for line in log.read_text().splitlines():
        started, rows, *millis = (float(x) for x in line.split())
        if start <= started <= end:
            bucket = sums.setdefault(int(rows) // BUCKET, [0.0] * (2 + len(millis)))
            bucket[0] += 1
            bucket[1] += rows
            bucket[2:] = [total + x for total, x in zip(bucket[2:], millis)]
    lines = [
        "| rows | rounds | tokens | s | ms a round | ms a token | "
        + " | ".join(PARTS)
        + " | the thread's CPU | run queue | waiting |",
        "|---" * (9 + len(PARTS)) + "|",
    ]
    labels = {bucket: f"{bucket * BUCKET}-{bucket * BUCKET + BUCKET - 1}" for bucket in sums}
    every = [sum(column) for column in zip(*sums.values())] if sums else []
    for label, sums_of in [*((labels[b], sums[b]) for b in sorted(sums)), *([("all", every)] if every else [])]:
        rounds, tokens, wall, *millis = sums_of
        parts, (cpu, queued) = millis[: len(PARTS)], millis[len(PARTS) :]
        share = " | ".join(f"{part / wall:.0%}" for part in (*parts, cpu, queued, wall - cpu - queued))
        lines.append(
            f"| {label} | {rounds:.0f} | {tokens:.0f} | {wall / 1e3:.2f} | {wall / rounds:.0f} "
            f"| {wall / max(tokens, 1):.1f} | {share} |"
        )
    return "\n".join(lines)


# rounds.py LOG SCRIPT [ARGS]: SCRIPT run with its rounds timed into LOG. Without them (`make bench` runs
# every script) it does nothing: load.py --rounds and hall.py --rounds print its tables.
if __name__ == "__main__" and len(sys.argv) > 2:
    instrument(Path(sys.argv[1]))
    sys.argv = sys.argv[2:]
    runpy.run_path(sys.argv[0], run_name="__main__")
