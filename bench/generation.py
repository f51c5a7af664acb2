"""Generation speed: the app's instrumented loop vs plain `model.generate`, and batching's cost and gain.

    .venv/bin/python bench/generation.py [--repeats 3] [--tokens 64 256] [--users 16 (0: skip)] [--skip-api]

Everything runs on the same loaded model and prompt, interleaved, so the machine's noise hits every
contender alike; the ratios are the figures to quote. One torch thread, as the app runs.
1. One user, greedy: plain `model.generate` on the weights as transformers loads them, and on the
   weights as the app lays them out (`weight_layout`); the loop alone (`PLM_EXPLORER_MAX_BATCH=1`);
   the loop through the batching scheduler (its thread, a batch of one): its cost must stay within 5 %;
   the loop with its steps compiled (`compiled_step`; through the scheduler, as the app runs it): at
   least 1.3x plain `model.generate`; and `/generate` through the API (the app started in this
   process, compiled steps on, called with `gradio_client`, wall time from the call to its last
   output): at least 1.0x plain `model.generate`. The others run eager (`compiled_step.ENABLED` off).
   Compiling is timed first (wall and CPU seconds, resident memory before and after), and the
   compiled loop's tokens and probabilities are checked against the eager loop's.
   Then the roofline: a token reads every weight once, so bytes per token / the memory bandwidth
   this thread reaches (reading a 256 MiB tensor) is the fastest any fp32 decode can go.
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
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from explorer import generation, models, weight_layout  # noqa: E402
from explorer.generation import compiled_step, scheduler  # noqa: E402
from explorer.generation.batch import PaddedBatch  # noqa: E402

PROMPT = "Once upon a time, in a small village by the sea, there lived an old fisherman who"
PROMPTS = [PROMPT, "The capital of France is", "The best way to learn a language is", "In 1969, the first humans"]
LOAD_SNIPPET = (  # imports (torch, transformers) are timed apart: they are paid once per process whatever the model
    "import time; t = time.perf_counter(); from explorer import models; import transformers; "
    "t2 = time.perf_counter(); models.get(); print(t2 - t, time.perf_counter() - t2)"
)


def speeds(work) -> tuple[float, float]:
    """Tokens per second of `work()` (which returns its token count) by wall time and by this
    process's CPU time (steadier on a shared machine: other jobs' time does not count)."""
    started, started_cpu = time.perf_counter(), time.process_time()
    tokens = work()
    return tokens / (time.perf_counter() - started), tokens / (time.process_time() - started_cpu)


def plain_tokens_per_second(lm, model, n: int) -> tuple[float, float]:
    ids = torch.tensor([generation.encode_prompt(lm, PROMPT)[1]])  # the same ids as the loop's

    def work() -> int:
        with torch.inference_mode():
            out = model.generate(
                input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=n, do_sample=False,
                pad_token_id=lm.tokenizer.eos_token_id,
            )  # fmt: skip
        return out.shape[1] - ids.shape[1]

    return speeds(work)


def bandwidth_gb_per_s(repeats: int) -> tuple[float, float]:
    """Memory read bandwidth of this thread, GB/s, best of `repeats`: summing a 256 MiB tensor, and
    a one-row product with a 256 MiB matrix stored (in, out)."""
    big = torch.randn(64 * 2**20)  # 256 MiB
    matrix, row = big.view(8192, 8192), torch.randn(1, 8192)

    def best(work) -> float:
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            work()
            times.append(time.perf_counter() - started)
        return big.numel() * 4 / min(times) / 1e9

    return best(big.sum), best(lambda: F.linear(row, matrix.T))


def weight_bytes_per_token(model) -> int:
    """Bytes of weights one decoding step reads: every parameter once (a tied embedding is read
    whole by the LM head; its row lookup is negligible)."""
    return sum(p.numel() * p.element_size() for p in model.parameters())


def loop_tokens_per_second(lm, n: int, max_batch: int, compiled: bool = False) -> tuple[float, float]:
    scheduler.MAX_BATCH, compiled_step.ENABLED = max_batch, compiled  # read by every call
    return speeds(lambda: len(generation.generate(lm, generation.GenerationRequest(PROMPT, max_new_tokens=n)).steps))


def resident_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def compile_step(lm) -> None:
    """Compile the loop's step (as the app does in the background after loading), timed; then check
    that the compiled loop picks the eager loop's tokens with the same probabilities."""
    scheduler.MAX_BATCH, compiled_step.ENABLED = 1, True
    request = generation.GenerationRequest(PROMPT, max_new_tokens=64)
    before, wall, cpu = resident_mb(), time.perf_counter(), time.process_time()
    compiled_step.start(lm).join()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if compiled_step.ready(lm) is None:
        raise SystemExit("compiling failed (see the log line above)")
    compiled = generation.generate(lm, request)
    compiled_step.ENABLED = False
    eager = generation.generate(lm, request)
    same = [s.token_id for s in compiled.steps] == [s.token_id for s in eager.steps]
    delta = max(abs(a.raw_prob - b.raw_prob) for a, b in zip(compiled.steps, eager.steps))
    print(
        f"compiling the step: {wall:.0f} s wall, {cpu:.0f} s CPU; resident memory {before:.0f} -> "
        f"{resident_mb():.0f} MB; 64 greedy tokens identical to eager: {same}, max |Δprob| {delta:.1e}"
    )


