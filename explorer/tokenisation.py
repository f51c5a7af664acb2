"""Tokenisation, three ways: what a tokenizer outputs, how the model's BPE got there, how BPE is learnt.

1. `tokenize`: the tokenizer's own output (ids, byte-level pieces, character offsets).
2. `replay`: the model's real merges re-applied by hand, one merge per step. The rules (vocabulary,
   merge ranks, options) are read from the tokenizer's own `tokenizers` JSON; the text is split
   around added tokens and pre-tokenised by the tokenizer's own normalizer and pre-tokenizer. Only
   the merging is written here, because no library exposes the intermediate steps. Merging follows
   `tokenizers`' BPE model exactly: among adjacent pairs, the one with the lowest rank merges first,
   the leftmost on ties; so the final ids equal the tokenizer's own.
3. `train_bpe`: a toy BPE trained the lecture's way (Sennrich et al., 2016; Karpathy's minbpe):
   split words into characters, count adjacent pairs, merge the most frequent, repeat.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from transformers.convert_slow_tokenizer import bytes_to_unicode

from . import checks
from .checks import ExplorerError
from .models import Progress

MAX_TEXT_CHARS = checks.MAX_TEXT_CHARS
MAX_MERGES = 5_000
MAX_WORD_COUNT = 1_000_000
MAX_TIES_SHOWN = 10
LECTURE_CORPUS = "low×5 lower×2 newest×6 widest×3"
END_OF_WORD = "</w>"

_BYTE_OF_CHAR = {char: byte for byte, char in bytes_to_unicode().items()}


# ---------------------------------------------------------------- 1. what the tokenizer outputs


@dataclass
class Tokenization:
    model: str
    tokens: list[str]  # the text each token decodes to ('�' where a token holds part of a character)
    pieces: list[str]  # the tokenizer's own pieces, byte-level markers included ('Ġworld')
    ids: list[int]
    offsets: list[list[int]]  # [start, end) character offsets into the text
    n_chars: int
    n_tokens: int
    algorithm: str  # e.g. "byte-level BPE", "WordPiece (not BPE)"
    chars_per_token: float | None
    piece_bytes: list[str] = field(default_factory=list)  # each token's bytes in hex, e.g. "F0 9F"


def backend_json(tokenizer) -> dict:
    """The tokenizer's own `tokenizers` JSON (vocabulary, merges, normalizer, pre-tokenizer...)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise ExplorerError(
            f"This tokenizer ({type(tokenizer).__name__}) has no `tokenizers` backend, so its rules cannot be read."
        )
    return json.loads(backend.to_str())


def _components(node: dict | None) -> list[dict]:
    """A normalizer/pre-tokenizer and, for a Sequence, its parts."""
    if not node:
        return []
    parts = node.get("pretokenizers") or node.get("normalizers") or []
    return [node] + [p for part in parts for p in _components(part)]


def is_byte_level(spec: dict) -> bool:
    return any(p.get("type") == "ByteLevel" for p in _components(spec.get("pre_tokenizer")))


@functools.lru_cache(maxsize=8)  # reading the tokenizer's JSON takes ~0.1 s; keep the last few answers
def describe_algorithm(tokenizer) -> str:
    """'byte-level BPE', 'BPE', 'WordPiece (not BPE)', 'Unigram (not BPE)'..."""
    try:
        return _algorithm(backend_json(tokenizer))
    except ExplorerError:
        return f"unknown ({type(tokenizer).__name__})"


def _algorithm(spec: dict) -> str:
    kind = spec["model"]["type"]
    if kind == "BPE":
        if is_byte_level(spec):
            return "byte-level BPE"
        return "BPE with byte fallback" if spec["model"].get("byte_fallback") else "BPE"
    return f"{kind} (not BPE)"


