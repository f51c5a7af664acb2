"""A wider net for a Chinese blank: the left context's likeliest next tokens that are whole words.

Greedy completion proposes a few words from the left context (`left_only.next_words`), and the
asked model a few more, but a blank's word is often one token the model ranks tenth or twentieth
after the left context alone and first once the words after the blank are read (一个星期有[MASK]天:
after 一个星期有 the model expects 一次 or 三个星期; 七 comes only with 天). So, per blank:
1. the CANDIDATES likeliest next tokens after the left context that are whole CJK words;
2. each is followed by the first PEEK tokens after the blank, all in one batch after the left
   context's shared start (`lm.shared_prefix_logprobs`), and the KEEP best go on to be scored in
   their complete sentence with the other proposals.
"""

from __future__ import annotations

import torch

from ..lm import forward, shared_prefix_logprobs, token_texts
from ..models import LoadedModel
from .blanks import MASK_PATTERN, is_cjk
from .left_only import blank_ids
from .words import word_tokens

CANDIDATES = 40  # next tokens looked at per blank
PEEK = 3  # tokens after the blank that pick among them
KEEP = 5  # of them, proposed for the blank
LOOKED_AT = 2_000  # the likeliest next tokens searched for ones that are whole CJK words


def one_token_words(lm: LoadedModel, left: str, right: str) -> list[str]:
    """The KEEP one-token CJK words likeliest after `left` and before the start of `right` (the text
    after the blank up to the next blank)."""
    tokenizer = lm.tokenizer
    before = blank_ids(tokenizer, left)
    after = word_tokens(tokenizer, MASK_PATTERN.split(right)[0])[:PEEK]
    if not after:
        return []
    probs = forward(lm, torch.tensor([before])).logits[0, -1].float()  # (vocab,): only their order matters
    likeliest = probs.topk(min(LOOKED_AT, len(probs))).indices.tolist()
    special = set(tokenizer.all_special_ids)
    words = [
        (token_id, text)
        for token_id, text in zip(likeliest, token_texts(tokenizer, likeliest))
        if token_id not in special and text and all(is_cjk(char) for char in text)
    ][:CANDIDATES]
    if not words:
        return []
    scores = shared_prefix_logprobs(lm, [before + [token_id] + after for token_id, _ in words])
    ranked = sorted(zip(scores, (text for _, text in words)), key=lambda pair: -pair[0])
    return [text for _, text in ranked[:KEEP]]
