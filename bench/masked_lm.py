"""Masked-LM tab benchmark: causal rescoring's hit rate on the 30 cloze sentences, and /fill_mask latency.

    .venv/bin/python bench/masked_lm.py            # torch threads as the app: PLM_EXPLORER_THREADS (default 1)
    PLM_EXPLORER_THREADS=1 .venv/bin/python bench/masked_lm.py
    .venv/bin/python bench/masked_lm.py latency    # the latency table only

Targets (issue 4): the right word in the top 5 for >= 7 sentences in 10; one /fill_mask call with one
mask < 2 s, with several masks < 6 s, on 2 CPU cores. The calls go through the endpoint's handler
(compute, plot and JSON payload), with the bundled SmolLM2 (offline: method causal-rescoring).
"""

from __future__ import annotations

import collections
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from explorer import models  # noqa: E402
from explorer.views import masked_lm as view  # noqa: E402

CLOZE = Path(__file__).resolve().parent.parent / "assets" / "cloze.jsonl"
LATENCY_CASES = [
    ("1 mask", "[MASK] is the largest planet in the solar system."),
    ("3 masks", "The [MASK] barked at the [MASK] all [MASK]."),
    ("5 masks", "On [MASK] morning the [MASK] ate [MASK] eggs and drank [MASK] before [MASK]."),
]
REPEATS = 3


def hit_rate(top_k: int = 5) -> None:
    rows = [json.loads(line) for line in CLOZE.read_text().splitlines()]
    by_group: dict[str, list[int]] = collections.defaultdict(list)
    misses = []
    for row in rows:
        payload = view.fill_mask(row["text"], "", top_k)[-1]
        words = [c["token"].lower() for c in payload["masks"][0]["candidates"]]
        hit = any(answer.lower() in words for answer in row["answers"])
        for group in (row["category"], f"mask at {row['position']}", "all"):
            by_group[group].append(hit)
        if not hit:
            misses.append(f"  {row['text']!r}: wanted {row['answers'][0]}, got {words}")
    print(f"\nHit rate: the right word in the top {top_k} (causal rescoring, {models.BUNDLED_NAME})")
    print(f"{'group':<18}{'hits':>6}{'n':>5}{'rate':>7}")
    for group, hits in sorted(by_group.items(), key=lambda item: item[0] == "all"):
        print(f"{group:<18}{sum(hits):>6}{len(hits):>5}{sum(hits) / len(hits):>7.0%}")
    print("misses:\n" + "\n".join(misses))


def latency() -> None:
    print(f"\nLatency of one /fill_mask call (handler: compute + plot + JSON), median of {REPEATS}, top_k=10")
    print(f"{'case':<10}{'median s':>10}{'min s':>8}{'max s':>8}{'scored':>8}  target")
    for label, text in LATENCY_CASES:
        view.fill_mask(text, "", 10)  # warm: first calls pay one-off allocation costs
        seconds, scored = [], 0
        for _ in range(REPEATS):
            started = time.perf_counter()
            payload = view.fill_mask(text, "", 10)[-1]
            seconds.append(time.perf_counter() - started)
            scored = payload["candidates_scored"]
        target = "< 2 s" if label == "1 mask" else "< 6 s"
        print(
            f"{label:<10}{statistics.median(seconds):>10.2f}{min(seconds):>8.2f}{max(seconds):>8.2f}{scored:>8}  {target}"
        )


def main() -> None:
    threads = int(os.environ.get("PLM_EXPLORER_THREADS", "1"))
    torch.set_num_threads(threads)
    started = time.perf_counter()
    models.get()
    print(
        f"{models.BUNDLED_NAME} ready in {time.perf_counter() - started:.1f} s; torch threads {threads}; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (a shared machine is slower)"
    )
    latency()
    if sys.argv[1:] != ["latency"]:
        hit_rate()
    print(f"\nload average now {os.getloadavg()[0]:.1f}; total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
