"""Tuning benchmarks on the bundled model: the table's build time, every method's seconds per step, and
the three experiments (forgetting and its remedies, prompt-based vs head, the parameter budget).

Run: .venv/bin/python bench/tuning.py [--part methods|experiments|all] [--threads 2] [--steps 3] [--methods lora]
One step = forward + backward + Adam update on a batch of 8 short sentences from the sentiment set
(the same seeded batches for every method), timed inside `tuning.train`. The median of the timed
steps is reported, after one warm-up step. Each experiment runs with its defaults; wall time and
this process's CPU time are reported (the machine is shared: CPU seconds are the steadier figure; with
--threads 1 they bound the wall time on two idle cores).
Targets (2 cores): the table < 10 s; one LoRA step < 2 s; each experiment < 2 minutes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from explorer import models, tuning
from explorer.tuning import budget, few_shot, remedies


def seconds_per_step(lm, method: str, steps: int) -> float:
    """Median seconds of the steps of a real `tuning.train` run, after its first (warm-up) step."""
    run = tuning.train(lm, [method], steps=steps + 1, learning_rate=1e-4).runs[0]
    return statistics.median(run.step_seconds[1:])


def timed(name: str, compute):
    """Run `compute()`, print its wall and CPU seconds (this process, every thread), return its result."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = compute()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    verdict = "meets" if wall < 120 else "MISSES"
    print(
        f"\n== {name}: {wall:.0f} s wall ({verdict} the < 2 min target), {cpu:.0f} s CPU, load {os.getloadavg()[0]:.1f}"
    )
    return result


def experiments(lm) -> None:
    result = timed("forgetting and its remedies (defaults)", lambda: remedies.remedies(lm))
    runs = {run.method: run for run in result.runs}
    for run in result.runs:
        change = run.ppl_after / run.ppl_before - 1
        print(
            f"{run.method:<7} accuracy {run.accuracy_before:.2f} -> {run.accuracy:.2f}   perplexity "
            f"{run.ppl_before:.2f} -> {run.ppl_after:.2f} ({change:+.1%})   drift {sum(run.drift):7.2f}"
            + (f"   update off: {run.ppl_update_removed:.2f}" if run.ppl_update_removed is not None else "")
        )
    full = runs["full"]
    for name in ("replay", "l2sp"):
        run = runs[name]
        closer = abs(run.ppl_after - run.ppl_before) < abs(full.ppl_after - full.ppl_before)
        similar = abs(run.accuracy - full.accuracy) <= 0.1
        print(f"{name}: perplexity closer to its start than full fine-tuning: {closer}; accuracy within 0.1: {similar}")

    result = timed("prompt-based vs head (defaults)", lambda: few_shot.prompt_vs_head(lm))
    for point in result.points:
        print(f"{point.method:<10} n={point.size:<3} accuracy {point.accuracy_mean:.2f} ± {point.accuracy_std:.2f}")
    at16 = {p.method: p.accuracy_mean for p in result.points if p.size == 16}
    if at16:
        print(
            f"at 16 examples: prompt-based {at16['prompt']:.2f} vs head {at16['head']:.2f} (zero-shot {at16['zero-shot']:.2f})"
        )

    result = timed("how few parameters suffice (defaults)", lambda: budget.budget(lm))
    for point in result.points:
        print(f"{point.method:<7} {point.setting:>3}  trainable {point.trainable:>10,}  accuracy {point.accuracy:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--part", choices=["methods", "experiments", "all"], default="all")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per method (after one warm-up)")
    parser.add_argument("--methods", default=",".join(tuning.METHODS))
    parser.add_argument("--threads", type=int, default=2, help="1 on a busy machine: CPU seconds without spin-waits")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    lm = models.get()
    print(f"load average at the start: {os.getloadavg()}")
    if args.part != "methods":
        experiments(lm)
    if args.part == "experiments":
        return

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
