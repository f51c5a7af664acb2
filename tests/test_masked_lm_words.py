"""Chinese cut word by word (forward maximum matching over single tokens), everything else as the
tokenizer does; on tiny tokenizers and on Gemma 3's own."""

from __future__ import annotations

import pytest

from explorer.masked_lm.words import word_tokens

from builders import GEMMA, byte_fallback_tokenizer, byte_level_tokenizer, own_ids, registered_tokenizer

TEXTS = [
    "中国的首都是北京。",
    "The capital of France is Paris.",
    "台湾大学 is in 台北, 北京是中国的首都",
    "😀 北 e\u0301",
]


@pytest.mark.parametrize("build", [byte_fallback_tokenizer, byte_level_tokenizer])
@pytest.mark.parametrize("text", TEXTS)
def test_the_word_tokens_spell_the_text(build, text):
    tokenizer = build()
    assert tokenizer.decode(word_tokens(tokenizer, text)) == tokenizer.decode(own_ids(tokenizer, text))


@pytest.mark.parametrize("build", [byte_fallback_tokenizer, byte_level_tokenizer])
def test_text_without_chinese_is_tokenised_as_the_tokenizer_does(build):
    tokenizer = build()
    for text in ["The capital of France is Paris.", "low lower lowest, 0123!"]:
        assert word_tokens(tokenizer, text) == own_ids(tokenizer, text)


def test_gemma_s_merge_across_a_word_is_cut_at_the_word():
    tokenizer = registered_tokenizer(GEMMA)
    pieces = lambda ids: [tokenizer.decode([i]) for i in ids]  # noqa: E731
    assert pieces(own_ids(tokenizer, "中国的首都是")) == ["中国的", "首", "都是"]  # 都是 outranks 首都
    assert pieces(word_tokens(tokenizer, "中国的首都是")) == ["中国的", "首都", "是"]
    assert pieces(word_tokens(tokenizer, "中国的首都是 Beijing。")) == ["中国的", "首都", "是", " Beijing", "。"]
