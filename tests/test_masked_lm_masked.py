"""masked-lm on a tiny BERT (random weights, the real code path): every blank in one forward."""

from __future__ import annotations

import pytest
import torch

from explorer import masked_lm
from explorer.checks import ExplorerError

from builders import tiny_bert, tiny_llama


@pytest.fixture(scope="module")
def bert():
    return tiny_bert()


def test_masked_lm_predicts_every_blank_in_one_forward(bert, tiny):
    calls = []
    hook = bert.model.register_forward_hook(lambda *_: calls.append(1))
    try:
        result = masked_lm.fill_mask(bert, tiny, "the capital of [MASK] is [MASK] .", top_k=5)
    finally:
        hook.remove()
    assert len(calls) == 1
    assert result.method == "masked-lm" and [m.index for m in result.masks] == [0, 1]
    assert result.candidates_scored == 0 and result.left_only_model == tiny.name
    encoded = bert.tokenizer("the capital of [MASK] is [MASK] .", return_tensors="pt")
    with torch.no_grad():
        logits = bert.model(**encoded).logits[0]
    positions = (encoded["input_ids"][0] == bert.tokenizer.mask_token_id).nonzero().flatten()
    for mask, position in zip(result.masks, positions):
        probs = logits[position].softmax(-1)
        expected = probs.topk(5)
        assert [c.token for c in mask.candidates] == [bert.tokenizer.decode([int(i)]).strip() for i in expected.indices]
        assert [c.prob for c in mask.candidates] == pytest.approx(expected.values.tolist(), rel=1e-4)
    assert result.filled == masked_lm.fill_text(
        "the capital of [MASK] is [MASK] .", [m.candidates[0].token for m in result.masks]
    )


def test_user_types_mask_whatever_the_models_own_mask_token(tiny):
    roberta_like = tiny_bert(mask_token="<mask>")
    result = masked_lm.fill_mask(roberta_like, tiny, "the dog barked at the [MASK] all night .", top_k=3)
    assert result.method == "masked-lm" and len(result.masks[0].candidates) == 3
    assert "<mask>" in result.note
    with pytest.raises(ExplorerError, match=r"\[MASK\]"):
        masked_lm.fill_mask(roberta_like, tiny, "the <mask> barked at the [MASK] .", top_k=3)


def test_a_text_longer_than_either_models_context_is_refused(bert, tiny):
    text = "the dog " * 40 + "[MASK] ."  # 82 tokens for BERT (64 at most), 200 for the tiny Llama (128)
    with pytest.raises(ExplorerError, match="tiny-bert's context"):
        masked_lm.fill_mask(bert, tiny_llama(context=512), text, top_k=3)
    with pytest.raises(ExplorerError, match="tiny-llama's context"):
        masked_lm.fill_mask(bert, tiny, text, top_k=3)
