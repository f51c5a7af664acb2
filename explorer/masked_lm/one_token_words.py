"""A wider net for a Chinese blank: the left context's likeliest next tokens that are whole words.

Greedy completion proposes a few words from the left context (`left_only.word_steps`), and the
asked model a few more, but a blank's word is often one token the model ranks tenth or twentieth
after the left context alone and first once the words after the blank are read (一个星期有[MASK]天:
after 一个星期有 the model expects 一次 or 三个星期; 七 comes only with 天). So, per blank:
1. the CANDIDATES likeliest next tokens after the left context that are whole CJK words;
2. each is scored with the first PEEK tokens after the blank, log p(word, then those tokens | left
   context), and the KEEP best go on to be scored in their complete sentence with the other proposals.

Step 2 is a best-first search with a bound, so it skips words without changing the KEEP it finds:
a word's score is log p(word | left context) plus the log-probabilities of the tokens after it, each
≤ 0, so its first term bounds its score. The words come likeliest first, CHUNK at a time, each batch
continuing the left context's KV cache, until the next word's bound is below the KEEP-th best score
found: no word after it can enter. The LM head (262,144 words wide on Gemma) runs once per token
scored, the costliest step here, and the bound often spares the second batch of the 40 × PEEK.
"""

from __future__ import annotations

import copy
from collections.abc import Generator

import torch

from ..head_rounds import heads_together, hidden_forward
from ..lm import cached_forward, token_texts
from ..models import LoadedModel
from .blanks import MASK_PATTERN, is_cjk
from .left_only import blank_ids
from .words import word_tokens

CANDIDATES = 40  # next tokens looked at per blank
PEEK = 3  # tokens after the blank that pick among them
KEEP = 5  # of them, proposed for the blank
LOOKED_AT = 2_000  # the likeliest next tokens searched for ones that are whole CJK words
CHUNK = 20  # words scored per batch, likeliest first, until the bound says no later word can be kept (a batch
# is a round of the LM head beside the other searches, `head_rounds.heads_together`: 20 rather than 8 is 19 % faster on
# the 36 Chinese cloze sentences, the same words)


def one_token_words(lm: LoadedModel, left: str, right: str) -> list[str]:
    """`one_token_steps` on its own."""
    return heads_together(lm, [one_token_steps(lm, left, right)])[0]


def one_token_steps(lm: LoadedModel, left: str, right: str) -> Generator[torch.Tensor, torch.Tensor, list[str]]:
    """The KEEP one-token CJK words likeliest after `left` and before the start of `right` (the text
    after the blank up to the next blank). A generator for `head_rounds.heads_together`: it yields the hidden
    states whose logits it needs."""
    tokenizer = lm.tokenizer
    before = blank_ids(tokenizer, left)
    after = word_tokens(tokenizer, MASK_PATTERN.split(right)[0])[:PEEK]
    if not after:
        return []
    logits, left_past = cached_forward(lm, before)  # run once: left-only predictions ran it first
    first = logits.float().log_softmax(-1)  # (vocab,): log p(word | left context)
    likeliest = first.topk(min(LOOKED_AT, len(first))).indices.tolist()
    special = set(tokenizer.all_special_ids)
    words = [
        (token_id, text)
        for token_id, text in zip(likeliest, token_texts(tokenizer, likeliest))
        if token_id not in special and text and all(is_cjk(char) for char in text)
    ][:CANDIDATES]
    scored: list[tuple[float, str]] = []  # (log p(word, then the tokens after the blank | left context), word)
    targets = torch.tensor(after)  # (peek,)
    for start in range(0, len(words), CHUNK):
        kept = sorted(scored, reverse=True)[:KEEP]
        if len(kept) == KEEP and float(first[words[start][0]]) <= kept[-1][0]:
            break  # the bound: this word and every less likely one score below the KEEP-th best
        batch = words[start : start + CHUNK]
        past = copy.deepcopy(left_past)
        past.batch_repeat_interleave(len(batch))  # one copy of the left context's cache per word
        feed = torch.tensor([[token_id] + after[:-1] for token_id, _ in batch])  # (chunk, peek)
        hidden, _ = hidden_forward(lm, feed, past)  # (chunk, peek, d)
        logits = yield hidden.flatten(0, 1)  # (chunk * peek, vocab)
        logits = logits.view(len(batch), len(after), -1)  # (chunk, peek, vocab): predicts `after`
        follow = logits.float().log_softmax(-1).gather(2, targets.expand(len(batch), -1)[..., None])  # (chunk, peek, 1)
        scored += [
            (float(first[token_id]) + float(tail), text)
            for (token_id, text), tail in zip(batch, follow[..., 0].double().sum(1))
        ]
    return [text for _, text in sorted(scored, reverse=True)[:KEEP]]
