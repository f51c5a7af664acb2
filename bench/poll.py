"""A class poll under a lecture hall's load: 300 phones vote within 30 s while a generation streams.

Starts `app.py` on a free port (as bench/load.py does) and opens a poll with /poll_create. Connects
`--students` gradio_client Clients, each making one request as a phone does when it loads the page,
before the clock starts; starts a long /generate stream; then each client votes once with its own
voter id at a random moment within `--spread` seconds, and every tenth taps twice (the same vote a
second later), which must be counted once. Prints the votes' latencies (p50, p95, max), the wall
time, whether the generation streamed the whole time, and checks the tally of /poll_results: every
voter counted exactly once, per option.

    .venv/bin/python bench/poll.py [--students 300] [--spread 30]

Bounded: a fixed number of requests, each with a timeout; the app is stopped at the end.
"""

from __future__ import annotations

import argparse
import os
import random
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no telemetry thread per client (and no network)

from load import App, connect, percentile  # noqa: E402 (the app in a child process, a student's client)

OPTIONS = ["Paris", "Lyon", "the", "a"]
STREAM_TOKENS = 1024  # long enough to stream through the whole vote on 2 cores


def vote(client, code: str, option: int, voter: str) -> tuple[str, float, str]:
    """("ok" | "refused" | "failed", seconds, message)."""
    started = time.perf_counter()
    try:
        client.predict(code=code, option=option, voter=voter, api_name="/poll_vote")
        return "ok", time.perf_counter() - started, ""
    except Exception as error:  # noqa: BLE001 - counted and shown
        kind = "refused" if "already voted" in str(error) or "No poll" in str(error) else "failed"
        return kind, time.perf_counter() - started, str(error)[:160]


def warmed(client):
    """A client that has made one request (refused at once: an unknown code), as a phone that loaded the page."""
    vote(client, "K7QX2M", 0, "warming-up")
    return client


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--spread", type=float, default=30.0)
    args = parser.parse_args()
    app = App(max_batch=16)
    try:
        app.wait_ready()
        lecturer = connect(app)
        lecturer.predict(prompt="Hello", max_new_tokens=2, api_name="/generate")  # waits for the model to load
        poll = lecturer.predict(question="Which token comes next?", options="\n".join(OPTIONS), api_name="/poll_create")
        code, key = poll["code"], poll["key"]

        connecting = time.perf_counter()
        with ThreadPoolExecutor(16) as pool:  # a phone opens the page (and its first request) before the question
            clients = list(pool.map(lambda _: warmed(connect(app)), range(args.students)))
        connect_seconds = time.perf_counter() - connecting

        stream = connect(app).submit(
            prompt="Once upon a time, in a small village by the sea,",
            max_new_tokens=STREAM_TOKENS,
            api_name="/generate",
        )
        rng = random.Random(0)
        ballots = [(rng.uniform(0, args.spread), s, s % len(OPTIONS), uuid.uuid4().hex) for s in range(args.students)]
        again = [(when + 1.0, s, option, voter) for when, s, option, voter in ballots[::10]]  # a double tap
        started = time.perf_counter()

        def send(when: float, student: int, option: int, voter: str) -> tuple:
            time.sleep(max(0.0, started + when - time.perf_counter()))
            return vote(clients[student], code, option, voter)

        with ThreadPoolExecutor(len(ballots) + len(again)) as pool:  # one thread a phone: each waits for its moment
            firsts = pool.map(lambda b: send(*b), ballots)
            seconds = pool.map(lambda b: send(*b), again)
            firsts, seconds = list(firsts), list(seconds)
        wall = time.perf_counter() - started
        streaming = not stream.done()  # still generating after the last vote was answered
        generated = stream.result(timeout=600)[-1]

        tally = lecturer.predict(code=code, key=key, reveal=True, api_name="/poll_results")
        expected = [sum(1 for *_, option, _ in ballots if option == k) for k in range(len(OPTIONS))]
        ok = [r[1] for r in firsts if r[0] == "ok"]
        print(f"clients: {args.students} connected in {connect_seconds:.1f} s")
        print(
            f"votes: {len(ok)} counted of {len(firsts)} sent within {args.spread:.0f} s, wall {wall:.1f} s; "
            f"latency p50 {percentile(ok, 50) * 1000:.0f} ms, p95 {percentile(ok, 95) * 1000:.0f} ms, "
            f"max {max(ok) * 1000:.0f} ms"
        )
        failed = [r[2] for r in firsts + seconds if r[0] == "failed"]
        print(
            f"second votes refused: {sum(r[0] == 'refused' for r in seconds)} of {len(seconds)}; failed: {failed[:3]}"
        )
        print(
            f"generation streaming throughout: {streaming}; {len(generated['steps'])} tokens at {generated['tokens_per_second']:.1f} tok/s"
        )
        print(f"tally: {tally['votes']} (total {tally['total']}), expected {expected}")
        counted = len(ok) + sum(r[0] == "ok" for r in seconds)  # a second tap may overtake a slow first one
        exact = tally["votes"] == expected and tally["total"] == args.students == counted
        print("counted exactly:", exact)
        if not exact:
            raise SystemExit(1)
    finally:
        app.stop()


if __name__ == "__main__":
    main()
