"""A lecture hall at once: 32 students, then 100, pressing Generate within five seconds, on one app.

Starts `app.py` on a free port on 127.0.0.1 once per `--max-batch`, one after another: with batching
(the default, `PLM_EXPLORER_MAX_BATCH=64`; `--max-batch 64 32 1` compares it with 32) and without
(`PLM_EXPLORER_MAX_BATCH=1`: one sequence per forward, two requests at a time, as before); other
settings (`PLM_EXPLORER_BATCH_THREADS`) come from the environment. On each: one user alone first
(the single-user latency of that run), then every student, each with its own gradio_client Client
(threads of this one process: 32 client processes would cost the 2 cores more), sends 2 sampled
32-token /generate requests at random moments within 5 s. Prints one row per run: single-user
latency, answered / busy / failed, p50, p95 and max latency, p95 over single, tokens per second of
all students together, the app's peak resident memory (psutil, every 0.2 s), and the CPU seconds
the app and the clients spent during the hall (the clients share the app's cores); then the
batched over unbatched tokens per second. With 100 students (batching only), every request must
answer or be told at once that the app is busy ("Queue is full! Please try again.") within 120 s.
Then, on the batched app, two users branching at once must each continue their own text,
short requests must stay quick while long work runs, and bad input must harm no one: beside a
1,024-token generation, a cancelled one and a stream nobody reads, short requests return exactly
their lone tokens, and the app's memory comes back to its level before. bench/hall.py runs the
same hall without Gradio.

    .venv/bin/python bench/load.py [--students 32 100] [--max-batch 64 1] [--skip-checks] [--model Gemma-3-270M] [--rounds]

`--rounds` starts the batched app with its scheduler's rounds timed and prints, after each hall, where
its rounds' time went by their rows (bench/rounds.py).

Bounded: a fixed number of requests, each with a timeout; the apps are stopped at the end.
"""

from __future__ import annotations

import argparse
import os
import random
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
sys.path.insert(0, str(ROOT))

import rounds  # noqa: E402

from explorer.generation.scheduler import IDLE_SECONDS  # noqa: E402  (when a model's batch thread ends)

REQUEST_TIMEOUT = 300.0
SETTLE = IDLE_SECONDS + 5.0  # seconds to wait before reading memory: the batch thread has ended, its heaps trimmed
BROWSER_TIMEOUT = 60.0  # a browser waits this long for the app to accept a request (httpx's default is 5 s)
STARTUP_TIMEOUT = 180.0
COMPILE_TIMEOUT = 600.0  # compiling both bundled models' decoding steps, cold: ~5 min here
DEADLINE = 120.0  # with 100 students, every request answers or hears "busy" within this
NEW_TOKENS, PER_STUDENT, SPREAD = 32, 2, 5.0
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

    def __init__(self, max_batch: int, rounds_log: Path | None = None):
        port = free_port()
        env = dict(
            os.environ,
            GRADIO_SERVER_NAME="127.0.0.1",
            GRADIO_SERVER_PORT=str(port),
            GRADIO_ANALYTICS_ENABLED="False",
            PLM_EXPLORER_MAX_BATCH=str(max_batch),
        )
        self.url = f"http://127.0.0.1:{port}/"
        (ROOT / "bench" / "out").mkdir(exist_ok=True)
        self.log_path = ROOT / "bench" / "out" / f"load-app-{max_batch}.log"
        self.log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        timed = ["bench/rounds.py", str(rounds_log)] if rounds_log else []  # each round timed (bench/rounds.py)
        self.process = subprocess.Popen(
            [sys.executable, *timed, "app.py"], cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )
        self.peak_rss = 0
        self._stop = threading.Event()
        threading.Thread(target=self._sample, daemon=True).start()

    def rss(self) -> int:
        try:
            parent = psutil.Process(self.process.pid)
            return sum(p.memory_info().rss for p in [parent, *parent.children(recursive=True)])
        except psutil.Error:
            return 0

    def cpu_seconds(self) -> float:
        times = psutil.Process(self.process.pid).cpu_times()
        return times.user + times.system

    def wait_idle(self, timeout: float = COMPILE_TIMEOUT) -> None:
        """Until the app has spent under a tenth of a core for 8 s (its warm-up done: the other models
        loaded, the decoding steps compiled, as in a lecture an hour after start), at most `timeout` s."""
        deadline, quiet = time.monotonic() + timeout, 0
        while time.monotonic() < deadline and quiet < 4:  # 8 s: compiling resumes once requests stop for 3 s
            before = self.cpu_seconds()
            time.sleep(2.0)
            quiet = quiet + 1 if self.cpu_seconds() - before < 0.2 else 0

    def wait_compiled(self, timeout: float = COMPILE_TIMEOUT) -> None:
        """Until every model the app has loaded has its decoding step compiled (or left eager), at most
        `timeout` s. A compile still running gives way to requests but not entirely: during a hall it
        took the cores from the batch (112.6 against 147.5 tok/s), and one user alone ran eager."""
        deadline = time.monotonic() + timeout
        while os.environ.get("PLM_EXPLORER_COMPILE", "1") != "0" and time.monotonic() < deadline:
            log = self.log_path.read_text()
            if log.count("decoding step compiled") + log.count("decoding stays eager") >= log.count(" loaded in "):
                return
            time.sleep(2.0)

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            self.peak_rss = max(self.peak_rss, self.rss())

    def wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the app exited with {self.process.returncode}; see bench/out/")
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


