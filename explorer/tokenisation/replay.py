"""Replaying a model's own BPE merges by hand, one merge per step, to the tokenizer's exact ids.

How the `tokenizers` library encodes a text with a BPE model, and how this file redoes it:

1. cut out the added tokens, longest first: special tokens (<|im_start|>, <bos>) and, in Gemma,
   runs of newlines or tabs and some HTML tags; they are never merged;
2. normalise and pre-tokenise every other segment with the tokenizer's own normalizer and
   pre-tokenizer (read from it, not rewritten): SmolLM2 splits words, numbers and spaces and
   writes each byte as one character ('Ġ' = a space); Gemma only turns spaces into '▁' and splits
   nothing, so all the text between two added tokens is one long "word";
3. start every word from single characters (bytes in byte-level BPE); a character missing from
   the vocabulary becomes its UTF-8 bytes as <0xNN> tokens (byte fallback) or the unknown token;
4. merge: among the adjacent pairs found in the merge list, the one with the lowest rank
   (learnt earliest) merges first, the leftmost on ties; repeat until no pair is in the list.

Step 1 uses the tokenizer's own list of added tokens and step 2 its own normalizer and
pre-tokenizer (`rules.py` reads them); no library exposes steps 3 and 4, so they are written
here. Step 4 keeps the candidate pairs in a heap, as `tokenizers` does, so that Gemma's
one-word texts cost O(n log n), not O(n²).

Showing the steps: a merge joins two neighbours into one piece, so the merges inside one final
token never touch another token, and a long word's history splits, token by token, into
independent parts. A long word is therefore shown cut into chunks at token boundaries (before a
token starting with a space, or after MAX_CHUNK_TOKENS tokens); each chunk's steps are exactly
BPE run on that chunk alone, and the page's table stays linear in the text's length.
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from dataclasses import dataclass

from tokenizers import PreTokenizedString

from .. import checks
from ..segments import piece_to_bytes
from .rules import BpeRules, bpe_rules

MAX_CHUNK_TOKENS = 8  # a long word is shown in chunks of this many tokens (more if a character's bytes go on)


@dataclass
class MergeStep:
    pair: list[str]  # the two pieces merged
    rank: int  # the merge's position in the tokenizer's merge list (0 = learnt first)
    pieces: list[str]  # the word's (chunk's) pieces after this merge


@dataclass
class WordReplay:
    word: str  # the word as it appears in the text
    steps: list[MergeStep]
    final: list[str]  # the pieces at the end (the tokens)
    piece: str  # the word as the BPE model sees it (byte-level: 'Ġworld'; Gemma: '▁world')
    start: list[str]  # the pieces before any merge (characters, bytes, <0xNN> byte tokens)
    ids: list[int]
    kind: str  # "bpe", "whole-word" (ignore_merges: the word is in the vocabulary) or "added" (special/added token)
    continues: bool = False  # this chunk continues the previous one's word (a long word shown cut)


@dataclass
class Replay:
    model: str
    words: list[WordReplay]
    ids: list[int]
    n_merges: int  # merge steps applied over the whole text
    merges_in_model: int
    algorithm: str
    matches_tokenizer: bool  # the replayed ids equal the tokenizer's own encoding
    byte_level: bool = False  # pieces write each byte as one character ('Ġ' = a space): how to read them


# ---------------------------------------------------------------- steps 1-3: the words and their first pieces


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
    """(word as in the text, word as the BPE model sees it), by the tokenizer's own normalizer and
    pre-tokenizer; `tokenizers` keeps each word's offsets into the original text."""
    words = PreTokenizedString(segment)
    if rules.normalizer is not None:
        words.normalize(rules.normalizer.normalize)
    if rules.pre_tokenizer is not None:
        rules.pre_tokenizer.pre_tokenize(words)
    splits = words.get_splits(offset_referential="original", offset_type="char")
    return [(segment[a:b], piece) for piece, (a, b), _ in splits]


def initial_pieces(word: str, rules: BpeRules) -> tuple[list[str], list[int]]:
    """One piece per character (per byte for byte-level BPE), as `tokenizers`' BPE starts a word,
    and for each piece the index of the character of `word` it comes from. Characters missing
    from the vocabulary become byte tokens <0xNN> (byte fallback) or the unknown token."""
    pieces: list[str] = []
    sources: list[int] = []
    for index, char in enumerate(word):
        piece = (rules.continuing_subword_prefix if index else "") + char
        if index == len(word) - 1:
            piece += rules.end_of_word_suffix
        byte_tokens = [f"<0x{b:02X}>" for b in char.encode("utf-8")]
        if piece in rules.vocab:
            new = [piece]
        elif rules.byte_fallback and all(t in rules.vocab for t in byte_tokens):
            new = byte_tokens
        elif rules.unk_token is not None and not (rules.fuse_unk and pieces and pieces[-1] == rules.unk_token):
            new = [rules.unk_token]
        else:
            new = []  # no unknown token, or one fused with the previous
        pieces.extend(new)
        sources.extend([index] * len(new))
    return pieces, sources


# ---------------------------------------------------------------- step 4: merging, lowest rank first


