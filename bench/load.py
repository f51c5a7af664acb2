"""A lecture hall at once: 8, then 16 simulated users on one app (2 cores), plus a session-isolation check.

Starts `app.py` on a free port on 127.0.0.1, measures one user alone first, then 8 and 16 users,
each with its own gradio_client Client in its own thread, each running 3 generations of 16 tokens
and one request to another tab. Prints success counts, p50/p95 latency, p95 / single-user latency
and the app process's peak resident memory (sampled every 0.2 s with psutil). Then checks that two
users branching at once each continue their own text, and times two short requests alone and while
two other users run long work (a 30-step training run and an ICL sweep).

    .venv/bin/python bench/load.py [--users 8 16] [--port 0]

Bounded: a fixed number of requests, each with a timeout; the app is stopped at the end.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
from gradio_client import Client

ROOT = Path(__file__).resolve().parents[1]
REQUEST_TIMEOUT = 300.0
STARTUP_TIMEOUT = 180.0
GENERATIONS_PER_USER = 3
NEW_TOKENS = 16
PROMPTS = [
    "The capital of France is",
    "Once upon a time, in a small village,",
    "The best way to learn a language is",
    "In 1969, the first humans",
    "A recipe for pancakes: first,",
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class App:
    """app.py in a child process on 127.0.0.1, with its resident memory sampled in the background."""

    def __init__(self, port: int):
        env = dict(
            os.environ, GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(port), GRADIO_ANALYTICS_ENABLED="False"
        )
        self.url = f"http://127.0.0.1:{port}/"
        (ROOT / "bench" / "out").mkdir(exist_ok=True)
        self.log = open(ROOT / "bench" / "out" / "load-app.log", "w")
        self.process = subprocess.Popen(
            [sys.executable, "app.py"], cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )
        self.peak_rss = 0
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def rss(self) -> int:
        try:
            parent = psutil.Process(self.process.pid)
            return sum(p.memory_info().rss for p in [parent, *parent.children(recursive=True)])
        except psutil.Error:
            return 0

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            self.peak_rss = max(self.peak_rss, self.rss())

    def reset_peak(self) -> None:
        self.peak_rss = self.rss()

    def wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the app exited with {self.process.returncode}; see bench/out/load-app.log")
            try:
                if httpx.get(self.url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise SystemExit(f"the app did not answer within {STARTUP_TIMEOUT:.0f} s")

    def stop(self) -> None:
        self._stop.set()
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def timed(client: Client, api_name: str, **kwargs) -> tuple[str, float, bool, str]:
    started = time.perf_counter()
    try:
        client.submit(**kwargs, api_name=api_name).result(timeout=REQUEST_TIMEOUT)
        return api_name, time.perf_counter() - started, True, ""
    except Exception as error:  # noqa: BLE001 - counted as a failure and shown
        return api_name, time.perf_counter() - started, False, f"{type(error).__name__}: {str(error)[:120]}"


def user_session(client: Client, user: int, start: threading.Barrier | None = None) -> list[tuple]:
    """One student: three 16-token generations (sampled, own seed), then one request to another tab."""
    if start is not None:
        start.wait()
    results = []
    for i in range(GENERATIONS_PER_USER):
        results.append(
            timed(
                client,
                "/generate",
                prompt=PROMPTS[(user + i) % len(PROMPTS)],
                max_new_tokens=NEW_TOKENS,
                do_sample=True,
                temperature=0.8,
                seed=user * 10 + i,
            )
        )
    other = (
        ("/tokenize", {"text": PROMPTS[user % len(PROMPTS)] * 3})
        if user % 2
        else ("/next_token", {"prompt": PROMPTS[user % len(PROMPTS)]})
    )
    results.append(timed(client, other[0], **other[1]))
    return results


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def run_users(app: App, users: int) -> list[tuple]:
    clients = [Client(app.url, verbose=False) for _ in range(users)]  # connected before the clock starts
    start = threading.Barrier(users)
    app.reset_peak()
    with ThreadPoolExecutor(users) as pool:
        sessions = list(pool.map(lambda u: user_session(clients[u], u, start), range(users)))
    return [r for s in sessions for r in s]


def isolation_check(app: App) -> tuple[bool, str]:
    """Two users generate different texts, then both branch at once: each must continue its own text."""
    first, second = Client(app.url, verbose=False), Client(app.url, verbose=False)
    prompts = {"first": "The capital of France is", "second": "Once upon a time, in a small village,"}
    for client, prompt in ((first, prompts["first"]), (second, prompts["second"])):
        client.predict(prompt=prompt, max_new_tokens=4, api_name="/generate")

    def branch(client: Client) -> dict:
        return client.submit(step=1, token_id=13, max_new_tokens=3, api_name="/branch").result(timeout=REQUEST_TIMEOUT)[
            -1
        ]

    with ThreadPoolExecutor(2) as pool:
        got_first, got_second = pool.map(branch, (first, second))
    seen_first, seen_second = got_first["prompt"], got_second["prompt"]
    isolated = seen_first.strip() == prompts["first"] and seen_second.strip() == prompts["second"]
    return isolated, f"user 1 branched from {seen_first!r}, user 2 from {seen_second!r}"


LONG_WORK = [
    ("/tuning_train", {"methods": ["head"], "steps": 30}),
    ("/icl_sweep", {"shots_list": "0, 4", "repeats": 1, "max_items": 40}),
]
SHORT = [("/tokenize", {"text": PROMPTS[0]}), ("/next_token", {"prompt": PROMPTS[0]})]


def starvation_check(app: App) -> tuple[list[str], list[tuple]]:
    """Short requests alone, then while two long jobs (a training run, an ICL sweep) run for other users."""
    short_client = Client(app.url, verbose=False)
    idle = {name: timed(short_client, name, **kwargs)[1] for name, kwargs in SHORT}
    long_clients = [Client(app.url, verbose=False) for _ in LONG_WORK]
    with ThreadPoolExecutor(len(LONG_WORK)) as pool:
        jobs = [pool.submit(timed, c, name, **kwargs) for c, (name, kwargs) in zip(long_clients, LONG_WORK)]
        time.sleep(3.0)  # both long jobs are running
        busy = {name: timed(short_client, name, **kwargs) for name, kwargs in SHORT}
        long_done = [job.result() for job in jobs]
    lines = [f"{name} took {seconds:.1f} s ({'ok' if ok else error})" for name, seconds, ok, error in long_done]
    lines += [
        f"{name}: {idle[name]:.2f} s alone, {busy[name][1]:.2f} s during the long jobs ({'ok' if busy[name][2] else busy[name][3]})"
        for name, _ in SHORT
    ]
    return lines, [r for r in [*long_done, *busy.values()] if not r[2]]


def summary(label: str, results: list[tuple], single: float, peak_rss: int) -> str:
    ok = [r for r in results if r[2]]
    generate = [r[1] for r in ok if r[0] == "/generate"]
    every = [r[1] for r in ok]
    p50, p95 = percentile(generate, 50), percentile(generate, 95)
    return (
        f"| {label:<9} | {len(ok):>3}/{len(results):<3} | {p50:6.2f} | {p95:6.2f} | {p95 / single:5.1f}x "
        f"| {percentile(every, 50):6.2f} | {percentile(every, 95):6.2f} | {peak_rss / 2**20:7.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--port", type=int, default=0, help="0 = a free port")
    parser.add_argument("--skip-long-work", action="store_true", help="skip the short-requests-during-long-work check")
    args = parser.parse_args()

    app = App(args.port or free_port())
    try:
        app.wait_ready()
        warm = Client(app.url, verbose=False)
        for _ in range(2):  # the model loads in the background at start; the first forward warms the caches
            timed(warm, "/generate", prompt=PROMPTS[0], max_new_tokens=NEW_TOKENS)
        idle_rss = app.rss()

        app.reset_peak()
        alone = user_session(warm, 0)
        failures = [r for r in alone if not r[2]]
        single = statistics.median(r[1] for r in alone if r[0] == "/generate" and r[2])
        rows = [summary("1 user", alone, single, app.peak_rss)]
        for users in args.users:
            results = run_users(app, users)
            failures += [r for r in results if not r[2]]
            rows.append(summary(f"{users} users", results, single, app.peak_rss))
        isolated, detail = isolation_check(app)
        starvation, long_failures = ([], []) if args.skip_long_work else starvation_check(app)
        failures += long_failures
    finally:
        app.stop()

    print(
        f"\nLoad on {app.url} (app.py, concurrency {os.environ.get('PLM_EXPLORER_CONCURRENCY', '2')}, "
        f"{os.cpu_count()} cores); each user: {GENERATIONS_PER_USER} x /generate ({NEW_TOKENS} tokens, sampled) "
        "+ 1 x /tokenize or /next_token. Latencies in seconds."
    )
    print(
        f"single-user /generate latency (median of {GENERATIONS_PER_USER}): {single:.2f} s; "
        f"app RSS after warm-up: {idle_rss / 2**20:.0f} MiB\n"
    )
    print("| run       | ok      | gen p50 | gen p95 | p95/single | all p50 | all p95 | peak RSS MiB |")
    print("|-----------|---------|--------|--------|--------|--------|--------|---------|")
    print("\n".join(rows))
    print(f"\nsession isolation: {'OK' if isolated else 'FAILED'} ({detail})")
    if starvation:
        print("short requests while long work runs (" + " and ".join(n for n, _ in LONG_WORK) + "):")
        print("\n".join(f"  {line}" for line in starvation))
    for name, seconds, _, error in failures[:10]:
        print(f"failure: {name} after {seconds:.1f} s: {error}")
    if failures or not isolated:
        sys.exit(1)


if __name__ == "__main__":
    main()