def generate(client: Client, seed: int, prompt: str, model: str = "") -> tuple[str, float, int, str]:
    """("ok" | "busy" | "failed", seconds, tokens generated, error); `model` "" is the app's default."""
    started = time.perf_counter()
    try:
        outputs = client.submit(
            prompt=prompt,
            model=model,
            max_new_tokens=NEW_TOKENS,
            do_sample=True,
            temperature=0.8,
            seed=seed,
            api_name="/generate",
        ).result(timeout=REQUEST_TIMEOUT)
        return "ok", time.perf_counter() - started, len(outputs[-1]["steps"]), ""
    except Exception as error:  # noqa: BLE001 - counted and shown
        kind = "busy" if "Please try again" in str(error) else "failed"
        return kind, time.perf_counter() - started, 0, f"{type(error).__name__}: {str(error)[:120]}"


def connect(app: App) -> Client:
    return Client(app.url, verbose=False, httpx_kwargs={"timeout": BROWSER_TIMEOUT})


def open_page(app: App) -> Client:
    """A student with the page open: a browser's page load runs the app's load events, which make
    its session (Gradio builds a session's state from every component of the app, ~0.1 s of its
    event loop each); a client's first request does it instead, here one /tokenize."""
    client = connect(app)
    client.predict(text=PROMPTS[0], api_name="/tokenize")
    return client


def single_user(app: App, model: str = "") -> float:
    """The median latency of one user's 32-token generations, alone on the app."""
    client = connect(app)
    generate(client, 0, PROMPTS[0], model)  # the model loads in the background at start; this waits for it
    app.wait_idle()  # the other bundled models load after it: not during the timed runs
    app.wait_compiled()
    return statistics.median(generate(client, seed, PROMPTS[seed], model)[1] for seed in range(3))


