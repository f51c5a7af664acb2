"""Generation speed: the app's instrumented loop vs plain `model.generate`, and batching's cost and gain.

    .venv/bin/python bench/generation.py [--repeats 3] [--tokens 64 256] [--users 16]

Everything runs on the same loaded model and prompt, interleaved, so the machine's noise hits every
contender alike; the ratios are the figures to quote. One torch thread, as the app runs.
1. One user, greedy: plain `model.generate`; the loop alone (`PLM_EXPLORER_MAX_BATCH=1`); the loop
   through the batching scheduler (its thread, a batch of one): its cost must stay within 5 %.
2. A lecture hall: `--users` sampled 32-token generations at once through the scheduler vs one
   after another alone (tokens per second, all users together).
3. Loading the bundled model cold (de-quantising the GGUF into an empty cache) and warm.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from explorer import generation, models  # noqa: E402
from explorer.generation import scheduler  # noqa: E402

PROMPT = "Once upon a time, in a small village by the sea, there lived an old fisherman who"
PROMPTS = [PROMPT, "The capital of France is", "The best way to learn a language is", "In 1969, the first humans"]
LOAD_SNIPPET = (  # imports (torch, transformers) are timed apart: they are paid once per process whatever the model
    "import time; t = time.perf_counter(); from explorer import models; import transformers; "
    "t2 = time.perf_counter(); models.get(); print(t2 - t, time.perf_counter() - t2)"
)


def plain_tokens_per_second(lm, n: int) -> float:
    ids = {"input_ids": torch.tensor([generation.encode_prompt(lm, PROMPT)[1]])}  # the same ids as the loop's
    started = time.perf_counter()
    with torch.inference_mode():
        out = lm.model.generate(**ids, max_new_tokens=n, do_sample=False, pad_token_id=lm.tokenizer.eos_token_id)
    return (out.shape[1] - ids["input_ids"].shape[1]) / (time.perf_counter() - started)


def loop_tokens_per_second(lm, n: int, max_batch: int) -> float:
    scheduler.MAX_BATCH = max_batch  # read by every call
    started = time.perf_counter()
    result = generation.generate(lm, generation.GenerationRequest(PROMPT, max_new_tokens=n))
    return len(result.steps) / (time.perf_counter() - started)


def hall_tokens_per_second(lm, users: int, max_batch: int) -> float:
    """`users` sampled 32-token generations submitted at once (max_batch 1: served one after another)."""
    scheduler.MAX_BATCH = max_batch
    settings = generation.SamplingSettings(do_sample=True, temperature=0.8)
    requests = [generation.GenerationRequest(PROMPTS[u % 4], settings, 32, seed=u) for u in range(users)]
    started = time.perf_counter()
    with ThreadPoolExecutor(users if max_batch > 1 else 1) as pool:
        results = list(pool.map(lambda r: generation.generate(lm, r), requests))
    return sum(len(r.steps) for r in results) / (time.perf_counter() - started)


def load_seconds(cache: str | None) -> tuple[float, float]:
    """(seconds importing the libraries, seconds loading the model) in a fresh process."""
    env = {"PLM_EXPLORER_CACHE": cache} if cache else {}
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", LOAD_SNIPPET],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
    )
    imports, load = out.stdout.strip().splitlines()[-1].split()
    return float(imports), float(load)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tokens", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--skip-load", action="store_true", help="skip timing the model loads")
    args = parser.parse_args()
    torch.set_num_threads(1)
    lm = models.get()
    generation.generate(lm, generation.GenerationRequest(PROMPT, max_new_tokens=4))  # warm up kernels
    print(f"model: {lm.name}, threads: {torch.get_num_threads()}, repeats: {args.repeats} (median)")
    print(
        f"{'tokens':>6} | {'generate tok/s':>14} | {'loop alone':>10} | {'loop batched':>12} | alone/generate | batched/alone"
    )
    for n in args.tokens:
        plain, alone, batched = [], [], []
        for _ in range(args.repeats):
            plain.append(plain_tokens_per_second(lm, n))
            alone.append(loop_tokens_per_second(lm, n, 1))
            batched.append(loop_tokens_per_second(lm, n, 16))
        p, a, b = (statistics.median(x) for x in (plain, alone, batched))
        print(f"{n:>6} | {p:>14.1f} | {a:>10.1f} | {b:>12.1f} | {a / p:>13.2f}x | {b / a:>12.2f}x")
    one, many = [], []
    for _ in range(args.repeats):
        one.append(hall_tokens_per_second(lm, args.users, 1))
        many.append(hall_tokens_per_second(lm, args.users, 16))
    o, m = statistics.median(one), statistics.median(many)
    print(
        f"{args.users} users x 32 sampled tokens: one after another {o:.1f} tok/s, batched {m:.1f} tok/s ({m / o:.1f}x)"
    )
    if args.skip_load:
        return
    with tempfile.TemporaryDirectory() as empty_cache:
        cold = load_seconds(empty_cache)
        warm_in_that_cache = load_seconds(empty_cache)
    warm = load_seconds(None)
    print(
        f"load bundled model (fresh process; importing torch + transformers first takes {warm[0]:.1f} s): "
        f"cold (de-quantise the GGUF) {cold[1]:.1f} s, warm (safetensors cache) {warm[1]:.2f} s "
        f"(and {warm_in_that_cache[1]:.2f} s right after the cold load)"
    )


if __name__ == "__main__":
    main()
