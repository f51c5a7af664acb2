"""The toy BPE trainer learns the lecture's merges, counts the vocabulary both ways, and agrees with
`tokenizers`' BpeTrainer on every count (only ties may be broken differently)."""

from __future__ import annotations

import json

import pytest
from tokenizers import Tokenizer, pre_tokenizers, trainers
from tokenizers import models as tk_models

from explorer import checks
from explorer import tokenisation as T
from explorer.checks import ExplorerError
from explorer.tokenisation.toy_bpe import count_pairs, merge_pair, most_frequent_pair, parse_corpus, split_into_symbols

from builders import CORPUS


def test_lecture_corpus_first_merges():
    result = T.train_bpe(T.LECTURE_CORPUS, 5)
    assert [tuple(m.pair) for m in result.merges] == [("e", "s"), ("es", "t"), ("est", "</w>"), ("l", "o"), ("lo", "w")]
    assert [m.count for m in result.merges] == [9, 9, 9, 7, 7]
    assert result.word_counts == {"low": 5, "lower": 2, "newest": 6, "widest": 3}
    assert result.segmentations == {
        "low": ["low", "</w>"],
        "lower": ["low", "e", "r", "</w>"],
        "newest": ["n", "e", "w", "est</w>"],
        "widest": ["w", "i", "d", "est</w>"],
    }


def test_vocabulary_accounting_both_ways():
    result = T.train_bpe(T.LECTURE_CORPUS, 12)
    alphabet = ["</w>", "d", "e", "i", "l", "n", "o", "r", "s", "t", "w"]
    assert result.alphabet == alphabet
    assert [m.vocab_size for m in result.merges] == list(range(12, 24))
    assert result.vocab == alphabet + [m.new_symbol for m in result.merges]
    first = result.merges[0]
    assert first.removed == ["s"]  # after e+s, s never occurs on its own
    assert first.working_vocab_size == len(alphabet)  # +es, -s: flat
    working = [m.working_vocab_size for m in result.merges]
    assert min(working) < len(alphabet)  # ... and it shrinks as merges swallow symbols
    for m, previous in zip(result.merges[1:], working):
        assert m.working_vocab_size == previous + 1 - len(m.removed)


def test_segmentations_follow_from_the_merges():
    corpus = " ".join(CORPUS)
    result = T.train_bpe(corpus, 60)
    for word, pieces in result.segmentations.items():
        assert T.segment(word, result.merges) == pieces
        assert "".join(pieces) == word + "</w>"
    assert T.segment("lowest", result.merges[:0]) == list("lowest") + ["</w>"]


def test_tie_break_is_the_pair_seen_first():
    assert T.train_bpe("ab cd", 1).merges[0].pair == ["a", "b"]
    assert T.train_bpe("cd ab", 1).merges[0].pair == ["c", "d"]
    assert T.train_bpe("ab cd×2", 1).merges[0].pair == ["c", "d"]  # counts first, ties second
    first = T.train_bpe(T.LECTURE_CORPUS, 1).merges[0]
    assert first.tied_with == [["s", "t"], ["t", "</w>"]]


def test_stops_when_every_word_is_one_symbol():
    result = T.train_bpe("ab cd", 10, end_of_word="")
    assert len(result.merges) == 2 and result.stopped_early
    assert result.segmentations == {"ab": ["ab"], "cd": ["cd"]}


def hf_bpe_merges(word_counts: dict[str, int], num_merges: int) -> list[tuple[str, str]]:
    tokenizer = Tokenizer(tk_models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    alphabet = {c for word in word_counts for c in word}
    trainer = trainers.BpeTrainer(vocab_size=len(alphabet) + num_merges, min_frequency=0, show_progress=False)
    tokenizer.train_from_iterator([w for w, c in word_counts.items() for _ in range(c)], trainer)
    return [tuple(m) for m in json.loads(tokenizer.to_str())["model"]["merges"]]


@pytest.mark.parametrize("corpus", [T.LECTURE_CORPUS, " ".join(CORPUS) * 3])
def test_counts_and_merges_agree_with_tokenizers_bpe_trainer(corpus):
    """The rules agree on counting and merging; only ties may be broken differently. So follow
    BpeTrainer's merges with our functions: each must be a most frequent pair by our count, and
    wherever our most frequent pair is unique, it must be BpeTrainer's choice."""
    word_counts = parse_corpus(corpus)
    theirs = hf_bpe_merges(word_counts, 40)
    words = [(split_into_symbols(w, ""), c) for w, c in word_counts.items()]
    unique_steps = 0
    for pair in theirs:
        stats = count_pairs(words)
        best = max(stats.values())
        assert stats[pair] == best, pair
        if list(stats.values()).count(best) == 1:
            assert most_frequent_pair(stats, words) == (pair, [])
            unique_steps += 1
        words = [(merge_pair(symbols, pair), c) for symbols, c in words]
    assert len(theirs) >= 10 and unique_steps >= 1
    ours = [tuple(m.pair) for m in T.train_bpe(corpus, 4, end_of_word="").merges]
    if corpus == T.LECTURE_CORPUS:
        assert ours == theirs[:4]  # ties resolved the same way here: e+s, es+t, l+o, lo+w


@pytest.mark.parametrize(
    "corpus, num_merges, message",
    [
        ("", 5, "empty"),
        ("   \n ", 5, "empty"),
        ("lonely", 5, "1 distinct word"),
        ("low×5", 5, "1 distinct word"),
        ("low lower", 0, "num_merges"),
        ("low lower", 5001, "num_merges"),
        ("low lower", 2.5, "whole number"),
        ("low lower", "many", "num_merges"),
        ("low lower", None, "num_merges"),
        ("low×9999999 lower", 5, "at most"),
        ("x" * (checks.MAX_TEXT_CHARS + 1), 5, "20,000"),
    ],
)
def test_bad_training_input_is_explained(corpus, num_merges, message):
    with pytest.raises(ExplorerError, match=message):
        T.train_bpe(corpus, num_merges)


def test_zero_width_and_control_characters_in_a_corpus_are_plain_symbols():
    result = T.train_bpe("a\u200db a\u200db x\x07y", 3)
    assert result.merges[0].pair == ["a", "\u200d"]


def test_chinese_characters_are_symbols_and_full_width_counts_work():
    result = T.train_bpe("台湾大学×5 大学×6 大学生×4 学生×3 台湾×2 中学生×2", 3, end_of_word="")
    assert [m.pair for m in result.merges] == [["大", "学"], ["台", "湾"], ["台湾", "大学"]]
    assert result.merges[0].count == 15 and result.merges[2].tied_with == [["学", "生"]]
    assert set(result.alphabet) == set("台湾大学生中")
    assert T.segment("台湾学生", result.merges, "") == ["台湾", "学", "生"]
    # full-width ＊ and digits, and the ideographic space between words, as a Chinese keyboard types them
    assert parse_corpus("大学＊５\u3000大学生×３ 学生*2") == {"大学": 5, "大学生": 3, "学生": 2}


def test_text_of_punctuation_or_emoji_trains_or_is_refused_clearly():
    assert T.train_bpe("。，！？ ！？ ……", 2).merges[0].pair == ["！", "？"]
    assert T.train_bpe("👩‍💻 👩‍👩‍👧", 2).merges[0].pair == ["👩", "\u200d"]  # ZWJ sequences are code points
    with pytest.raises(ExplorerError, match="1 distinct word"):
        T.train_bpe("。，！？", 2)