def piece_to_bytes(piece: str, byte_level: bool) -> bytes:
    """The bytes a piece stands for: byte-level pieces map each character back to one byte."""
    if byte_level and all(c in _BYTE_OF_CHAR for c in piece):
        return bytes(_BYTE_OF_CHAR[c] for c in piece)
    fallback = re.fullmatch(r"<0x([0-9A-Fa-f]{2})>", piece)
    if fallback:
        return bytes([int(fallback.group(1), 16)])
    return piece.replace("▁", " ").encode("utf-8")


def tokenize(tokenizer, text: str, model_name: str = "") -> Tokenization:
    """The tokenizer's own encoding of `text`, special tokens excluded (none are added)."""
    text = checks.text(text, allow_blank=True)
    encoding = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = list(encoding["input_ids"])
    pieces = tokenizer.convert_ids_to_tokens(ids)
    algorithm = describe_algorithm(tokenizer)
    return Tokenization(
        model=model_name,
        tokens=[tokenizer.decode([i]) for i in ids],
        pieces=pieces,
        ids=ids,
        offsets=[[int(a), int(b)] for a, b in encoding["offset_mapping"]],
        n_chars=len(text),
        n_tokens=len(ids),
        algorithm=algorithm,
        chars_per_token=round(len(text) / len(ids), 3) if ids else None,
        piece_bytes=[piece_to_bytes(p, algorithm == "byte-level BPE").hex(" ").upper() for p in pieces],
    )


# ---------------------------------------------------------------- 2. replaying the model's merges


@dataclass
class MergeStep:
    pair: list[str]  # the two pieces merged
    rank: int  # the merge's position in the tokenizer's merge list (0 = learnt first)
    pieces: list[str]  # the word's pieces after this merge


@dataclass
class WordReplay:
    word: str  # the word as it appears in the text
    steps: list[MergeStep]
    final: list[str]  # the pieces at the end (the tokens)
    piece: str  # the word as the BPE model sees it (byte-level: 'Ġworld')
    start: list[str]  # the pieces before any merge (bytes/characters)
    ids: list[int]
    kind: str  # "bpe", "whole-word" (ignore_merges: the word is in the vocabulary) or "added" (special/added token)


@dataclass
class Replay:
    model: str
    words: list[WordReplay]
    ids: list[int]
    n_merges: int  # merge steps applied over the whole text
    merges_in_model: int
    algorithm: str
    matches_tokenizer: bool  # the replayed ids equal the tokenizer's own encoding


@dataclass(frozen=True)
class BpeRules:
    """Everything `tokenizers`' BPE model uses to encode a word, read from the tokenizer's JSON."""

    vocab: dict[str, int]
    ranks: dict[tuple[str, str], int]  # merge pair -> rank
    merged: dict[tuple[str, str], str]  # merge pair -> the piece it makes
    ignore_merges: bool
    byte_fallback: bool
    unk_token: str | None
    fuse_unk: bool
    continuing_subword_prefix: str
    end_of_word_suffix: str
    algorithm: str
    added_tokens: dict[str, int]
    added_pattern: re.Pattern | None
    normalizer: object
    pre_tokenizer: object


def _merge_pairs(raw: list) -> list[tuple[str, str]]:
    """`tokenizers` stores merges as [a, b] lists (new format) or "a b" strings (old format)."""
    return [tuple(m) if isinstance(m, list) else tuple(m.split(" ", 1)) for m in raw]


def _added_pattern(added: list[dict]) -> re.Pattern | None:
    """Added tokens are cut out of the text before anything else, longest first, as `tokenizers` does.
    (lstrip/rstrip absorb neighbouring whitespace; `single_word` is not modelled.)"""
    if not added:
        return None
    alternatives = []
    for token in sorted(added, key=lambda t: len(t["content"]), reverse=True):
        alternatives.append(
            ("\\s*" if token.get("lstrip") else "")
            + re.escape(token["content"])
            + ("\\s*" if token.get("rstrip") else "")
        )
    return re.compile("|".join(alternatives))


