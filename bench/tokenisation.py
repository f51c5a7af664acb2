"""Speed of the Tokenisation tab on the bundled SmolLM2 tokenizer (target: replay of 1,000 characters < 1 s).

Run: .venv/bin/python bench/tokenisation.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from explorer import models, tokenisation  # noqa: E402

SAMPLE = (
    "Tokenisation isn't magic: naïve café, 東京, 👩‍💻 and 1234567 on 2026-11-23. "
    "See https://example.com/?q=bpe\n    def f(x): return x**2  # square\n"
    "Byte-pair encoding starts from bytes and merges the most frequent pairs. "
)
TEXT_1000 = (SAMPLE * 20)[:1000]
CODE = Path(tokenisation.__file__).read_text()[:20_000]  # many distinct words: the trainer's worst case here
REPEATS = 5


def timed(fn, repeats: int = REPEATS) -> float:
    """Median seconds of `repeats` calls (the machine is shared: the median resists noise)."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    tokenizer = models.get().tokenizer
    own = tokenizer(TEXT_1000, add_special_tokens=False)["input_ids"]

    tokenisation.bpe_rules.cache_clear()
    started = time.perf_counter()
    first = tokenisation.replay(tokenizer, TEXT_1000)
    cold = time.perf_counter() - started
    assert first.ids == own, "replay differs from the tokenizer"

    rows = [
        ("tokenizer's own encode (Rust)", timed(lambda: tokenizer(TEXT_1000, add_special_tokens=False))),
        ("tokenize (ids, pieces, offsets, decoded tokens)", timed(lambda: tokenisation.tokenize(tokenizer, TEXT_1000))),
        ("replay, first call (reads 48,900 merges)", cold),
        ("replay, rules cached", timed(lambda: tokenisation.replay(tokenizer, TEXT_1000))),
        ("toy BPE: lecture corpus, 10 merges", timed(lambda: tokenisation.train_bpe(tokenisation.LECTURE_CORPUS, 10))),
        (
            "toy BPE: 20,000 characters of source code, 5,000 merges",
            timed(lambda: tokenisation.train_bpe(CODE, 5000), 1),
        ),
    ]
    print(
        f"1,000-character text: {len(own)} tokens, {first.n_merges} merge steps replayed; ids equal the tokenizer's: True"
    )
    print(f"{'what':<58} {'seconds':>9}")
    for name, seconds in rows:
        print(f"{name:<58} {seconds:>9.4f}")
    replay_warm = rows[3][1]
    print(
        f"replay (cached) vs the tokenizer's own encode: {replay_warm / rows[0][1]:.0f}x slower; target < 1 s: "
        f"{'met' if max(cold, replay_warm) < 1 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
