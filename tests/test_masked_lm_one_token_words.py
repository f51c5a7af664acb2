"""A Chinese blank's one-token words: the left context's likeliest whole CJK tokens, the KEEP best
by how the first tokens after the blank follow them."""

from __future__ import annotations

import pytest
import torch

from explorer.lm import forward
from explorer.masked_lm import one_token_words as module
from explorer.masked_lm.blanks import is_cjk
from explorer.masked_lm.left_only import blank_ids
from explorer.masked_lm.words import word_tokens

from builders import tiny_gemma, tiny_llama


@pytest.mark.parametrize("build", [tiny_gemma, tiny_llama])
def test_the_words_are_whole_chinese_tokens_ranked_by_what_follows(build, monkeypatch):
    lm = build()
    monkeypatch.setattr(module, "KEEP", 3)
    words = module.one_token_words(lm, "中国的首都是", "。北京是中国的首都。")
    assert 1 <= len(words) <= 3 and len(set(words)) == len(words)
    assert all(word and all(is_cjk(char) for char in word) for word in words)
    ids = [lm.tokenizer(word, add_special_tokens=False)["input_ids"] for word in words]
    assert all(len(one) == 1 for one in ids)  # each one token
    # The ranking: log p(word, then the first PEEK tokens after the blank | left context), best first.
    before, after = blank_ids(lm.tokenizer, "中国的首都是"), word_tokens(lm.tokenizer, "。北京是中国的首都。")[:3]
    scores = []
    for (token_id,) in ids:
        row = torch.tensor([before + [token_id] + after])
        logprobs = forward(lm, row, keep=0).logits[0, :-1].float().log_softmax(-1)
        scores.append(float(logprobs.gather(1, row[0, 1:, None])[len(before) - 1 :].sum()))
    assert scores == sorted(scores, reverse=True)


def test_a_blank_with_nothing_after_it_gets_none():
    lm = tiny_gemma()
    assert module.one_token_words(lm, "中国的首都是", "") == []
    assert module.one_token_words(lm, "中国的首都是", "[MASK]。") == []  # the next blank follows at once


@pytest.mark.parametrize("build", [tiny_gemma, tiny_llama])
def test_the_bound_skips_only_words_that_cannot_be_kept(build, monkeypatch):
    lm = build()
    monkeypatch.setattr(module, "KEEP", 3)
    monkeypatch.setattr(module, "CHUNK", module.CANDIDATES)  # one batch: every word scored
    every = module.one_token_words(lm, "一个星期有", "天。")
    monkeypatch.setattr(module, "CHUNK", 1)  # one word at a time: the bound stops as soon as it can
    assert module.one_token_words(lm, "一个星期有", "天。") == every
