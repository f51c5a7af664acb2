"""What a tokenizer makes of a text: ids, pieces, bytes, offsets, counts, and tokenizers side by side."""

from __future__ import annotations

import pytest

from explorer import checks
from explorer import tokenisation as T
from explorer.checks import ExplorerError

from builders import (
    GEMMA,
    byte_fallback_tokenizer,
    byte_level_tokenizer,
    own_ids,
    registered_tokenizer,
    wordpiece_tokenizer,
)

CHINESE = "台湾大学是一所大学。北京是中国的首都。"


@pytest.fixture(scope="module")
def smol(bundled):
    return bundled.tokenizer


def test_tokenize_gives_ids_pieces_offsets_and_counts(smol):
    text = "Hello  world 👩‍💻\n東京"
    result = T.tokenize(smol, text, "SmolLM2")
    assert result.ids == own_ids(smol, text)
    assert result.pieces == smol.convert_ids_to_tokens(result.ids)
    assert result.n_tokens == len(result.ids) and result.n_chars == len(text)
    assert result.chars_per_token == pytest.approx(len(text) / len(result.ids), abs=1e-3)
    assert result.algorithm == "byte-level BPE" and result.vocab_size == len(smol)
    assert result.pieces[:2] == ["Hello", "Ġ"]
    assert text[slice(*result.offsets[0])] == "Hello"
    assert all(0 <= a <= b <= len(text) for a, b in result.offsets)
    emoji_bytes = "".join(result.piece_bytes).replace(" ", "")
    assert "👩‍💻".encode().hex().upper() in emoji_bytes
    assert smol.decode(result.ids) == text
    assert "".join(s.text for s in result.segments) == text  # whole characters, no '�'


def test_byte_fallback_tokens_are_single_bytes():
    """Gemma's style: a character outside the vocabulary is its UTF-8 bytes, one <0xNN> token each."""
    tokenizer = byte_fallback_tokenizer()
    text = "new 👩‍💻"
    result = T.tokenize(tokenizer, text)
    assert result.algorithm == "BPE with byte fallback"
    assert "<0xF0>" in result.pieces and "▁" in "".join(result.pieces)
    assert result.piece_bytes[result.pieces.index("<0xF0>")] == "F0"
    assert "".join(result.piece_bytes).replace(" ", "") == text.encode().hex().upper()
    assert "".join(s.text for s in result.segments) == text and "\ufffd" in "".join(result.tokens)


def test_wordpiece_is_labelled_not_bpe():
    tokenizer = wordpiece_tokenizer()
    assert T.describe_algorithm(tokenizer) == "WordPiece (not BPE)"
    assert T.tokenize(tokenizer, "lower widest").algorithm == "WordPiece (not BPE)"


def test_compare_tokenises_the_same_text_with_each_tokenizer_once():
    level, fallback = byte_level_tokenizer(), byte_fallback_tokenizer()
    results = T.compare(CHINESE, [("level", level), ("fallback", fallback), ("level", level)])
    assert [r.model for r in results] == ["level", "fallback"]
    assert [r.ids for r in results] == [own_ids(level, CHINESE), own_ids(fallback, CHINESE)]
    assert {r.n_chars for r in results} == {len(CHINESE)}


def test_gemma_spends_fewer_tokens_than_smollm2_on_chinese(smol):
    smollm2, gemma3 = T.compare(CHINESE, [("SmolLM2", smol), (GEMMA, registered_tokenizer(GEMMA))])
    assert gemma3.algorithm == "BPE with byte fallback" and gemma3.vocab_size == 262_144
    assert gemma3.chars_per_token > 1 > smollm2.chars_per_token  # SmolLM2 splits most Chinese characters in bytes


def test_empty_text_and_text_over_the_cap(smol):
    assert T.tokenize(smol, "").n_tokens == 0
    with pytest.raises(ExplorerError, match="20,000"):
        T.tokenize(smol, "x" * (checks.MAX_TEXT_CHARS + 1))


@pytest.mark.parametrize(
    "text", [CHINESE, "臺灣大學", "👩‍💻 👨‍👩‍👧‍👦 🏳️‍🌈", "Ｈｅｌｌｏ，世界！ Hello 世界", "English 中文 русский 😀"]
)
def test_segments_are_whole_characters_on_both_bundled_tokenizers(smol, text):
    for name, tokenizer in (("SmolLM2", smol), (GEMMA, registered_tokenizer(GEMMA))):
        result = T.tokenize(tokenizer, text, name)
        texts = [s.text for s in result.segments]
        assert "".join(texts) == tokenizer.decode(result.ids) == text and "\ufffd" not in "".join(texts), name
        assert [s.start for s in result.segments] == [0] + [s.end for s in result.segments[:-1]]
