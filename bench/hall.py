"""A lecture hall without Gradio: bench/load.py's load straight on the generation code, to tell the
scheduler's own cost from the web server's and the clients'.

Every student's request is what /generate computes (`generation.generate`: encode, the scheduler's
shared forwards, each step's numbers), in its own thread, sent at the same moments as in
bench/load.py; as many run at once as Gradio's queue lets through (`MAX_BATCH` batched, 2 for one
sequence per forward), the others wait their turn. Prints single-user latency, p50/p95 latency, p95
over single, tokens per second of all students and the CPU seconds spent, per setting, side by side.

    .venv/bin/python bench/hall.py [--students 32] [--settings 32:2 32:1 1:1] [--beside none process:0.33 thread:0.33] [--rounds]

A setting is MAX_BATCH:THREADS (torch threads of the scheduler's forwards). `--beside` runs each
setting's hall once per entry, with something else busy on the cores meanwhile, as the web server
and the students' clients are in bench/load.py: `process:S` another process keeping a share S of
one core busy, `thread:S` a thread of this one doing so in Python (the interpreter's lock too, as
Gradio's event loop), both in bursts of a few milliseconds (`busy`). `--rounds` prints after each
batched hall where its rounds' time went by their rows (bench/rounds.py), as load.py --rounds does
for the app.
"""

from __future__ import annotations

import argparse
import inspect
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import rounds  # noqa: E402
from load import NEW_TOKENS, PER_STUDENT, PROMPTS, SPREAD, percentile  # noqa: E402 - the same hall

from explorer import generation, malloc, models  # noqa: E402
from explorer.generation import compiled_step, scheduler  # noqa: E402

SAMPLED = generation.SamplingSettings(do_sample=True, temperature=0.8)


def busy(share: float, running: Callable[[], bool] = lambda: True, burst: float = 0.002) -> None:
    """Keep `share` of one core busy while `running()`: work `burst` seconds (about one of an event
    loop's steps), then sleep. Self-contained: `Beside` also runs its source alone, in a process of its own."""
    import time

    while running():
        end = time.perf_counter() + burst
        while time.perf_counter() < end:
            pass
        time.sleep(burst * (1 - share) / share)


def configure(lm: models.LoadedModel, max_batch: int, threads: int) -> None:
    """The app's settings PLM_EXPLORER_MAX_BATCH and PLM_EXPLORER_BATCH_THREADS, with a fresh scheduler."""
    scheduler.MAX_BATCH, scheduler.BATCH_THREADS = max_batch, threads
    scheduler._SCHEDULERS.put((lm.name, id(lm)), scheduler.Scheduler(lm, max_batch=max_batch))


def request(student: int, i: int) -> generation.GenerationRequest:
    return generation.GenerationRequest(PROMPTS[(student + i) % len(PROMPTS)], SAMPLED, NEW_TOKENS, student * 10 + i)


def single_user(lm: models.LoadedModel) -> float:
    generation.generate(lm, request(0, 0))  # warm
    return statistics.median(_timed(lm, request(seed, 0))[0] for seed in range(3))


def _timed(lm: models.LoadedModel, req: generation.GenerationRequest) -> tuple[float, int]:
    started = time.perf_counter()
    result = generation.generate(lm, req)
    return time.perf_counter() - started, len(result.steps)


class Beside:
    """Something else busy on the cores during a hall (see the module's docstring): "none",
    "process:S" or "thread:S"."""

    def __init__(self, spec: str):
        self.kind, _, share = spec.partition(":")
        self.share = float(share or 0)
        if self.kind not in ("none", "process", "thread") or (self.kind != "none") != (0 < self.share <= 1):
            raise SystemExit(f"--beside {spec!r}: none, process:SHARE or thread:SHARE, a share in (0, 1]")
        self._process: subprocess.Popen | None = None
        self._stop = threading.Event()

    def __enter__(self) -> Beside:
        if self.kind == "process":
            source = f"from __future__ import annotations\n{inspect.getsource(busy)}\nbusy({self.share})"
            self._process = subprocess.Popen([sys.executable, "-c", source])
        elif self.kind == "thread":
            threading.Thread(target=busy, args=(self.share, lambda: not self._stop.is_set()), daemon=True).start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        if self._process is not None:
            self._process.kill()
            self._process.wait()


