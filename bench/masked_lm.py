"""Masked-LM tab benchmark: causal rescoring's hit rate on the cloze sentences, and fill_mask latency.

    .venv/bin/python bench/masked_lm.py                 # torch threads as the app: PLM_EXPLORER_THREADS (default 1)
    .venv/bin/python bench/masked_lm.py --latency-only  # the latency table only
    .venv/bin/python bench/masked_lm.py --model NAME    # another registered causal model (default: the bundled one)
    .venv/bin/python bench/masked_lm.py --set zh --model Gemma-3-270M   # the 36 Chinese sentences (cloze_zh)

Targets (issue 4): the right word in the top 5 for >= 7 sentences in 10; one fill with one mask < 2 s,
with several masks < 6 s, on 2 CPU cores. Chinese (issue 14): >= 60 % in the top 5 on Gemma-3-270M,
a median call < 3 s. The compute function `masked_lm.fill_mask` is timed (no
plot, no JSON), with a causal model (offline: method causal-rescoring).
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from explorer import datasets, masked_lm, models  # noqa: E402

LATENCY_CASES = {
    "en": [
        ("1 mask", "[MASK] is the largest planet in the solar system."),
        ("3 masks", "The [MASK] barked at the [MASK] all [MASK]."),
        ("5 masks", "On [MASK] morning the [MASK] ate [MASK] eggs and drank [MASK] before [MASK]."),
    ],
    "zh": [
        ("1 mask", "[MASK]是太阳系中最大的行星。"),
        ("3 masks", "[MASK]在院子里对着[MASK]叫了一整[MASK]。"),
    ],
}
REPEATS = 3


def hit_rate(lm: models.LoadedModel, language: str, top_k: int = 5) -> None:
    by_group: dict[str, list[bool]] = collections.defaultdict(list)
    misses, seconds = [], []
    for row in datasets.load_cloze(language):
        result = masked_lm.fill_mask(lm, lm, row.text, top_k)
        seconds.append(result.seconds)
        words = [c.token.lower() for c in result.masks[0].candidates]
        hit = any(answer.lower() in words for answer in row.answers)
        for group in (row.category, f"mask at {row.position}", "all"):
            by_group[group].append(hit)
        if not hit:
            misses.append(f"  {row.text!r}: wanted {row.answers[0]}, got {words}")
    print(
        f"\nHit rate: the right word in the top {top_k} (causal rescoring, {lm.name}, set {language}); "
        f"median call {statistics.median(seconds):.2f} s, max {max(seconds):.2f} s"
    )
    print(f"{'group':<18}{'hits':>6}{'n':>5}{'rate':>7}")
    for group, hits in sorted(by_group.items(), key=lambda item: item[0] == "all"):
        print(f"{group:<18}{sum(hits):>6}{len(hits):>5}{sum(hits) / len(hits):>7.0%}")
    print("misses:\n" + "\n".join(misses))


def latency(lm: models.LoadedModel, language: str) -> None:
    print(f"\nLatency of one masked_lm.fill_mask (compute only), median of {REPEATS}, top_k=10")
    print(f"{'case':<10}{'median s':>10}{'min s':>8}{'max s':>8}{'scored':>8}  target")
    for label, text in LATENCY_CASES[language]:
        masked_lm.fill_mask(lm, lm, text, 10)  # warm: first calls pay one-off allocation costs
        seconds, scored = [], 0
        for _ in range(REPEATS):
            started = time.perf_counter()
            scored = masked_lm.fill_mask(lm, lm, text, 10).candidates_scored
            seconds.append(time.perf_counter() - started)
        target = "< 2 s" if label == "1 mask" else "< 6 s"
        print(
            f"{label:<10}{statistics.median(seconds):>10.2f}{min(seconds):>8.2f}{max(seconds):>8.2f}{scored:>8}  {target}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="", help="a registered causal model ('' = the bundled one)")
    parser.add_argument("--latency-only", action="store_true", help="skip the cloze hit rate")
    parser.add_argument("--set", choices=datasets.LANGUAGES, default="en", help="the cloze set's language")
    args = parser.parse_args()
    threads = int(os.environ.get("PLM_EXPLORER_THREADS", "1"))
    torch.set_num_threads(threads)
    started = time.perf_counter()
    lm = models.get(args.model, "causal")
    print(
        f"{lm.name} ready in {time.perf_counter() - started:.1f} s; torch threads {threads}; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (a shared machine is slower)"
    )
    latency(lm, args.set)
    if not args.latency_only:
        hit_rate(lm, args.set)
    print(f"\nload average now {os.getloadavg()[0]:.1f}; total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
