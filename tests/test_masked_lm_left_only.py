"""GPT's view of a blank: whole next words from the left context, checked against a slow reference
(full forwards, no cache) on a byte-level BPE (tiny Llama) and a '▁' SentencePiece tokenizer (tiny Gemma)."""

from __future__ import annotations

import pytest
import torch

from explorer import masked_lm
from explorer.head_rounds import heads_together
from explorer.lm import document_start_ids, encode_document
from explorer.masked_lm.blanks import is_cjk
from explorer.masked_lm.left_only import (
    CJK_WORD_CHARS,
    _WordInProgress,
    blank_ids,
    starts_cjk,
    starts_word,
    word_steps,
)
from explorer.masked_lm.words import word_tokens
from explorer.segments import token_bytes

from builders import tiny_gemma, tiny_llama


def reference_next_words(lm, prefix_ids: list[int], n: int, after_space: bool) -> dict[str, float]:
    """The same words the slow way: every step a full forward over the whole text, no KV cache."""

    def next_probs(ids: list[int]) -> torch.Tensor:
        with torch.no_grad():
            return lm.model(input_ids=torch.tensor([ids])).logits[0, -1].softmax(-1)

    tokenizer, special = lm.tokenizer, set(lm.tokenizer.all_special_ids)
    probs = next_probs(prefix_ids)
    order = [int(i) for i in probs.argsort(descending=True)]

    def piece(token_id: int) -> tuple[bytes, str]:
        return token_bytes(tokenizer, [token_id])[0], tokenizer.decode([token_id])

    firsts = [
        i
        for i in order
        if i not in special and (starts_word(piece(i)[1], after_space) or (not after_space and starts_cjk(piece(i)[0])))
    ][:n]
    words: dict[str, float] = {}
    for first in firsts:
        word = _WordInProgress(first, piece(first)[0], float(probs[first]))
        while True:
            step = next_probs(prefix_ids + word.ids)
            best = int(step.argmax())
            if not word.takes(*piece(best)):
                break
            word.add(best, piece(best)[0], float(step[best]))
        if word.text:
            words[word.text] = max(word.prob, words.get(word.text, 0.0))
    return words


@pytest.mark.parametrize("build", [tiny_llama, tiny_gemma])
@pytest.mark.parametrize("prefix, after_space", [("The capital of France is", True), ("Once upon a time (", False)])
def test_next_words_equal_the_slow_reference(build, prefix, after_space):
    lm = build()
    prefix_ids = encode_document(lm.tokenizer, prefix)
    words = heads_together(lm, [word_steps(lm, prefix_ids, 6, after_space)])[0]
    expected = reference_next_words(lm, prefix_ids, 6, after_space)
    assert [word for word, _ in words] == sorted(expected, key=lambda word: -expected[word])
    assert [prob for _, prob in words] == pytest.approx([expected[word] for word, _ in words], rel=1e-4)
    assert all(word and (word[0].isalnum()) for word, _ in words)


def test_a_blank_at_the_start_is_predicted_after_the_document_start():
    gemma = tiny_gemma()  # its tokenizer adds <bos> itself; the left context is then <bos> alone
    assert encode_document(gemma.tokenizer, "") == [gemma.tokenizer.bos_token_id]
    result = masked_lm.fill_mask(gemma, gemma, "[MASK] is the capital of France.", top_k=5)
    assert result.masks[0].left_context == "" and len(result.masks[0].left_only) == 5
    assert len(result.masks[0].candidates) == 5


def test_a_chinese_word_is_one_to_four_whole_characters():
    """No spaces in Chinese: a word that starts with a CJK character takes the CJK characters after it,
    up to CJK_WORD_CHARS; a character cut by a byte-level BPE is finished first, never shown as �."""
    word = _WordInProgress(1, "北".encode()[:2], 0.5)  # a byte-level BPE's first token: two of 北's three bytes
    assert word.cjk and word.text == "" and word.takes("北".encode()[2:], "")
    word.add(2, "北".encode()[2:], 0.5)
    assert word.text == "北" and word.prob == 0.25
    assert word.takes("京".encode(), "京") and not word.takes("。".encode(), "。") and not word.takes(b" a", " a")
    for char in "京市中心":
        if word.takes(char.encode(), char):
            word.add(3, char.encode(), 1.0)
    assert word.text == "北京市中" and len(word.text) == CJK_WORD_CHARS
    english = _WordInProgress(4, b" Par", 1.0)
    assert not english.cjk and english.takes(b"is", "is") and not english.takes(b" is", " is")


@pytest.mark.parametrize("build", [tiny_llama, tiny_gemma])
def test_next_words_after_chinese_text_are_whole_characters(build):
    lm = build()
    words = heads_together(lm, [word_steps(lm, encode_document(lm.tokenizer, "中国的首都是"), 8, False)])[0]
    assert words and all("\ufffd" not in word and word for word, _ in words)
    cjk = [word for word, _ in words if all(is_cjk(c) for c in word)]
    assert all(1 <= len(word) <= CJK_WORD_CHARS for word in cjk)


@pytest.mark.parametrize("build", [tiny_llama, tiny_gemma])
def test_the_left_context_is_read_with_its_chinese_cut_word_by_word(build):
    tokenizer = build().tokenizer
    for left in ["中国的首都是", "The capital of France is ", "台湾大学 is in "]:
        expected = document_start_ids(tokenizer) + word_tokens(tokenizer, left.rstrip())
        assert blank_ids(tokenizer, left) == expected
    assert blank_ids(tokenizer, "The capital of France is ") == encode_document(tokenizer, "The capital of France is")