@functools.lru_cache(maxsize=4)  # parsing 49k merges takes ~0.1 s; keep the last few tokenizers' rules
def bpe_rules(tokenizer) -> BpeRules:
    """The BPE model's rules; ExplorerError for a tokenizer that is not BPE (WordPiece, Unigram...)."""
    spec = backend_json(tokenizer)
    model = spec["model"]
    if model["type"] != "BPE":
        raise ExplorerError(
            f"This tokenizer uses {model['type']}, not BPE: it has no merge list to replay. "
            "Pick a BPE model (the bundled SmolLM2, gpt2, Qwen...)."
        )
    vocab = model["vocab"]
    prefix = model.get("continuing_subword_prefix") or ""
    pairs = _merge_pairs(model["merges"])
    ranks = {pair: rank for rank, pair in enumerate(pairs)}  # a repeated pair keeps its last rank, as in `tokenizers`
    merged = {(a, b): a + b[len(prefix) :] for a, b in ranks}
    backend = tokenizer.backend_tokenizer
    return BpeRules(
        vocab=vocab,
        ranks=ranks,
        merged=merged,
        ignore_merges=bool(model.get("ignore_merges")),
        byte_fallback=bool(model.get("byte_fallback")),
        unk_token=model.get("unk_token"),
        fuse_unk=bool(model.get("fuse_unk")),
        continuing_subword_prefix=prefix,
        end_of_word_suffix=model.get("end_of_word_suffix") or "",
        algorithm=_algorithm(spec),
        added_tokens={t["content"]: t["id"] for t in spec.get("added_tokens", [])},
        added_pattern=_added_pattern(spec.get("added_tokens", [])),
        normalizer=backend.normalizer,
        pre_tokenizer=backend.pre_tokenizer,
    )


def split_added_tokens(text: str, rules: BpeRules) -> list[tuple[str, bool]]:
    """The text as (segment, is_added_token) pairs, in order."""
    if rules.added_pattern is None:
        return [(text, False)] if text else []
    segments, position = [], 0
    for match in rules.added_pattern.finditer(text):
        if match.start() > position:
            segments.append((text[position : match.start()], False))
        segments.append((match.group(), True))
        position = match.end()
    if position < len(text):
        segments.append((text[position:], False))
    return segments


def pre_tokenize(segment: str, rules: BpeRules) -> list[tuple[str, str]]:
    """(word as in the text, word as the BPE model sees it), by the tokenizer's own normalizer and pre-tokenizer."""
    normalized = rules.normalizer.normalize_str(segment) if rules.normalizer else segment
    if rules.pre_tokenizer is None:
        return [(normalized, normalized)] if normalized else []
    return [(normalized[a:b], piece) for piece, (a, b) in rules.pre_tokenizer.pre_tokenize_str(normalized)]


def initial_pieces(word: str, rules: BpeRules) -> list[str]:
    """One piece per character (per byte for byte-level BPE), as `tokenizers`' BPE starts a word.
    Characters missing from the vocabulary become byte tokens <0xNN> (byte fallback) or the unknown token."""
    pieces: list[str] = []
    for index, char in enumerate(word):
        piece = (rules.continuing_subword_prefix if index else "") + char
        if index == len(word) - 1:
            piece += rules.end_of_word_suffix
        if piece in rules.vocab:
            pieces.append(piece)
            continue
        byte_tokens = [f"<0x{b:02X}>" for b in char.encode("utf-8")]
        if rules.byte_fallback and all(t in rules.vocab for t in byte_tokens):
            pieces.extend(byte_tokens)
        elif rules.unk_token is not None:
            if not (rules.fuse_unk and pieces and pieces[-1] == rules.unk_token):
                pieces.append(rules.unk_token)
    return pieces


