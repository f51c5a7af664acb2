"""The replayed merges give the tokenizer's own ids: SmolLM2's byte-level BPE, Gemma's BPE with
byte fallback (one long "word" between added tokens), and tiny tokenizers of both kinds."""

from __future__ import annotations

import json
import time

import pytest
from tokenizers import Tokenizer, pre_tokenizers, trainers
from tokenizers import models as tk_models
from transformers import PreTrainedTokenizerFast

from explorer import cache, checks
from explorer import tokenisation as T
from explorer.checks import ExplorerError
from explorer.tokenisation.replay import initial_pieces, merge_all, pre_tokenize

from builders import (
    CORPUS,
    GEMMA,
    byte_fallback_tokenizer,
    byte_level_tokenizer,
    own_ids,
    registered_tokenizer,
    wordpiece_tokenizer,
)

TEXTS = [
    "Hello world",
    "Hello  world, two spaces",
    "   leading and trailing   ",
    "line one\nline two\n\n\nline five",
    "\t\tindented\twith tabs",
    "\r\n windows line ends\r\n",
    "naïve café résumé coöperate",
    "e\u0301 (a combining accent) vs é",
    "Straße, Ærøskøbing, İstanbul, ǅ",
    "東京は日本の首都です。",
    "中文分词很难吗？",
    "臺灣大學是一所大學。",
    "Ｈｅｌｌｏ，世界！ Hello, 世界! ２０２６年 2026年",
    "。，！？……——《》“”",
    "한국어 텍스트",
    "Привет, мир!",
    "مرحبا بالعالم",
    "हिन्दी भाषा",
    "👩‍💻 👨‍👩‍👧‍👦 🏳️‍🌈",
    "👍🏽 skin tone, ❤️ variation selector",
    "0123456789 3.14159 1e-10 -42 1,000,000",
    "2026-11-23T13:45:00Z",
    "def f(x):\n    return x ** 2  # square\n",
    "for (int i = 0; i < n; ++i) { sum += a[i]; }",
    '<div class="x">&amp;</div>',
    "https://example.com/path?q=byte+pair&lang=en#top",
    "user@example.org, @handle, #hashtag",
    "it's they're we'll I'd you've DON'T",
    "!!!??? ... --- *** ___",
    "zero\u200bwidth\u200cnon\u200djoiner\ufeffbom",
    "control \x00\x01\x07\x1b[31m chars",
    "a" * 300,
    "\u00a0non-breaking\u2003em space\u3000ideographic",
    "ﬁ ligature, ① circled, ½ fraction, ™",
    "<|im_start|>user\nHi there<|im_end|>",
    " ",
    "\n",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 letters, 𠜎 CJK extension B",
    "MixedCASE camelCase snake_case kebab-case SCREAMING_CASE",
]
MIXED = "Tokenisation isn't magic: naïve café, 東京, 👩‍💻, 1234567 https://example.com/?q=bpe"
ONE_WORD_1000 = ("Byte-pair encoding merges the most frequent pairs, 東京は日本の首都です 👩‍💻. " * 20)[:1000]


@pytest.fixture(scope="module")
def smol(bundled):
    return bundled.tokenizer


@pytest.fixture(scope="module")
def gemma():
    return registered_tokenizer(GEMMA)


def gemma_style_tokenizer() -> PreTrainedTokenizerFast:
    """The tiny byte-fallback BPE with Gemma 3's own pre-tokenizer: a split on ' ', which never
    matches once the normalizer has turned spaces into '▁', so a whole text is one word."""
    tokenizer = byte_fallback_tokenizer()
    tokenizer.backend_tokenizer.pre_tokenizer = pre_tokenizers.Split(" ", "merged_with_previous")
    return tokenizer


def check_words(result: T.Replay, rules: T.BpeRules, rank_order: bool) -> None:
    """Every word (or chunk of a long word) merges one pair per step, from its first pieces to its tokens."""
    for word in result.words:
        pieces = word.start
        ranks = [step.rank for step in word.steps]
        if rank_order:  # a merge list learnt by training: lower ranks (learnt earlier) merge first
            assert ranks == sorted(ranks), word.word
        for step in word.steps:
            assert rules.ranks[tuple(step.pair)] == step.rank
            assert len(step.pieces) == len(pieces) - 1 and "".join(step.pieces) == "".join(word.start)
            pieces = step.pieces
        assert pieces == word.final
        assert [rules.vocab[p] for p in word.final] == word.ids
        assert not any(pair in rules.ranks for pair in zip(word.final, word.final[1:]))  # no merge left


