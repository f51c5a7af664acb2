"""Filling a text: the method follows the model, top_k is checked once, the left-only view beside it."""

from __future__ import annotations

import pytest

from explorer import masked_lm
from explorer.checks import ExplorerError

from builders import tiny_bert, tiny_gemma


@pytest.fixture(scope="module")
def bert():
    return tiny_bert()


@pytest.mark.parametrize("top_k", [0, 51, -1, 2.5, "ten", None])
def test_top_k_outside_1_to_50_is_refused(bert, tiny, top_k):
    with pytest.raises(ExplorerError, match="top_k"):
        masked_lm.fill_mask(bert, tiny, "the capital of [MASK] is paris .", top_k=top_k)


@pytest.mark.parametrize("build", [tiny_gemma, tiny_bert])
def test_a_causal_model_rescores_and_a_masked_lm_fills(tiny, build):
    lm = build()
    result = masked_lm.fill_mask(lm, tiny, "The [MASK] barked at the [MASK] all night.", top_k=3)
    assert result.method == ("masked-lm" if lm.tokenizer.mask_token else "causal-rescoring")
    assert result.model == lm.name and result.left_only_model == tiny.name
    assert (result.candidates_scored > 0) == (result.method == "causal-rescoring")
    assert all(1 <= len(m.candidates) <= 3 and 1 <= len(m.left_only) <= 3 for m in result.masks)
    assert result.filled == masked_lm.fill_text(
        "The [MASK] barked at the [MASK] all night.", [m.candidates[0].token for m in result.masks]
    )
    assert result.left_only_filled == masked_lm.fill_text(
        "The [MASK] barked at the [MASK] all night.", [m.left_only[0].token for m in result.masks]
    )


def test_a_causal_model_with_a_mask_token_in_its_vocabulary_still_rescores():
    gemma = tiny_gemma()
    gemma.tokenizer.add_special_tokens({"mask_token": "<mask>"})  # Gemma 3's vocabulary has an unused <mask>
    result = masked_lm.fill_mask(gemma, gemma, "The capital of France is [MASK].", top_k=3)
    assert result.method == "causal-rescoring" and result.candidates_scored > 0
    assert "<mask>" not in result.note


def test_a_chinese_blank_asks_each_source_for_half_as_many_words(monkeypatch):
    """A Chinese word also competes as its shorter starts (北京市: 北, 北京), so each source proposes
    half as many words; the left-only view still shows top_k."""
    from explorer.masked_lm import fill, rescoring

    asked = []
    ask = rescoring.asked_steps
    monkeypatch.setattr(
        rescoring, "asked_steps", lambda lm, text, masks, index, n: asked.append(n) or ask(lm, text, masks, index, n)
    )
    lm = tiny_gemma()
    masked_lm.fill_mask(lm, lm, "The capital of France is [MASK].", top_k=12)
    masked_lm.fill_mask(lm, lm, "中国的首都是[MASK]。", top_k=12)
    assert asked == [12, 12 // fill.CJK_SHARE]