def best_merge(pieces: list[str], rules: BpeRules) -> tuple[int, int] | None:
    """(rank, position) of the merge to apply next: the lowest rank, the leftmost on ties."""
    candidates = [
        (rules.ranks[pair], position) for position, pair in enumerate(zip(pieces, pieces[1:])) if pair in rules.ranks
    ]
    return min(candidates) if candidates else None


def replay_word(word: str, piece: str, rules: BpeRules) -> WordReplay:
    """Merge the word's pieces one merge at a time, in rank order, until no merge applies."""
    if rules.ignore_merges and piece in rules.vocab:
        return WordReplay(word, [], [piece], piece, [piece], [rules.vocab[piece]], "whole-word")
    pieces = initial_pieces(piece, rules)
    start = list(pieces)
    steps = []
    while (best := best_merge(pieces, rules)) is not None:
        rank, position = best
        pair = (pieces[position], pieces[position + 1])
        pieces[position : position + 2] = [rules.merged[pair]]
        steps.append(MergeStep(list(pair), rank, list(pieces)))
    return WordReplay(word, steps, pieces, piece, start, [rules.vocab[p] for p in pieces], "bpe")


def replay(tokenizer, text: str, model_name: str = "") -> Replay:
    """Re-encode `text` by hand with the tokenizer's own rules, recording every merge."""
    text = checks.text(text, allow_blank=True)
    rules = bpe_rules(tokenizer)
    words: list[WordReplay] = []
    for segment, is_added in split_added_tokens(text, rules):
        if is_added:
            token = segment.strip() if segment.strip() in rules.added_tokens else segment
            words.append(WordReplay(segment, [], [token], token, [token], [rules.added_tokens[token]], "added"))
            continue
        words.extend(replay_word(word, piece, rules) for word, piece in pre_tokenize(segment, rules))
    ids = [i for w in words for i in w.ids]
    return Replay(
        model=model_name,
        words=words,
        ids=ids,
        n_merges=sum(len(w.steps) for w in words),
        merges_in_model=len(rules.ranks),
        algorithm=rules.algorithm,
        matches_tokenizer=ids == tokenizer(text, add_special_tokens=False)["input_ids"],
    )


# ---------------------------------------------------------------- 3. training a toy BPE, the lecture's way


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
    """Words split on whitespace and counted; `word×5` (or `word*5`) means the word 5 times."""
    corpus = checks.text(corpus, "corpus", max_chars=MAX_TEXT_CHARS)
    counts: Counter[str] = Counter()
    for token in corpus.split():
        match = re.fullmatch(r"(.+?)[×*](\d+)", token)
        word, count = (match.group(1), int(match.group(2))) if match else (token, 1)
        if count > MAX_WORD_COUNT:
            raise ExplorerError(f"{token!r}: a word count must be at most {MAX_WORD_COUNT:,}.")
        if count > 0:
            counts[word] += count
    if len(counts) < 2:
        raise ExplorerError(
            f"The corpus has {len(counts)} distinct word{'s' if len(counts) != 1 else ''}; BPE learns from pairs "
            "shared across words, so give at least two different words (e.g. `low×5 lower×2 newest×6 widest×3`)."
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
    if len(end_of_word) > 10:
        raise ExplorerError("end_of_word must be a short marker (at most 10 characters), e.g. </w>, or empty for none.")
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
            progress(step / num_merges, f"merge {step + 1} of {num_merges}")
    return ToyBpe(
        merges=merges,
        vocab=vocab,
        segmentations={w: list(symbols) for w, (symbols, _) in zip(word_counts, words)},
        word_counts=word_counts,
        alphabet=alphabet,
        end_of_word=end_of_word,
        stopped_early=len(merges) < num_merges,
    )


def visible(text: str) -> str:
    """Make invisible characters visible for display: ⟨U+200D⟩ for zero-width and control characters."""
    return "".join(
        c if c in "\n\t " or unicodedata.category(c) not in ("Cc", "Cf", "Zl", "Zp") else f"⟨U+{ord(c):04X}⟩"
        for c in text
    )