# ---------------------------------------------------------------- the tokenizer's own ids


@pytest.mark.parametrize("text", TEXTS, ids=[f"text{i}" for i in range(len(TEXTS))])
def test_replay_gives_the_bundled_tokenizers_ids(smol, text):
    result = T.replay(smol, text, "SmolLM2")
    assert result.ids == own_ids(smol, text)
    assert result.matches_tokenizer


@pytest.mark.parametrize("text", TEXTS, ids=[f"text{i}" for i in range(len(TEXTS))])
def test_replay_gives_gemmas_ids(gemma, text):
    result = T.replay(gemma, text, GEMMA)
    assert result.ids == own_ids(gemma, text)
    assert result.matches_tokenizer and result.algorithm == "BPE with byte fallback"
    assert "".join(w.word for w in result.words) == text  # spaces, newlines and tabs included


def test_replay_gives_the_tiny_tokenizers_ids_too():
    """Other merge lists (tiny byte-level and byte-fallback BPEs) replay exactly as well."""
    for tokenizer in (byte_level_tokenizer(), byte_fallback_tokenizer(), gemma_style_tokenizer()):
        for text in TEXTS:
            assert T.replay(tokenizer, text).ids == own_ids(tokenizer, text), text


def test_replay_of_a_long_mixed_text(smol):
    text = ("Mixed text: naïve 東京 👩‍💻 x=1234; https://a.b/c?d=e\n\n    " * 400)[: checks.MAX_TEXT_CHARS]
    assert T.replay(smol, text).ids == own_ids(smol, text)


# ---------------------------------------------------------------- the steps


def test_steps_merge_one_pair_in_rank_order(smol):
    result = T.replay(smol, MIXED)
    rules = T.bpe_rules(smol)
    assert result.n_merges > 20
    for word in result.words:
        assert "".join(word.start) == word.piece
    check_words(result, rules, rank_order=True)


def test_merges_are_lowest_rank_first_then_leftmost():
    """The heap gives the same merges, in the same order, as the plain rule: apply the adjacent pair
    of lowest rank, the leftmost on ties, until none is in the merge list."""
    for tokenizer in (byte_level_tokenizer(), gemma_style_tokenizer()):
        rules = T.bpe_rules(tokenizer)
        for text in [MIXED, "a" * 300, "lowest newest widest " * 5, ONE_WORD_1000]:
            for _, piece in pre_tokenize(text, rules):
                pieces, _ = initial_pieces(piece, rules)
                plain, positions = [], list(range(len(pieces)))
                while candidates := [
                    (rules.ranks[pair], i) for i, pair in enumerate(zip(pieces, pieces[1:])) if pair in rules.ranks
                ]:
                    rank, i = min(candidates)
                    plain.append((rank, positions[i], positions[i + 1]))
                    pieces[i : i + 2] = [rules.merge(pieces[i], pieces[i + 1])]
                    del positions[i + 1]
                assert merge_all(initial_pieces(piece, rules)[0], rules) == plain


def test_a_long_word_is_shown_in_chunks_of_whole_characters():
    """Gemma's style (no pre-tokenizer splits, spaces are '▁'): the text is one word for BPE, shown
    cut before each '▁' and every 8 tokens, never inside a character; each chunk replays on its own."""
    tokenizer = gemma_style_tokenizer()
    text = "lowest newest 台湾大学是一所大学北京是中国的首都 👩‍💻👩‍💻 " + "w" * 30
    result = T.replay(tokenizer, text, "tiny-gemma")
    rules = T.bpe_rules(tokenizer, "tiny-gemma")
    assert len(pre_tokenize(text, rules)) == 1 and len(result.words) > 5
    assert result.ids == own_ids(tokenizer, text)
    assert "".join(w.word for w in result.words) == text
    assert [w.continues for w in result.words] == [False] + [True] * (len(result.words) - 1)
    assert max(len(w.final) for w in result.words) <= 8 + 3  # 8 tokens, unless a character's bytes go on
    assert all("\ufffd" not in w.word for w in result.words)
    assert [w.word for w in result.words[:2]] == ["lowest", " newest"]
    assert any(p.startswith("<0x") for w in result.words for p in w.final)  # 👩 is not in the tiny vocabulary
    check_words(result, rules, rank_order=False)


