"""Speed of the Tokenisation tab on the bundled tokenizers, and what each vocabulary costs per language.

- replay of 1,000 characters (target < 1 s) for SmolLM2 (byte-level BPE, words pre-tokenised) and
  Gemma 3 (BPE with byte fallback: all text between added tokens is one word), with newlines and
  without (the worst case for Gemma: one 1,000-character word);
- characters per token, SmolLM2 vs Gemma, on a Chinese and an English passage (~300 characters);
- the toy BPE trainer.

Run: .venv/bin/python bench/tokenisation.py  (Gemma's rows need "Gemma-3-270M" in the registry)
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from explorer import cache, models, tokenisation  # noqa: E402

GEMMA = "Gemma-3-270M"
SAMPLE = (
    "Tokenisation isn't magic: naïve café, 東京, 👩‍💻 and 1234567 on 2026-11-23. "
    "See https://example.com/?q=bpe\n    def f(x): return x**2  # square\n"
    "Byte-pair encoding starts from bytes and merges the most frequent pairs. "
)
TEXT_1000 = (SAMPLE * 20)[:1000]
ONE_WORD_1000 = TEXT_1000.replace("\n", " ")  # no added token inside: one word for Gemma's BPE
CHINESE = (
    "语言模型看不到字符，只能看到词元。分词器把文本切成词表中的片段，再把每个片段换成一个编号。"
    "字节对编码从单个字节开始，反复合并最常见的相邻片段，直到词表达到预定的大小。词表越大，常见的词语"
    "就越可能成为一个完整的词元，同样的文本需要的词元就越少，模型一次能读的内容也就越多。不过，词表太大"
    "也会让嵌入矩阵变大，占用更多的内存。多语言模型往往使用更大的词表，让中文、日文和韩文的常用字词都能"
    "直接编码，而不必退回到字节。对于以英文为主训练的分词器，一个汉字常常被拆成两到三个字节词元，因此"
    "同样一段中文会占用更多的上下文长度，推理也更慢、更贵。"
)
ENGLISH = (
    "A language model never reads characters: it reads tokens, pieces of text from a fixed vocabulary. "
    "Byte-pair encoding starts from single bytes and merges the most frequent adjacent pairs until the "
    "vocabulary is full. A larger vocabulary turns more words into single tokens, so the same text costs "
    "fewer tokens and more of it fits in the context window."
)
CODE = (Path(tokenisation.__file__).parent / "toy_bpe.py").read_text()[:20_000]  # many distinct words
REPEATS = 5


def timed(fn, repeats: int = REPEATS) -> float:
    """Median seconds of `repeats` calls (the machine is shared: the median resists noise)."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def replay_rows(lm: models.LoadedModel) -> list[tuple[str, float]]:
    """Encode, tokenize and replay 1,000 characters; the replay must give the tokenizer's ids."""
    tokenizer, name = lm.tokenizer, lm.name
    cache.evict(name)  # the first replay reads the merge list
    started, cpu = time.perf_counter(), time.process_time()
    first = tokenisation.replay(tokenizer, TEXT_1000, name)
    cold, cold_cpu = time.perf_counter() - started, time.process_time() - cpu
    one_word = tokenisation.replay(tokenizer, ONE_WORD_1000, name)
    assert first.matches_tokenizer and one_word.matches_tokenizer, f"{name}: the replay differs from the tokenizer"
    print(
        f"{name}: 1,000 characters -> {len(first.ids)} tokens, {first.n_merges} merges replayed "
        f"({len(one_word.ids)} tokens, {one_word.n_merges} merges without newlines); ids equal the tokenizer's; "
        f"the first replay (reading {len(tokenisation.bpe_rules(tokenizer, name).ranks):,} merges) took "
        f"{cold_cpu:.2f} s of CPU time"
    )
    return [
        (f"{name}: the tokenizer's own encode (Rust)", timed(lambda: tokenizer(TEXT_1000, add_special_tokens=False))),
        (f"{name}: tokenize (ids, pieces, offsets, texts)", timed(lambda: tokenisation.tokenize(tokenizer, TEXT_1000))),
        (f"{name}: replay, first call (reads the merges; once per model)", cold),
        (f"{name}: replay, rules cached", timed(lambda: tokenisation.replay(tokenizer, TEXT_1000, name))),
        (
            f"{name}: replay, rules cached, no newline",
            timed(lambda: tokenisation.replay(tokenizer, ONE_WORD_1000, name)),
        ),
    ]


def main() -> None:
    loaded = [models.get()]
    if GEMMA in models.REGISTRY:
        loaded.append(models.get(GEMMA))
    else:
        print(f"{GEMMA} is not registered here: its rows are left out.")
    rows = [row for lm in loaded for row in replay_rows(lm)]
    rows += [
        ("toy BPE: lecture corpus, 10 merges", timed(lambda: tokenisation.train_bpe(tokenisation.LECTURE_CORPUS, 10))),
        (
            "toy BPE: 20,000 characters of source code, 5,000 merges",
            timed(lambda: tokenisation.train_bpe(CODE, 5000), 1),
        ),
    ]
    print(f"\n{'what':<70} {'seconds':>9}")
    for name, seconds in rows:
        print(f"{name:<70} {seconds:>9.4f}")
    replays = [seconds for name, seconds in rows if "rules cached" in name]
    print(
        f"slowest replay of 1,000 characters, rules cached: {max(replays):.3f} s; target < 1 s: {'met' if max(replays) < 1 else 'MISSED'}"
    )

    print(f"\n{'characters per token':<22}" + "".join(f"{lm.name:>24}" for lm in loaded))
    for label, passage in (("Chinese", CHINESE), ("English", ENGLISH)):
        results = tokenisation.compare(passage, [(lm.name, lm.tokenizer) for lm in loaded])
        cells = "".join(f"{f'{r.chars_per_token:.2f} ({r.n_tokens} tokens)':>24}" for r in results)
        print(f"{f'{label} ({len(passage)} chars)':<22}{cells}")


if __name__ == "__main__":
    main()
