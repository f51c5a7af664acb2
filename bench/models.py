"""The bundled models: load time (cold and warm), first-token latency, greedy speed, memory.

    .venv/bin/python bench/models.py [--repeats 3] [--skip-cold]

Per bundled model, each in a fresh process with one torch thread (as the app runs): a cold load
(an empty PLM_EXPLORER_CACHE: the GGUF is made and de-quantised, then the cache is read), then a
warm load from that cache. Then, in this process, both models loaded from the usual cache, as the
app holds them after its warm-up: the resident memory, and for each model the latency of the first
token and the greedy speed over 64 tokens through the app's own loop (`generation`), median of
`--repeats`.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from explorer import bundled, generation, models  # noqa: E402

NEW_TOKENS = 64
PROMPTS = {  # one each model knows well: SmolLM2 is English, Gemma multilingual
    models.BUNDLED_NAME: "Once upon a time, in a small village by the sea, there lived an old fisherman who",
    "Gemma-3-270M": "北京是中国的首都，也是",
}
LOAD_SNIPPET = (  # the libraries are imported before the clock starts: a process pays for them whatever the model
    "import sys, time, torch; torch.set_num_threads(1); from explorer import models; import transformers; "
    "t, c = time.perf_counter(), time.process_time(); models.get(sys.argv[1]); "
    "print(time.perf_counter() - t, time.process_time() - c)"
)


def load_seconds(name: str, cache: str) -> tuple[float, float]:
    """(wall, CPU) seconds to load `name` in a fresh process whose cache folder is `cache`. On a busy
    machine the CPU seconds are the better guide to a quiet one's wall time (the load is one thread)."""
    out = subprocess.run(
        [sys.executable, "-c", LOAD_SNIPPET, name],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PLM_EXPLORER_CACHE": cache},
    )
    wall, cpu = out.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def first_token_and_speed(lm: models.LoadedModel) -> tuple[float, float, float, int]:
    """(seconds to the first token, tokens/s after it by wall and by CPU time, tokens made) for one
    greedy generation."""
    started, started_cpu = time.perf_counter(), time.process_time()
    request = generation.GenerationRequest(PROMPTS[lm.name], max_new_tokens=NEW_TOKENS)
    stream = generation.stream_generation(lm, request)
    result = next(stream)  # the same result object grows with every step
    first, first_cpu = time.perf_counter() - started, time.process_time() - started_cpu
    for _ in stream:
        pass
    rest, rest_cpu = time.perf_counter() - started - first, time.process_time() - started_cpu - first_cpu
    return first, (len(result.steps) - 1) / rest, (len(result.steps) - 1) / rest_cpu, len(result.steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-cold", action="store_true", help="only warm loads (cold ones take minutes)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    names = [name for name in bundled.SOURCES if bundled.problem(name) is None]

    loads = {}
    for name in names:
        with tempfile.TemporaryDirectory(prefix="plm-bench-") as empty:
            cold = None if args.skip_cold else load_seconds(name, empty)
            warm_cache = empty if cold is not None else str(bundled.cache_root())
            loads[name] = (cold, load_seconds(name, warm_cache))

    process = psutil.Process()
    before = process.memory_info().rss
    loaded = [models.get(name) for name in names]
    both = process.memory_info().rss
    speeds = {}
    for lm in loaded:
        runs = [first_token_and_speed(lm) for _ in range(args.repeats)]
        speeds[lm.name] = tuple(statistics.median(run[i] for run in runs) for i in range(4))
    used = process.memory_info().rss
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    print(
        f"\nBundled models on {os.cpu_count()} cores (load average {os.getloadavg()[0]:.1f}), one torch thread; "
        f"greedy, {NEW_TOKENS} new tokens, median of {args.repeats}. Loads in a fresh process, libraries imported."
    )
    print("Loads: wall seconds (CPU seconds). Speed: tokens/s after the first, by wall (by CPU) time.")
    print("| model | params | cold load s | warm load s | first token s | tokens/s | tokens |")
    print("|---|---|---|---|---|---|---|")
    for lm in loaded:
        cold, warm = loads[lm.name]
        first, speed, cpu_speed, made = speeds[lm.name]
        cold_text = "-" if cold is None else f"{cold[0]:.1f} ({cold[1]:.1f})"
        print(
            f"| {lm.name} | {lm.num_params:,} | {cold_text} | {warm[0]:.1f} ({warm[1]:.1f}) | {first:.3f} "
            f"| {speed:.1f} ({cpu_speed:.1f}) | {made} |"
        )
    print(
        f"\nResident memory: {before / 2**30:.2f} GiB with the libraries only; with {' and '.join(names)} "
        f"loaded {both / 2**30:.2f} GiB, {used / 2**30:.2f} GiB once both "
        f"generated; peak {peak / 2**30:.2f} GiB (while a model loads, its mapped file and its laid-out copy)."
    )


if __name__ == "__main__":
    main()
