"""The products of a batched step: torch's default (MKL) against oneDNN, between which `weight_layout.product` chooses.

A decoding step of several sequences multiplies a few rows by every weight matrix. On an AMD CPU,
MKL's fp32 products run well below the cores' speed and gain little from a second thread; oneDNN (in
every torch build) reaches about twice MKL's speed on the same weights, laid out as the app keeps them
((in, out) memory, no copy). On an Intel CPU, MKL is the faster (the app's choice there). This prints
the CPU, then, for SmolLM2's shapes and 1, 8, 32, 64 rows, on one
and two threads, GFLOP/s of each, side by side in one run (median of `--repeats` interleaved timings),
then one whole step of the bundled model for a batch of each size (`PaddedBatch.step`, eager, with
oneDNN and with it switched off), and the largest change of the next-token probabilities after one
step of a fresh batch between the two (its rows are pre-filled alone, one row each, so the same for both).

    .venv/bin/python bench/products.py [--repeats 20] [--rows 1 8 32 64]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from explorer import lm as lm_ops  # noqa: E402
from explorer import models, weight_layout  # noqa: E402
from explorer.generation import compiled_step  # noqa: E402
from explorer.generation.batch import PaddedBatch  # noqa: E402

# (in, out) of SmolLM2's products: q/k/v together, the output projection, gate/up together, down, the LM head
SHAPES = [(576, 960), (576, 576), (576, 3072), (1536, 576), (576, 49152)]


def median_seconds(run, repeats: int) -> float:
    run()  # oneDNN makes its kernel for a new shape on the first call
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


@torch.inference_mode()
def products(rows_list: list[int], repeats: int) -> None:
    chosen, weight_layout.ONEDNN = weight_layout.ONEDNN, True  # `product` through oneDNN here, back at the end
    print("| threads | rows | in x out | MKL GFLOP/s | oneDNN GFLOP/s | oneDNN / MKL |")
    print("|---|---|---|---|---|---|")
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for rows in rows_list:
            for inner, out in SHAPES:
                weight = torch.randn(inner, out).T  # (out, in) shape, (in, out) memory: the app's wide layout
                x = torch.randn(1 if rows == 1 else 2, max(1, rows // 2), inner)  # (sequences, tokens, in)
                mkl = median_seconds(lambda x=x, w=weight: F.linear(x, w), repeats)
                dnnl = median_seconds(lambda x=x, w=weight: weight_layout.product(x, w), repeats)
                flops = 2 * x.shape[0] * x.shape[1] * inner * out / 1e9
                print(
                    f"| {threads} | {rows} | {inner} x {out} | {flops / mkl:.0f} | {flops / dnnl:.0f} | {mkl / dnnl:.2f}x |"
                )
    weight_layout.ONEDNN = chosen


def steps(lm: models.LoadedModel, rows_list: list[int], repeats: int) -> None:
    print("\n| threads | rows | step, MKL ms | step, oneDNN ms | MKL / oneDNN | largest probability change |")
    print("|---|---|---|---|---|---|")
    prompts = [
        lm_ops.encode_document(lm.tokenizer, f"Student {i} asks what the capital of France is") for i in range(64)
    ]
    chosen = weight_layout.ONEDNN  # the app's choice, back at the end
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for rows in [r for r in rows_list if r > 1]:
            batch, _ = PaddedBatch.prefill(lm, prompts[:rows])
            tokens = [13] * rows
            timings, probs = {}, {}
            for use in (False, True, False, True):  # interleaved
                weight_layout.ONEDNN = use
                with torch.inference_mode():
                    timings.setdefault(use, []).append(
                        median_seconds(lambda b=batch, t=tokens: b.step(t), max(3, repeats // 4))
                    )
                    fresh, _ = PaddedBatch.prefill(lm, prompts[:rows])  # (pre-filled alone: the same for both)
                    probs[use] = fresh.step(tokens).softmax(-1)  # (rows, vocab)
            change = (probs[True] - probs[False]).abs().max().item()
            mkl, dnnl = min(timings[False]), min(timings[True])
            print(f"| {threads} | {rows} | {mkl * 1e3:.0f} | {dnnl * 1e3:.0f} | {mkl / dnnl:.2f}x | {change:.1e} |")
    weight_layout.ONEDNN = chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--rows", type=int, nargs="+", default=[1, 8, 32, 64])
    args = parser.parse_args()
    if not torch.backends.mkldnn.is_available():
        raise SystemExit("this torch has no oneDNN: every product is MKL's")
    cpu = "an Intel CPU" if weight_layout.intel_cpu() else "not an Intel CPU"
    cpu += f" (the app's batches: {'oneDNN' if weight_layout.ONEDNN else 'MKL'})"
    print(f"\nProducts, {cpu}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start.\n")
    products(args.rows, args.repeats)
    compiled_step.ENABLED = False  # the eager step, as a batch of several rows runs
    lm = models.get(models.BUNDLED_NAME)
    steps(lm, args.rows, args.repeats)
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