def hall(app: App, students: int, model: str = "") -> tuple[list[tuple], float, float, float]:
    """Every student sends PER_STUDENT requests at random moments within SPREAD seconds: the
    results, the wall time from the first request to the last answer, and the CPU seconds the app
    and the students' clients spent meanwhile (the clients: threads of this process, one Client each)."""
    with ThreadPoolExecutor(16) as pool:  # clients connect and open their sessions before the clock starts
        clients = list(pool.map(lambda _: open_page(app), range(students)))
    rng = random.Random(0)
    sends = [(rng.uniform(0, SPREAD), s, i) for s in range(students) for i in range(PER_STUDENT)]
    app.peak_rss = app.rss()
    app_cpu, clients_cpu = app.cpu_seconds(), time.process_time()
    started = time.perf_counter()

    def send(when: float, student: int, i: int) -> tuple:
        time.sleep(max(0.0, started + when - time.perf_counter()))
        return generate(clients[student], student * 10 + i, PROMPTS[(student + i) % len(PROMPTS)], model)

    with ThreadPoolExecutor(len(sends)) as pool:
        results = list(pool.map(lambda s: send(*s), sends))
    wall = time.perf_counter() - started
    return results, wall, app.cpu_seconds() - app_cpu, time.process_time() - clients_cpu


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values) or [float("nan")]
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def row(label: str, single: float, results: list[tuple], wall: float, peak_rss: int, cpu: tuple[float, float]) -> str:
    counts = {kind: sum(r[0] == kind for r in results) for kind in ("ok", "busy", "failed")}
    answered = [r[1] for r in results if r[0] == "ok"]
    p50, p95 = percentile(answered, 50), percentile(answered, 95)
    slowest = max(r[1] for r in results)
    tokens = sum(r[2] for r in results)
    return (
        f"| {label:<22} | {single:6.2f} | {counts['ok']:>3} | {counts['busy']:>4} | {counts['failed']:>6} | {p50:6.1f} "
        f"| {p95:6.1f} | {p95 / single:6.1f}x | {slowest:6.1f} | {tokens / wall:6.1f} | {peak_rss / 2**20:6.0f} "
        f"| {cpu[0]:5.0f} | {cpu[1]:5.0f} |"
    )


def outcome(students: int, results: list[tuple]) -> str:
    """The many-users verdict: every request answered or told "busy" within the deadline."""
    counts = {kind: sum(r[0] == kind for r in results) for kind in ("ok", "busy", "failed")}
    slowest = max(r[1] for r in results)
    verdict = "OK" if not counts["failed"] and slowest <= DEADLINE else "FAILED"
    return (
        f"{students} students: {counts['ok']} answered, {counts['busy']} told busy, {counts['failed']} failed, "
        f"slowest {slowest:.0f} s (deadline {DEADLINE:.0f} s): {verdict}"
    )


def isolation_check(app: App) -> tuple[bool, str]:
    """Two users generate different texts, then both branch at once: each must continue its own text."""
    first, second = Client(app.url, verbose=False), Client(app.url, verbose=False)
    prompts = {"first": "The capital of France is", "second": "Once upon a time, in a small village,"}
    for client, prompt in ((first, prompts["first"]), (second, prompts["second"])):
        client.predict(prompt=prompt, max_new_tokens=4, api_name="/generate")

    def branch(client: Client) -> dict:
        job = client.submit(step=1, token_id=13, max_new_tokens=3, api_name="/branch")
        return job.result(timeout=REQUEST_TIMEOUT)[-1]

    with ThreadPoolExecutor(2) as pool:
        got_first, got_second = pool.map(branch, (first, second))
    seen_first, seen_second = got_first["prompt"], got_second["prompt"]
    isolated = seen_first.strip() == prompts["first"] and seen_second.strip() == prompts["second"]
    return isolated, f"user 1 branched from {seen_first!r}, user 2 from {seen_second!r}"


