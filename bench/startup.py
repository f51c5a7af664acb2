"""The first minutes after start: what a user who arrives at once waits, with compiling off and on.

    .venv/bin/python bench/startup.py [--seconds 120] [--every 5]

Starts app.py (load.App) with `PLM_EXPLORER_COMPILE=0`, then with `=1`, one after the other. From
the moment its page is served, one user sends a 32-token greedy /generate every `--every` seconds
for `--seconds` (the bundled models load, and with compiling on compile, in the background meanwhile).
Prints each answer's latency by the time it was sent, side by side, then each app's latency once it
is idle (warm, compiled). The first answers wait for SmolLM2 to load either way; the question is
how much the background compiling slows the answers of the first minute, and how much faster the
warm app answers after it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psutil  # noqa: E402
from load import App, connect  # noqa: E402

PROMPT = "The capital of France is"
TOKENS = 32


def answer_seconds(client) -> float:
    started = time.perf_counter()
    client.predict(prompt=PROMPT, max_new_tokens=TOKENS, do_sample=False, api_name="/generate")
    return time.perf_counter() - started


def settled(app: App, timeout: float = 900.0) -> None:
    """Until the app and its children (the compiler's C++ builds run in child processes) spend under a
    tenth of a core for 10 s, at most `timeout` s."""
    tree = psutil.Process(app.process.pid)

    def cpu() -> float:
        total = 0.0
        for process in [tree, *tree.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):  # a child that has just ended
                total += sum(process.cpu_times()[:2])
        return total

    deadline, quiet_since, before = time.monotonic() + timeout, time.monotonic(), cpu()
    while time.monotonic() < deadline and time.monotonic() - quiet_since < 10.0:
        time.sleep(2.0)
        now = cpu()
        if now - before > 0.2:
            quiet_since = time.monotonic()
        before = now


def first_minutes(compile_on: bool, seconds: float, every: float) -> tuple[list[tuple[float, float]], float, str]:
    """[(seconds since start when sent, latency)], the median latency once the app is idle, and its
    memory (peak, and once idle)."""
    os.environ["PLM_EXPLORER_COMPILE"] = "1" if compile_on else "0"
    started = time.monotonic()
    app = App(max_batch=32)
    try:
        app.wait_ready()
        client = connect(app)
        answers = []
        while (sent := time.monotonic() - started) < seconds:
            answers.append((sent, answer_seconds(client)))
            time.sleep(max(0.0, every - answers[-1][1]))
        settled(app)  # the models loaded, and compiled
        idle = f"idle after {time.monotonic() - started:.0f} s"
        warm = statistics.median(answer_seconds(client) for _ in range(5))
        return (
            answers,
            warm,
            f"{idle}; resident memory {app.rss() / 2**30:.2f} GiB, peak {app.peak_rss / 2**30:.2f} GiB",
        )
    finally:
        app.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--every", type=float, default=5.0)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {TOKENS} greedy tokens per answer")
    runs = {on: first_minutes(on, args.seconds, args.every) for on in (False, True)}
    for on, (answers, warm, memory) in runs.items():
        print(f"\ncompiling {'on' if on else 'off'}: sent at (s after start) -> latency (s)")
        print("  " + "  ".join(f"{sent:5.1f}->{latency:5.2f}" for sent, latency in answers))
        print(f"  warm: median {warm:.2f} s ({TOKENS / warm:.1f} tok/s through the API); {memory}")
    off, on = runs[False][1], runs[True][1]
    print(f"\nwarm, compiled vs not: {off / on:.2f}x; load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