def hall(lm: models.LoadedModel, students: int, running: int) -> tuple[list[tuple[float, int]], float, float]:
    """(latency, tokens) per request, the wall time, and the CPU seconds of this process."""
    rng = random.Random(0)  # the same moments as bench/load.py
    sends = [(rng.uniform(0, SPREAD), s, i) for s in range(students) for i in range(PER_STUDENT)]
    queue = threading.Semaphore(running)  # Gradio's concurrency limit of the endpoint
    cpu, started = time.process_time(), time.perf_counter()

    def send(when: float, student: int, i: int) -> tuple[float, int]:
        time.sleep(max(0.0, started + when - time.perf_counter()))
        sent = time.perf_counter()
        with queue:
            torch.set_num_threads(1)  # as the app's request threads
            tokens = _timed(lm, request(student, i))[1]
        return time.perf_counter() - sent, tokens

    with ThreadPoolExecutor(len(sends)) as pool:
        results = list(pool.map(lambda s: send(*s), sends))
    return results, time.perf_counter() - started, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=32)
    parser.add_argument("--settings", nargs="+", default=["64:2", "32:2", "1:1"], help="MAX_BATCH:THREADS")
    parser.add_argument("--beside", nargs="+", default=["none"], help="none, process:SHARE or thread:SHARE")
    parser.add_argument("--rounds", action="store_true", help="time the batched halls' rounds (bench/rounds.py)")
    args = parser.parse_args()
    rounds_log = Path(__file__).resolve().parent / "out" / "rounds-hall.log"
    if args.rounds:
        rounds_log.parent.mkdir(exist_ok=True)
        rounds_log.unlink(missing_ok=True)
        rounds.instrument(rounds_log)
    torch.set_num_threads(1)
    malloc.keep_large_blocks()  # as app.py
    lm = models.get(models.BUNDLED_NAME)
    deadline = time.monotonic() + 600  # as bench/load.py, the halls start once the decoding step has compiled
    while compiled_step.ENABLED and compiled_step.ready(lm) is None and time.monotonic() < deadline:
        time.sleep(1.0)
    load = os.getloadavg()[0]
    print(f"\nA hall without Gradio: {args.students} students x {PER_STUDENT} x {NEW_TOKENS} sampled tokens within")
    print(f"{SPREAD:.0f} s, {os.cpu_count()} cores, load average {load:.1f} at the start.\n")
    print("| MAX_BATCH:threads | beside | single s | p50 s | p95 s | p95/single | tok/s | CPU s |")
    print("|---|---|---|---|---|---|---|---|")
    rates, tables = {}, []
    for setting in args.settings:
        max_batch, threads = (int(x) for x in setting.split(":"))
        configure(lm, max_batch, threads)
        single = single_user(lm)  # alone: nothing beside it
        for spec in args.beside:
            started = time.time()
            with Beside(spec):
                results, wall, cpu = hall(lm, args.students, max_batch if max_batch > 1 else 2)
            if args.rounds and max_batch > 1:
                tables.append(
                    f"\n{setting} beside {spec}, its rounds:\n\n{rounds.table(rounds_log, started, time.time())}"
                )
            latencies = [r[0] for r in results]
            rate = sum(r[1] for r in results) / wall
            rates.setdefault(setting, rate)  # the first of its halls: the one compared with 1:1
            p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
            print(
                f"| {setting} | {spec} | {single:.2f} | {p50:.1f} | {p95:.1f} | {p95 / single:.1f}x | {rate:.0f} | {cpu:.0f} |"
            )
    if tables:
        print("\n".join(tables))
    base = rates.get("1:1")
    if base:
        print("\n" + ", ".join(f"{s}: {r / base:.1f}x the tok/s of 1:1" for s, r in rates.items() if s != "1:1"))
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
