"""BERT's 80/10/10 corruption on a tiny BERT's tokenizer, and on a tokenizer without a mask token."""

from __future__ import annotations

import collections

import pytest

from explorer import i18n, masked_lm
from explorer.checks import ExplorerError

from builders import BERT_CORPUS, tiny_bert, tiny_gemma, tiny_llama


@pytest.fixture(scope="module")
def bert():
    return tiny_bert()


def test_corruption_is_seeded_and_about_15_percent(bert):
    text = " ".join(BERT_CORPUS[:4])
    first, again = masked_lm.corrupt(bert, text, seed=3), masked_lm.corrupt(bert, text, seed=3)
    assert first == again
    assert masked_lm.corrupt(bert, text, seed=4).positions != first.positions
    assert len(first.positions) == round(0.15 * len(first.tokens))
    for position, action, shown in zip(first.positions, first.actions, first.replaced_by):
        assert first.corrupted[position] == shown
        if action == "mask":
            assert shown == "[MASK]"
        if action == "keep":
            assert shown == first.tokens[position]
    untouched = set(range(len(first.tokens))) - set(first.positions)
    assert all(first.corrupted[i] == first.tokens[i] for i in untouched)


def test_corruption_follows_80_10_10(bert):
    actions = collections.Counter()
    for seed in range(300):
        actions.update(masked_lm.corrupt(bert, " ".join(BERT_CORPUS[:4]), seed=seed).actions)
    total = sum(actions.values())
    assert total > 2000
    assert actions["mask"] / total == pytest.approx(0.8, abs=0.03)
    assert actions["random"] / total == pytest.approx(0.1, abs=0.03)
    assert actions["keep"] / total == pytest.approx(0.1, abs=0.03)


def test_corruption_without_a_mask_token_shows_a_placeholder_and_says_why(tiny):
    result = masked_lm.corrupt(tiny, "Once upon a time there was a little model that predicted the next token.", seed=0)
    assert result.mask_token == "[MASK]" and "no mask token" in result.note
    assert "".join(result.tokens) == "Once upon a time there was a little model that predicted the next token."
    with pytest.raises(ExplorerError, match="seed"):
        masked_lm.corrupt(tiny, "a sentence", seed=-1)
    with pytest.raises(ExplorerError, match="empty"):
        masked_lm.corrupt(tiny, "")


def test_a_causal_models_unused_mask_token_is_not_shown_as_berts():
    gemma = tiny_gemma()
    gemma.tokenizer.add_special_tokens({"mask_token": "<mask>"})  # Gemma 3's vocabulary has one, never trained
    result = masked_lm.corrupt(gemma, "The capital of France is Paris. The capital of Italy is Rome.", seed=1)
    assert result.mask_token == "[MASK]" and "causal model" in result.note
    assert "<mask>" not in result.corrupted


def test_chinese_is_corrupted_with_readable_tokens():
    """A byte-level BPE cuts a Chinese character into several tokens: each shows its bytes (⟨e5 8f⟩), never �."""
    with i18n.speaking("zh-CN"):
        result = masked_lm.corrupt(tiny_llama(), "台湾大学是一所位于台北的大学。", seed=3)
    assert "\ufffd" not in "".join(result.tokens + result.corrupted)
    assert any(token.startswith("⟨") for token in result.tokens)
    assert "BERT" in result.note and "因果语言模型" in result.note