def test_words_are_the_texts_pieces_and_special_tokens_are_kept_whole(smol):
    text = "<|im_start|>user\nHi there<|im_end|>"
    result = T.replay(smol, text)
    assert "".join(w.word for w in result.words) == text
    added = [w for w in result.words if w.kind == "added"]
    assert [w.final for w in added] == [["<|im_start|>"], ["<|im_end|>"]]
    assert [w.ids for w in added] == [[1], [2]]


def test_gemmas_newlines_and_one_word_texts(gemma):
    """Gemma's newlines are added tokens; all else between them is one word for BPE, cut for display."""
    result = T.replay(gemma, "Hello  world\n\nok", GEMMA)
    assert [(w.word, w.kind, w.continues) for w in result.words] == [
        ("Hello", "bpe", False),
        ("  world", "bpe", True),
        ("\n\n", "added", False),
        ("ok", "bpe", False),
    ]
    check_words(T.replay(gemma, MIXED, GEMMA), T.bpe_rules(gemma, GEMMA), rank_order=False)


def test_gemma_replays_1000_characters_of_one_word_within_a_second(gemma):
    T.replay(gemma, "warm", GEMMA)  # the rules are read once per model (seconds for 514,906 merges)
    started = time.perf_counter()
    result = T.replay(gemma, ONE_WORD_1000, GEMMA)
    assert time.perf_counter() - started < 1
    assert result.matches_tokenizer and "\n" not in ONE_WORD_1000


# ---------------------------------------------------------------- other BPE options and other algorithms


def test_ignore_merges_takes_whole_words_from_the_vocabulary(smol):
    """Llama-3-style BPE: a word already in the vocabulary is one token, whatever the merges say."""
    spec = json.loads(smol.backend_tokenizer.to_str())
    spec["model"]["ignore_merges"] = True
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(json.dumps(spec)))
    for text in TEXTS[:12]:
        assert T.replay(tokenizer, text).ids == own_ids(tokenizer, text), text
    kinds = {w.word: w.kind for w in T.replay(tokenizer, "Hello world").words}
    assert kinds == {"Hello": "whole-word", " world": "whole-word"}


def test_byte_fallback_bpe_with_a_metaspace_pre_tokenizer():
    """Llama-2-style BPE: characters outside the vocabulary fall back to <0xNN> byte tokens."""
    bytes_ = [f"<0x{b:02X}>" for b in range(256)]
    tokenizer = Tokenizer(tk_models.BPE(byte_fallback=True))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.train_from_iterator(
        CORPUS, trainers.BpeTrainer(vocab_size=400, special_tokens=bytes_, show_progress=False)
    )
    wrapped = PreTrainedTokenizerFast(tokenizer_object=tokenizer)
    for text in ["The capital of France", "東京 👩‍💻 naïve", "lowest widest newest"]:
        result = T.replay(wrapped, text)
        assert result.ids == own_ids(wrapped, text), text
    assert any(p.startswith("<0x") for w in T.replay(wrapped, "東京").words for p in w.final)
    assert T.describe_algorithm(wrapped) == "BPE with byte fallback"


def test_wordpiece_has_nothing_to_replay():
    with pytest.raises(ExplorerError, match="WordPiece, not BPE"):
        T.replay(wordpiece_tokenizer(), "lower")


def test_empty_text_and_text_over_the_cap(smol):
    replay = T.replay(smol, "")
    assert replay.ids == [] and replay.words == [] and replay.matches_tokenizer
    with pytest.raises(ExplorerError, match="20,000"):
        T.replay(smol, " " * (checks.MAX_TEXT_CHARS + 1))
    with pytest.raises(ExplorerError, match="must be text"):
        T.replay(smol, 42)


# ---------------------------------------------------------------- the rules' cache


def test_rules_are_cached_per_model_and_dropped_with_it():
    first, second = byte_level_tokenizer(), byte_fallback_tokenizer()
    rules = T.bpe_rules(first, "tiny-cache-test")
    assert T.bpe_rules(first, "tiny-cache-test") is rules
    assert T.bpe_rules(second, "tiny-cache-test") is not rules  # another tokenizer under the same name
    cache.evict("tiny-cache-test")  # what the registry does when it evicts the model
    assert T.bpe_rules(first, "tiny-cache-test") is not rules
