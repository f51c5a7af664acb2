"""GPT's view of a blank: whole next words from the left context, checked against a slow reference
(full forwards, no cache) on a byte-level BPE (tiny Llama) and a '▁' SentencePiece tokenizer (tiny Gemma)."""

from __future__ import annotations

import pytest
import torch

from explorer import masked_lm
from explorer.lm import encode_document
from explorer.masked_lm.left_only import _WordInProgress, next_words, starts_cjk, starts_word
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
    words = next_words(lm, prefix_ids, 6, after_space)
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
