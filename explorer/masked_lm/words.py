"""Chinese text tokenised word by word, where a BPE's merges would cut across a word.

A BPE merges the pairs its training found most often, not words: Gemma 3's tokenizer splits
中国的首都是 as 中国的|首|都是 (都是, "all are", outranks 首都, "capital"), a split in which 首 reads
as a measure word: after it 北京 is not among Gemma-3-270M's 15 likeliest next tokens, after
中国的|首都|是 it is the first, at 68 %. Text written without spaces has no other clue where its
words end, so here each run of CJK characters is cut by forward maximum matching, the classic
baseline of Chinese word segmentation: from each character, the longest run of up to
MAX_WORD_CHARS characters that is a single token of the vocabulary, and the next run after it. Everything else is tokenised as the tokenizer does.
"""

from __future__ import annotations

import re

from .blanks import is_cjk

MAX_WORD_CHARS = 6  # the longest run looked up as one token (中华人民共和国 is rarely one)
_CJK_RUN = re.compile("([\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]+)")  # the characters `is_cjk` accepts


def word_tokens(tokenizer, text: str) -> list[int]:
    """`text`'s tokens, each run of CJK characters cut word by word (forward maximum matching)."""
    ids: list[int] = []
    for part in _CJK_RUN.split(text):
        if part and is_cjk(part[0]):
            ids += cjk_run_tokens(tokenizer, part)
        elif part:
            ids += tokenizer(part, add_special_tokens=False)["input_ids"]
    return ids


def cjk_run_tokens(tokenizer, run: str) -> list[int]:
    """A run of CJK characters cut greedily from the left into the longest single tokens; a
    character that is no token on its own keeps the tokenizer's pieces (its bytes)."""
    # Which stretches of the run are one token: every stretch up to MAX_WORD_CHARS, in one batch call.
    spans = [(start, end) for start in range(len(run)) for end in range(start + 1, start + MAX_WORD_CHARS + 1)]
    spans = [(start, end) for start, end in spans if end <= len(run)]
    pieces = tokenizer([run[start:end] for start, end in spans], add_special_tokens=False)["input_ids"]
    single = {span: ids[0] for span, ids in zip(spans, pieces) if len(ids) == 1}
    ids, start = [], 0
    while start < len(run):
        end = next(
            (end for end in range(min(len(run), start + MAX_WORD_CHARS), start, -1) if (start, end) in single), 0
        )
        if end:
            ids.append(single[(start, end)])
        else:
            end = start + 1
            ids += tokenizer(run[start], add_special_tokens=False)["input_ids"]
        start = end
    return ids
