"""A toy BPE trained the lecture's way (Sennrich et al., 2016; Karpathy's minbpe).

1. split every word of the corpus into characters, plus an end-of-word marker of its own ('</w>'),
   so that a merge can tell 'est' at a word's end from 'est' inside one;
2. count every adjacent pair of symbols, each word weighted by how often it occurs;
3. merge the most frequent pair everywhere (the pair seen first wins a tie) and add it to the
   vocabulary; repeat from 2.

A new word is segmented by applying the learnt merges in the order they were learnt (`segment`).
The vocabulary is counted both ways the literature does: the base alphabet plus the merges (it
grows by one per merge), and the symbols still in use in the segmented corpus (it can shrink).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass

from .. import checks, i18n
from ..checks import ExplorerError
from ..models import Progress

MAX_MERGES = 5_000
MAX_WORD_COUNT = 1_000_000
MAX_TIES_SHOWN = 10
MAX_MARKER_CHARS = 10  # the end-of-word marker's length
LECTURE_CORPUS = "low×5 lower×2 newest×6 widest×3"
END_OF_WORD = "</w>"


@dataclass
class ToyMerge:
    pair: list[str]
    count: int  # how often the pair occurred when it was merged (word counts included)
    vocab_size: int  # base alphabet + merges so far: the usual way to count a BPE vocabulary
    working_vocab_size: int  # symbols still occurring in the segmented corpus (the lecture's count)
    new_symbol: str
    removed: list[str]  # symbols that no longer occur on their own after this merge
    tied_with: list[list[str]]  # other pairs that had the same count (lost the tie-break)


@dataclass
class ToyBpe:
    merges: list[ToyMerge]
    vocab: list[str]  # base alphabet (sorted), then each merged symbol in the order learnt
    segmentations: dict[str, list[str]]  # each corpus word after the last merge
    word_counts: dict[str, int]
    alphabet: list[str]
    end_of_word: str
    stopped_early: bool  # every word became a single symbol before num_merges merges


def parse_corpus(corpus: str) -> dict[str, int]:
    """Words split on whitespace (the ideographic space too) and counted; `word×5` (or `word*5`, or
    full-width `word＊５`) means the word 5 times. Any character is a symbol: 大学×5 works as low×5."""
    corpus = checks.text(corpus, "corpus")
    counts: Counter[str] = Counter()
    for token in corpus.split():
        match = re.fullmatch(r"(.+?)[×*＊](\d+)", token)
        word, count = (match.group(1), int(match.group(2))) if match else (token, 1)
        if count > MAX_WORD_COUNT:
            raise ExplorerError("{token!r}: a word count must be at most {limit:,}.", token=token, limit=MAX_WORD_COUNT)
        if count > 0:
            counts[word] += count
    if len(counts) < 2:
        raise ExplorerError(
            "The corpus has {n} distinct word(s); BPE learns from pairs shared across words, so give at least "
            "two different words (e.g. `low×5 lower×2 newest×6 widest×3`).",
            n=len(counts),
        )
    return dict(counts)


def split_into_symbols(word: str, end_of_word: str) -> tuple[str, ...]:
    """Start from characters; the end-of-word marker is a symbol of its own, as in the lecture."""
    return tuple(word) + ((end_of_word,) if end_of_word else ())


Words = list[tuple[tuple[str, ...], int]]  # (symbols, count) per distinct word, in corpus order


def count_pairs(words: Words) -> Counter:
    """How often each adjacent pair of symbols occurs, each word weighted by its count."""
    stats: Counter = Counter()
    for symbols, count in words:
        for pair in zip(symbols, symbols[1:]):
            stats[pair] += count
    return stats


def merge_pair(symbols: tuple[str, ...], pair: tuple[str, str]) -> tuple[str, ...]:
    """Replace every occurrence of `pair` in the word by the merged symbol, left to right."""
    if pair[0] not in symbols:  # most words do not contain the pair: a fast way out
        return symbols
    merged, i = [], 0
    while i < len(symbols):
        if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == pair:
            merged.append(symbols[i] + symbols[i + 1])
            i += 2
        else:
            merged.append(symbols[i])
            i += 1
    return tuple(merged)


def most_frequent_pair(stats: Counter, words: Words) -> tuple[tuple[str, str], list[tuple[str, str]]]:
    """The most frequent pair, and (up to MAX_TIES_SHOWN) other pairs as frequent.
    Tie-break: the pair seen first, in corpus order then left to right: what `max` over freshly
    counted pairs gives in Sennrich's and minbpe's code."""
    best = max(stats.values())
    tied = {pair for pair, count in stats.items() if count == best}
    if len(tied) == 1:
        return tied.pop(), []
    in_order: list[tuple[str, str]] = []
    for symbols, _ in words:
        for pair in zip(symbols, symbols[1:]):
            if pair in tied and pair not in in_order:
                in_order.append(pair)
                if len(in_order) in (len(tied), MAX_TIES_SHOWN + 1):
                    return in_order[0], in_order[1:]
    return in_order[0], in_order[1:]


def _replace(counts: Counter, old: Counter, new: Counter) -> None:
    """counts -= old; counts += new; in place, dropping what reaches 0 (Counter's `-=` would rescan every key)."""
    counts.subtract(old)
    counts.update(new)
    for key in old:
        if counts[key] <= 0:
            del counts[key]


def segment(word: str, merges: list[ToyMerge] | list[tuple[str, str]], end_of_word: str = END_OF_WORD) -> list[str]:
    """Segment any word by applying the learnt merges in the order they were learnt."""
    symbols = split_into_symbols(word, end_of_word)
    for merge in merges:
        pair = tuple(merge.pair) if isinstance(merge, ToyMerge) else tuple(merge)
        symbols = merge_pair(symbols, pair)
    return list(symbols)


def train_bpe(
    corpus: str = LECTURE_CORPUS,
    num_merges: int = 10,
    end_of_word: str = END_OF_WORD,
    progress: Progress | None = None,
) -> ToyBpe:
    """Learn `num_merges` merges: count pairs, merge the most frequent everywhere, repeat.

    Counting every pair afresh after each merge, as the lecture does, gives the same counts as
    recounting only the words the merge changed; the latter keeps 5,000 merges on 20,000
    characters to about a second."""
    num_merges = checks.number(num_merges, "num_merges", 1, MAX_MERGES, integer=True)
    end_of_word = checks.text(end_of_word, "end_of_word", allow_blank=True).strip()
    if len(end_of_word) > MAX_MARKER_CHARS:
        raise ExplorerError(
            "end_of_word must be a short marker (at most {limit} characters), e.g. </w>, or empty for none.",
            limit=MAX_MARKER_CHARS,
        )
    word_counts = parse_corpus(corpus)
    words: Words = [(split_into_symbols(w, end_of_word), c) for w, c in word_counts.items()]
    stats = count_pairs(words)
    where = defaultdict(set)  # pair -> the words it occurs in: only those change when it is merged
    for index, (symbols, _) in enumerate(words):
        for pair in zip(symbols, symbols[1:]):
            where[pair].add(index)
    in_use = Counter(symbol for symbols, _ in words for symbol in symbols)  # the working vocabulary
    alphabet = sorted(in_use)
    vocab, merges = list(alphabet), []
    for step in range(num_merges):
        if not stats:
            break
        pair, tied = most_frequent_pair(stats, words)
        new_symbol = pair[0] + pair[1]
        count = stats[pair]
        for index in where.pop(pair):
            symbols, word_count = words[index]
            merged = merge_pair(symbols, pair)
            words[index] = (merged, word_count)
            for old_pair in zip(symbols, symbols[1:]):
                where[old_pair].discard(index)
            for new_pair in zip(merged, merged[1:]):
                where[new_pair].add(index)
            _replace(stats, count_pairs([(symbols, word_count)]), count_pairs([(merged, word_count)]))
            _replace(in_use, Counter(symbols), Counter(merged))
        vocab.append(new_symbol)
        merges.append(
            ToyMerge(
                pair=list(pair),
                count=count,
                vocab_size=len(vocab),
                working_vocab_size=len(in_use),
                new_symbol=new_symbol,
                removed=sorted({*pair} - set(in_use)),
                tied_with=[list(p) for p in tied],
            )
        )
        if progress and step % 100 == 0:
            progress(
                step / num_merges, i18n.message("merge {step} of {total}", {"step": step + 1, "total": num_merges})
            )
    return ToyBpe(
        merges=merges,
        vocab=vocab,
        segmentations={w: list(symbols) for w, (symbols, _) in zip(word_counts, words)},
        word_counts=word_counts,
        alphabet=alphabet,
        end_of_word=end_of_word,
        stopped_early=len(merges) < num_merges,
    )