def hall_tokens_per_second(lm, users: int, max_batch: int) -> float:
    """`users` sampled 32-token generations submitted at once (max_batch 1: served one after another)."""
    scheduler.MAX_BATCH = max_batch
    settings = generation.SamplingSettings(do_sample=True, temperature=0.8)
    requests = [generation.GenerationRequest(PROMPTS[u % 4], settings, 32, seed=u) for u in range(users)]
    started = time.perf_counter()
    with ThreadPoolExecutor(users if max_batch > 1 else 1) as pool:
        results = list(pool.map(lambda r: generation.generate(lm, r), requests))
    return sum(len(r.steps) for r in results) / (time.perf_counter() - started)


def api_tokens_per_second(client, n: int) -> tuple[float, float]:
    """`/generate` (greedy, `n` tokens) through the app's API, by wall time (the app's CPU time is this
    process's, but so is the client's: only the wall time is given, twice, to fit the table)."""
    compiled_step.ENABLED = True  # as the app runs
    started = time.perf_counter()
    payload = client.predict(prompt=PROMPT, max_new_tokens=n, do_sample=False, api_name="/generate")[-1]
    rate = len(payload["steps"]) / (time.perf_counter() - started)
    return rate, rate


def started_app():
    """The app on a free port in this process (same loaded model), and a client of it."""
    import socket

    from gradio_client import Client

    import app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app.launch(app.build_app(), server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    return Client(f"http://127.0.0.1:{port}/", verbose=False)


def forward_cost(lm, rows: int, steps: int = 5) -> float:
    """CPU seconds of one decoding forward feeding `rows` rows at once (median of `steps`; the
    thread's own CPU time, so other jobs on the machine do not count)."""
    prompt = generation.encode_prompt(lm, PROMPTS[1])[1]
    batch, _ = PaddedBatch.prefill(lm, [prompt] * rows)
    times = []
    for _ in range(steps):
        started = time.thread_time()
        batch.step([prompt[-1]] * rows)
        times.append(time.thread_time() - started)
    return statistics.median(times)


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
    parser.add_argument("--skip-api", action="store_true", help="skip /generate through the app's API")
    args = parser.parse_args()
    torch.set_num_threads(1)
    compiled_step.ENABLED = False  # compiled below, timed (the app compiles in the background as it loads)
    lm = models.get()
    generation.generate(lm, generation.GenerationRequest(PROMPT, max_new_tokens=4))  # warm up kernels
    print(
        f"model: {lm.name}, threads: {torch.get_num_threads()}, repeats: {args.repeats} (median), load {os.getloadavg()}"
    )
    compile_step(lm)
    plain_model = weight_layout.as_loaded(lm.model)
    client = None if args.skip_api else started_app()
    print(
        f"{'tokens':>6} | {'generate tok/s':>14} | {'generate, laid out':>18} | {'loop alone':>10} | "
        f"{'loop batched':>12} | {'loop, compiled':>14} | {'API':>5} | alone/generate | batched/alone | "
        "compiled/generate | API/generate | by CPU time: alone/generate, batched/alone, compiled/generate"
    )
    loop_speeds = []
    for n in args.tokens:
        plain, laid_out, alone, batched, compiled, api = [], [], [], [], [], []
        for _ in range(args.repeats):
            plain.append(plain_tokens_per_second(lm, plain_model, n))
            laid_out.append(plain_tokens_per_second(lm, lm.model, n))
            alone.append(loop_tokens_per_second(lm, n, 1))
            batched.append(loop_tokens_per_second(lm, n, 16))
            compiled.append(loop_tokens_per_second(lm, n, 16, compiled=True))
            api.append(api_tokens_per_second(client, n) if client else (float("nan"),) * 2)
        (p, o, a, b, c, w), (pc, _, ac, bc, cc, _) = (
            [statistics.median(run[clock] for run in x) for x in (plain, laid_out, alone, batched, compiled, api)]
            for clock in (0, 1)
        )
        loop_speeds.append(c)
        print(
            f"{n:>6} | {p:>14.1f} | {o:>18.1f} | {a:>10.1f} | {b:>12.1f} | {c:>14.1f} | {w:>5.1f} | "
            f"{a / p:>13.2f}x | {b / a:>12.2f}x | {c / p:>16.2f}x | {w / p:>11.2f}x | "
            f"{ac / pc:.2f}x, {bc / ac:.2f}x, {cc / pc:.2f}x  (load {os.getloadavg()[0]:.1f})"
        )
    compiled_step.ENABLED = False  # the figures below are the eager forward's
    del plain_model
    read, product = bandwidth_gb_per_s(args.repeats)
    per_token = weight_bytes_per_token(lm.model)
    ceiling = read * 1e9 / per_token
    print(
        f"roofline: {per_token / 1e6:.0f} MB of weights per token; this thread reads {read:.1f} GB/s "
        f"(sum of 256 MiB; one-row product {product:.1f} GB/s): at most {ceiling:.0f} tok/s; "
        f"the compiled loop reaches {max(loop_speeds) / ceiling:.0%} of it"
    )
    alone = forward_cost(lm, 1)
    costs = ", ".join(f"{rows} rows {forward_cost(lm, rows) / alone:.1f}x" for rows in (16, 32, 64))
    print(
        f"one forward of many rows vs one row (CPU time; a request's latency grows by about this factor "
        f"when that many run at once): {costs}"
    )
    if args.users:
        one, many = [], []
        for _ in range(args.repeats):
            one.append(hall_tokens_per_second(lm, args.users, 1))
            many.append(hall_tokens_per_second(lm, args.users, 16))
        o, m = statistics.median(one), statistics.median(many)
        print(
            f"{args.users} users x 32 sampled tokens: one after another {o:.1f} tok/s, batched {m:.1f} tok/s "
            f"({m / o:.1f}x)"
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