def bad_input_check(app: App) -> tuple[bool, list[str]]:
    """The issue's bad input, on the batched app, twice: while a 1,024-token generation runs, one request
    is cancelled mid-stream and one client opens its stream and never reads it; meanwhile 8 short seeded
    requests must each return exactly the tokens it returns alone (none failed, no other user's tokens).
    The first round may grow the resident memory once (the allocator keeps the long request's pages);
    the second must not grow it again by more than 100 MiB: what a round leaves behind would add up."""
    clients = [Client(app.url, verbose=False) for _ in range(8)]  # a student each

    def tokens(seed: int) -> list[int]:
        request = dict(prompt=PROMPTS[seed % len(PROMPTS)], max_new_tokens=16, do_sample=True, seed=seed)
        outputs = clients[seed].submit(**request, api_name="/generate").result(timeout=REQUEST_TIMEOUT)
        return [step["token_id"] for step in outputs[-1]["steps"]]

    def bad_round() -> int:
        long_job = Client(app.url, verbose=False).submit(prompt=PROMPTS[1], max_new_tokens=1024, api_name="/generate")
        cancelled = Client(app.url, verbose=False).submit(prompt=PROMPTS[2], max_new_tokens=512, api_name="/generate")
        # a stream never read: Gradio's REST call, its event stream opened and left unread
        arguments = {"data": [PROMPTS[3], "", 512, False, 1.0, 0, 1.0, 1.0, 0, False]}
        call = f"{app.url}gradio_api/call/generate"
        event = httpx.post(call, json=arguments, timeout=BROWSER_TIMEOUT).json()["event_id"]
        with httpx.Client(timeout=None) as unread, unread.stream("GET", f"{call}/{event}"):
            time.sleep(2.0)
            cancelled.cancel()
            with ThreadPoolExecutor(8) as pool:
                batched = dict(zip(alone, pool.map(lambda seed: _attempt(tokens, seed), alone)))
        long_job.result(timeout=REQUEST_TIMEOUT)  # the unread stream's client went away above
        time.sleep(SETTLE)
        return sum(batched[seed] == alone[seed] for seed in alone)

    alone = {seed: tokens(seed) for seed in range(8)}
    time.sleep(SETTLE)
    idle = app.rss()
    first = bad_round()
    after_first = app.rss()
    second = bad_round()
    after_second = app.rss()
    same = min(first, second)
    memory_ok = after_second - after_first <= 100 * 2**20
    lines = [
        f"bad input, twice: 8 short requests beside a 1,024-token one, a cancelled one and an unread stream: "
        f"{first}/8 and {second}/8 returned their lone tokens ({'OK' if same == 8 else 'FAILED'})",
        f"resident memory {idle / 2**20:.0f} MiB before, {after_first / 2**20:.0f} MiB {SETTLE:.0f} s after the first "
        f"round, {after_second / 2**20:.0f} after the second "
        f"({(after_second - after_first) / 2**20:+.0f} MiB: {'OK' if memory_ok else 'FAILED'})",
    ]
    return same == 8 and memory_ok, lines


def _attempt(run, *args):
    try:
        return run(*args)
    except Exception as error:  # noqa: BLE001 - counted as a different answer, shown
        return f"{type(error).__name__}: {str(error)[:120]}"


LONG_WORK = [
    ("/tuning_train", {"methods": ["head"], "steps": 30}),
    ("/icl_sweep", {"shots_list": "0, 4", "repeats": 1, "max_items": 40}),
]
SHORT = [("/tokenize", {"text": PROMPTS[0]}), ("/next_token", {"prompt": PROMPTS[0]})]


def timed(client: Client, api_name: str, **kwargs) -> tuple[float, str]:
    started = time.perf_counter()
    try:
        client.submit(**kwargs, api_name=api_name).result(timeout=REQUEST_TIMEOUT)
        return time.perf_counter() - started, "ok"
    except Exception as error:  # noqa: BLE001 - shown
        return time.perf_counter() - started, f"{type(error).__name__}: {str(error)[:120]}"


