"""Tuning benchmarks on the bundled model: the table's build time and every method's seconds per step.

Run: .venv/bin/python bench/tuning.py [--steps 3] [--methods lora,head]
One step = forward + backward + Adam update on a batch of 8 short sentences from the sentiment set
(the same seeded batches for every method), timed inside `tuning.train`. The median of the timed
steps is reported, after one warm-up step.
Targets (2 cores): the table < 10 s; one LoRA step < 2 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from explorer import models, tuning


def seconds_per_step(lm, method: str, steps: int) -> float:
    """Median seconds of the steps of a real `tuning.train` run, after its first (warm-up) step."""
    run = tuning.train(lm, [method], steps=steps + 1, learning_rate=1e-4).runs[0]
    return statistics.median(run.step_seconds[1:])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=3, help="timed steps per method (after one warm-up)")
    parser.add_argument("--methods", default=",".join(tuning.METHODS))
    args = parser.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    lm = models.get()
    print(f"load average at the start: {os.getloadavg()}")

    started = time.perf_counter()
    table = tuning.table(lm)
    table_seconds = time.perf_counter() - started
    print(f"table for {lm.name}: {len(table.rows)} methods in {table_seconds:.2f} s (target < 10 s)\n")

    print(f"{'method':<12}{'trainable':>14}{'s/step':>9}{'checkpoint MB':>15}{'est. memory MB':>16}")
    rows = {r.method: r for r in table.rows}
    measured = {}
    for method in tuning.check_methods(args.methods):
        measured[method] = seconds_per_step(lm, method, args.steps)
        row = rows[method]
        print(
            f"{method:<12}{row.trainable:>14,}{measured[method]:>9.2f}{row.checkpoint_mb:>15.3f}{row.memory_mb:>16,.0f}"
        )
    print(
        f"\nload average (1/5/15 min) at the end: {os.getloadavg()} on {os.cpu_count()} cores (shared machine: noisy)"
    )
    print(f"batch: {tuning.BATCH_SIZE} sentences of the sentiment set (left-padded); median of {args.steps} steps")
    if "lora" in measured:
        verdict = "meets" if measured["lora"] < 2 else "MISSES"
        print(f"LoRA one step: {measured['lora']:.2f} s ({verdict} the < 2 s target)")
    if {"lora", "full"} <= measured.keys():
        print(f"full / LoRA seconds per step (same run): {measured['full'] / measured['lora']:.2f}x")


if __name__ == "__main__":
    main()
