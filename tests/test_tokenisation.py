"""Tokenisation: the replayed merges give the tokenizer's own ids; the toy trainer learns the lecture's merges."""

from __future__ import annotations

import json

import gradio as gr
import pytest
from tokenizers import Tokenizer, pre_tokenizers, trainers
from tokenizers import models as tk_models
from transformers import PreTrainedTokenizerFast

from explorer import tokenisation as T
from explorer.checks import ExplorerError
from explorer.views import tokenisation as view

from conftest import CORPUS, tiny_tokenizer

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


@pytest.fixture(scope="module")
def smol(bundled):
    return bundled.tokenizer


def own_ids(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


# ---------------------------------------------------------------- replay


@pytest.mark.parametrize("text", TEXTS, ids=[f"text{i}" for i in range(len(TEXTS))])
def test_replay_gives_the_bundled_tokenizers_ids(smol, text):
    result = T.replay(smol, text, "SmolLM2")
    assert result.ids == own_ids(smol, text)
    assert result.matches_tokenizer


def test_replay_gives_a_second_tokenizers_ids_too():
    """Another merge list (a byte-level BPE trained in the test) replays exactly as well."""
    tokenizer = tiny_tokenizer()
    for text in TEXTS:
        assert T.replay(tokenizer, text).ids == own_ids(tokenizer, text), text


def test_steps_merge_one_pair_in_rank_order(smol):
    text = "Tokenisation isn't magic: naïve café, 東京, 👩‍💻, 1234567 https://example.com/?q=bpe"
    result = T.replay(smol, text)
    rules = T.bpe_rules(smol)
    assert result.n_merges > 20
    for word in result.words:
        pieces = word.start
        assert "".join(pieces) == word.piece
        ranks = [step.rank for step in word.steps]
        assert ranks == sorted(ranks), word.word  # lower ranks (learnt earlier) merge first
        for step in word.steps:
            assert rules.ranks[tuple(step.pair)] == step.rank
            assert len(step.pieces) == len(pieces) - 1 and "".join(step.pieces) == word.piece
            pieces = step.pieces
        assert pieces == word.final
        assert [rules.vocab[p] for p in word.final] == word.ids
        assert T.best_merge(word.final, rules) is None  # no merge left to apply


def test_words_are_the_texts_pieces_and_special_tokens_are_kept_whole(smol):
    text = "<|im_start|>user\nHi there<|im_end|>"
    result = T.replay(smol, text)
    assert "".join(w.word for w in result.words) == text
    added = [w for w in result.words if w.kind == "added"]
    assert [w.final for w in added] == [["<|im_start|>"], ["<|im_end|>"]]
    assert [w.ids for w in added] == [[1], [2]]


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


def test_wordpiece_is_labelled_not_bpe_and_has_nothing_to_replay():
    tokenizer = Tokenizer(tk_models.WordPiece(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.train_from_iterator(CORPUS, trainers.WordPieceTrainer(vocab_size=200, special_tokens=["[UNK]"]))
    wrapped = PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="[UNK]")
    assert T.describe_algorithm(wrapped) == "WordPiece (not BPE)"
    assert T.tokenize(wrapped, "lower widest").algorithm == "WordPiece (not BPE)"
    with pytest.raises(ExplorerError, match="WordPiece, not BPE"):
        T.replay(wrapped, "lower")


def test_replay_of_a_long_mixed_text(smol):
    text = ("Mixed text: naïve 東京 👩‍💻 x=1234; https://a.b/c?d=e\n\n    " * 400)[: T.MAX_TEXT_CHARS]
    assert T.replay(smol, text).ids == own_ids(smol, text)


# ---------------------------------------------------------------- tokenize


def test_tokenize_gives_ids_pieces_offsets_and_counts(smol):
    text = "Hello  world 👩‍💻\n東京"
    result = T.tokenize(smol, text, "SmolLM2")
    assert result.ids == own_ids(smol, text)
    assert result.pieces == smol.convert_ids_to_tokens(result.ids)
    assert result.n_tokens == len(result.ids) and result.n_chars == len(text)
    assert result.chars_per_token == pytest.approx(len(text) / len(result.ids), abs=1e-3)
    assert result.algorithm == "byte-level BPE"
    assert result.pieces[:2] == ["Hello", "Ġ"]
    assert text[slice(*result.offsets[0])] == "Hello"
    assert all(0 <= a <= b <= len(text) for a, b in result.offsets)
    emoji_bytes = "".join(result.piece_bytes).replace(" ", "")
    assert "👩‍💻".encode().hex().upper() in emoji_bytes
    assert smol.decode(result.ids) == text


def test_empty_text_is_an_empty_result(smol):
    assert T.tokenize(smol, "").n_tokens == 0
    replay = T.replay(smol, "")
    assert replay.ids == [] and replay.words == [] and replay.matches_tokenizer


def test_text_over_the_cap_is_refused(smol):
    with pytest.raises(ExplorerError, match="20,000"):
        T.tokenize(smol, "x" * (T.MAX_TEXT_CHARS + 1))
    with pytest.raises(ExplorerError, match="20,000"):
        T.replay(smol, " " * (T.MAX_TEXT_CHARS + 1))
    with pytest.raises(ExplorerError, match="must be text"):
        T.replay(smol, 42)


# ---------------------------------------------------------------- toy trainer


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
    word_counts = T.parse_corpus(corpus)
    theirs = hf_bpe_merges(word_counts, 40)
    words = [(T.split_into_symbols(w, ""), c) for w, c in word_counts.items()]
    unique_steps = 0
    for pair in theirs:
        stats = T.count_pairs(words)
        best = max(stats.values())
        assert stats[pair] == best, pair
        if list(stats.values()).count(best) == 1:
            assert T.most_frequent_pair(stats, words) == (pair, [])
            unique_steps += 1
        words = [(T.merge_pair(symbols, pair), c) for symbols, c in words]
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
        ("x" * (T.MAX_TEXT_CHARS + 1), 5, "20,000"),
    ],
)
def test_bad_training_input_is_explained(corpus, num_merges, message):
    with pytest.raises(ExplorerError, match=message):
        T.train_bpe(corpus, num_merges)