def starvation_check(app: App) -> list[str]:
    """Short requests alone, then while two long jobs (a training run, an ICL sweep) run for other users."""
    short_client = Client(app.url, verbose=False)
    idle = {name: timed(short_client, name, **kwargs)[0] for name, kwargs in SHORT}
    long_clients = [Client(app.url, verbose=False) for _ in LONG_WORK]
    with ThreadPoolExecutor(len(LONG_WORK)) as pool:
        jobs = [pool.submit(timed, c, name, **kwargs) for c, (name, kwargs) in zip(long_clients, LONG_WORK)]
        time.sleep(3.0)  # both long jobs are running
        busy = {name: timed(short_client, name, **kwargs) for name, kwargs in SHORT}
        lines = [f"{name} took {job.result()[0]:.1f} s ({job.result()[1]})" for job, (name, _) in zip(jobs, LONG_WORK)]
    return lines + [
        f"{name}: {idle[name]:.2f} s alone, {busy[name][0]:.2f} s during the long jobs ({busy[name][1]})"
        for name, _ in SHORT
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, nargs="+", default=[32, 100])
    parser.add_argument("--max-batch", type=int, nargs="+", default=[64, 1], help="apps to compare, first the batched")
    parser.add_argument("--skip-checks", action="store_true", help="skip the isolation and long-work checks")
    parser.add_argument("--model", default="", help="the halls' model (default: the app's, SmolLM2)")
    parser.add_argument("--rounds", action="store_true", help="time the batched app's rounds (bench/rounds.py)")
    args = parser.parse_args()
    rows, notes, failures, throughput = [], [], [], {}
    load_at_start = os.getloadavg()[0]
    for max_batch in args.max_batch:
        rounds_log = ROOT / "bench" / "out" / f"rounds-{max_batch}.log" if args.rounds and max_batch > 1 else None
        if rounds_log:
            rounds_log.unlink(missing_ok=True)
        app = App(max_batch, rounds_log)
        try:
            app.wait_ready()
            single = single_user(app, args.model)
            compiled = [line.strip() for line in app.log_path.read_text().splitlines() if "decoding step" in line]
            notes.append(f"MAX_BATCH={max_batch}, before the hall: " + ("; ".join(compiled) or "no step compiled"))
            for students in args.students if max_batch > 1 else args.students[:1]:
                started = time.time()
                results, wall, *cpu = hall(app, students, args.model)
                label = f"{students} students, batch {max_batch}" + (f", {args.model}" if args.model else "")
                if rounds_log:
                    notes.append(
                        f"\n{label}, its rounds (bench/rounds.py):\n\n{rounds.table(rounds_log, started, time.time())}\n"
                    )
                rows.append(row(label, single, results, wall, app.peak_rss, cpu))
                throughput[(students, max_batch)] = sum(r[2] for r in results) / wall
                if students > 32 and max_batch > 1:
                    notes.append(outcome(students, results))
                late = [r for r in results if r[1] > DEADLINE] if max_batch > 1 else []  # 1: the baseline
                failures += [r for r in results if r[0] == "failed" or (students <= 32 and r[0] != "ok")] + late
            if max_batch > 1 and not args.skip_checks:
                isolated, detail = isolation_check(app)
                notes.append(f"session isolation: {'OK' if isolated else 'FAILED'} ({detail})")
                notes += starvation_check(app)
                failures += [] if isolated else [("failed", 0.0, 0, detail)]
                sound, lines = bad_input_check(app)
                notes += lines
                failures += [] if sound else [("failed", 0.0, 0, lines[0])]
        finally:
            app.stop()
    students = args.students[0]
    print(
        f"\nLoad on app.py ({os.cpu_count()} cores, load average {load_at_start:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end); each student: {PER_STUDENT} x /generate ({NEW_TOKENS} tokens, sampled) "
        f"sent within {SPREAD:.0f} s. single: one user alone on the same app, median of 3. Latencies in seconds, "
        "tok/s of all students together; CPU seconds of the app and of the students' clients during the hall.\n"
    )
    print(
        "| run                    | single |  ok | busy | failed |    p50 |    p95 | p95/single |    max |  tok/s "
        "| peak RSS MiB | app CPU s | clients CPU s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    if (students, 1) in throughput:
        gain = throughput[(students, args.max_batch[0])] / throughput[(students, 1)]
        print(
            f"\n{students} students: batching (MAX_BATCH={args.max_batch[0]}) serves {gain:.1f}x the tokens per second "
            "of one sequence per forward (MAX_BATCH=1)"
        )
    print("\n".join(notes))
    for kind, seconds, _, error in failures[:10]:
        print(f"{kind} after {seconds:.1f} s: {error}")
    if failures:
        sys.exit(1)


if __name__ == "__main__":
    main()