def merge_all(pieces: list[str], rules: BpeRules) -> list[tuple[int, int, int]]:
    """Apply the merges to a word's pieces as `tokenizers` does; the merges applied, in order, as
    (rank, left, right): the positions (in `pieces`) where the two merged pieces start.

    The pieces form a linked list; a heap holds (rank, position) for every adjacent pair in the
    merge list. Popping gives the lowest rank, the leftmost on ties. An entry is stale when the
    pieces at its place have changed since it was pushed: it is skipped."""
    symbols: list[str | None] = list(pieces)
    end = len(pieces)
    following = list(range(1, end + 1))  # the next live piece's position (`end` = none)
    preceding = list(range(-1, end - 1))  # the previous live piece's position (-1 = none)

    def push(left: int, right: int) -> None:
        rank = rules.ranks.get((symbols[left], symbols[right]))
        if rank is not None:
            heapq.heappush(heap, (rank, left))

    heap: list[tuple[int, int]] = []
    for left in range(end - 1):
        push(left, left + 1)
    applied = []
    while heap:
        rank, left = heapq.heappop(heap)
        right = following[left]
        if symbols[left] is None or right == end:
            continue  # the left piece was merged into its neighbour, or has no right neighbour now
        if rules.ranks.get((symbols[left], symbols[right])) != rank:
            continue  # stale: another pair stands here now (it was pushed when it formed)
        symbols[left], symbols[right] = rules.merge(symbols[left], symbols[right]), None  # one piece, at `left`
        following[left] = following[right]
        if following[left] < end:
            preceding[following[left]] = left
        applied.append((rank, left, right))
        if preceding[left] >= 0:
            push(preceding[left], left)
        if following[left] < end:
            push(left, following[left])
    return applied


# ---------------------------------------------------------------- one word, shown in chunks


def chunk_starts(piece: str, starts: list[int], sources: list[int], rules: BpeRules) -> list[int]:
    """The positions (in the word's first pieces) where a chunk begins: at a final token's start
    that is a character's start too, before a token starting with a space or once a chunk holds
    MAX_CHUNK_TOKENS tokens."""
    chunks, tokens_in_chunk = [0], 0
    for start in starts:
        source = sources[start]
        first_byte = piece_to_bytes(piece[source], rules.byte_level)[:1]
        whole_character = start > 0 and source != sources[start - 1] and not b"\x80" <= first_byte < b"\xc0"
        if whole_character and (first_byte == b" " or tokens_in_chunk >= MAX_CHUNK_TOKENS):
            chunks.append(start)
            tokens_in_chunk = 0
        tokens_in_chunk += 1
    return chunks


def replay_chunk(pieces: list[str], applied: list[tuple[int, int, int]], first: int, rules: BpeRules):
    """(steps, final pieces) of a chunk whose first pieces are `pieces`, starting at position
    `first` of the word, given the word's merges that fall inside it, in the order applied."""
    positions = list(range(first, first + len(pieces)))
    pieces = list(pieces)
    steps = []
    for rank, left, _ in applied:
        at = positions.index(left)
        pair = (pieces[at], pieces[at + 1])
        pieces[at : at + 2] = [rules.merge(*pair)]
        del positions[at + 1]
        steps.append(MergeStep(list(pair), rank, list(pieces)))
    return steps, pieces


def replay_word(word: str, piece: str, rules: BpeRules) -> list[WordReplay]:
    """Merge one pre-tokenised word; return it as one or more chunks, each with its own steps."""
    if rules.ignore_merges and piece in rules.vocab:
        return [WordReplay(word, [], [piece], piece, [piece], [rules.vocab[piece]], "whole-word")]
    pieces, sources = initial_pieces(piece, rules)
    if not pieces:  # only characters outside the vocabulary, and no unknown token: `tokenizers` drops them
        return [WordReplay(word, [], [], piece, [], [], "bpe")]
    applied = merge_all(pieces, rules)
    merged_away = {right for _, _, right in applied}
    starts = [p for p in range(len(pieces)) if p not in merged_away]  # where each final token starts
    bounds = chunk_starts(piece, starts, sources, rules) + [len(pieces)]
    by_chunk: list[list[tuple[int, int, int]]] = [[] for _ in bounds[:-1]]
    for merge in applied:
        by_chunk[bisect_right(bounds, merge[1]) - 1].append(merge)
    chunks = []
    for index, (first, last) in enumerate(zip(bounds, bounds[1:])):
        steps, final = replay_chunk(pieces[first:last], by_chunk[index], first, rules)
        end = sources[last] if last < len(pieces) else len(piece)
        chunk_piece = piece[sources[first] : end]
        text = word if len(bounds) == 2 else piece_to_bytes(chunk_piece, rules.byte_level).decode("utf-8", "replace")
        ids = [rules.vocab[p] for p in final]
        chunks.append(WordReplay(text, steps, final, chunk_piece, pieces[first:last], ids, "bpe", index > 0))
    return chunks


def replay(tokenizer, text: str, model_name: str = "") -> Replay:
    """Re-encode `text` by hand with the tokenizer's own rules, recording every merge."""
    text = checks.text(text, allow_blank=True)
    rules = bpe_rules(tokenizer, model_name)
    words: list[WordReplay] = []
    for segment, is_added in split_added_tokens(text, rules):
        if is_added:
            token = segment.strip() if segment.strip() in rules.added_tokens else segment
            words.append(WordReplay(segment, [], [token], token, [token], [rules.added_tokens[token]], "added"))
            continue
        for word, piece in pre_tokenize(segment, rules):
            words.extend(replay_word(word, piece, rules))
    ids = [i for w in words for i in w.ids]
    return Replay(
        model=model_name,
        words=words,
        ids=ids,
        n_merges=sum(len(w.steps) for w in words),
        merges_in_model=len(rules.ranks),
        algorithm=rules.algorithm,
        matches_tokenizer=ids == tokenizer(text, add_special_tokens=False)["input_ids"],
        byte_level=rules.byte_level,
    )