def test_zero_width_and_control_characters_in_a_corpus_are_plain_symbols():
    result = T.train_bpe("a\u200db a\u200db x\x07y", 3)
    assert result.merges[0].pair == ["a", "\u200d"]
    assert T.visible("a\u200db\x07") == "a⟨U+200D⟩b⟨U+0007⟩"


# ---------------------------------------------------------------- the view


def test_view_handlers_return_html_and_the_api_payload(smol):
    html, result = view.tokenize("Hello world", "", ["no-such-model"])
    assert result["ids"] == own_ids(smol, "Hello world") and result["comparisons"] == []
    assert "no-such-model" in html and "Hello" in html
    html, result = view.bpe_replay("Hello world 👩‍💻")
    assert result["ids"] == own_ids(smol, "Hello world 👩‍💻") and "rank" in html
    *_, state, result = view.bpe_train(T.LECTURE_CORPUS, 3)
    assert [m["pair"] for m in result["merges"]] == [["e", "s"], ["es", "t"], ["est", "</w>"]]
    assert result["segmentations"]["newest"] == ["n", "e", "w", "est</w>"]
    assert "n</span>" in view.segmentation_html(state, 0) and "est&lt;/w&gt;" in view.segmentation_html(state, 3)
    assert ">est&lt;/w&gt;</span>" in view.segmentation_html(state, 3, "lowest")  # an unseen word reuses the merges


def test_view_turns_bad_input_into_gr_error():
    with pytest.raises(gr.Error, match="num_merges"):
        view.bpe_train(T.LECTURE_CORPUS, 0)
    with pytest.raises(gr.Error, match="20,000"):
        view.bpe_replay("x" * (T.MAX_TEXT_CHARS + 1))


def test_build_registers_the_three_endpoints():
    with gr.Blocks() as demo:
        view.build()
    public = {f.api_name for f in demo.fns.values() if f.api_visibility == "public"}
    assert public == {"tokenize", "bpe_replay", "bpe_train"}
