"""Generation speed: the app's instrumented loop vs plain `model.generate`, side by side.

    .venv/bin/python bench/generation.py [--repeats 3]

Both run greedy on the same loaded model and prompt, interleaved, so the machine's noise
hits both alike; the ratio is the figure to quote. Also times loading the bundled model
cold (de-quantising the GGUF into an empty cache) and warm (from the safetensors cache),
each in a fresh process.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from explorer import generation, models  # noqa: E402

PROMPT = "Once upon a time, in a small village by the sea, there lived an old fisherman who"
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


def instrumented_tokens_per_second(lm, n: int) -> float:
    started = time.perf_counter()
    result = generation.generate(lm, generation.GenerationRequest(PROMPT, max_new_tokens=n))
    return len(result.steps) / (time.perf_counter() - started)


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
        env={**__import__("os").environ, **env},
    )
    imports, load = out.stdout.strip().splitlines()[-1].split()
    return float(imports), float(load)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tokens", type=int, nargs="+", default=[64, 256])
    args = parser.parse_args()
    torch.set_num_threads(2)
    lm = models.get()
    generation.generate(lm, generation.GenerationRequest(PROMPT, max_new_tokens=4))  # warm up kernels
    print(f"model: {lm.name}, threads: {torch.get_num_threads()}, repeats: {args.repeats} (median)")
    print(f"{'tokens':>6} | {'plain generate tok/s':>20} | {'instrumented tok/s':>18} | ratio")
    for n in args.tokens:
        plain, ours = [], []
        for _ in range(args.repeats):
            plain.append(plain_tokens_per_second(lm, n))
            ours.append(instrumented_tokens_per_second(lm, n))
        p, o = statistics.median(plain), statistics.median(ours)
        print(f"{n:>6} | {p:>20.1f} | {o:>18.1f} | {o / p:.2f}x")
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
