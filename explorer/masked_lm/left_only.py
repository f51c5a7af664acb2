"""GPT's view of a blank: the words a left-to-right model expects next, from the left context alone.

A causal LM predicts tokens, not words, and the word in a blank is often several tokens
(" Jup" + "iter"). So a *word* here is a first token that starts a word, completed greedily by
the tokens that continue it; its probability is the product of the probabilities along the way.
Chinese is written without spaces, so a blank holds a word of one or more characters (北京): a
word that starts with a CJK character takes the following CJK characters, up to four.
Causal rescoring proposes its candidates with the same function.
"""

from __future__ import annotations

import math
import re
from collections.abc import Generator

import torch

from ..head_rounds import hidden_forward
from ..lm import cached_forward, check_fits, document_start_ids, token_texts
from ..models import LoadedModel
from ..segments import token_bytes
from .blanks import Filler, is_cjk, left_context, prefix_and_space
from .words import word_tokens

WORD_PIECES = 3  # a proposed word is completed greedily with at most this many more tokens
CJK_WORD_CHARS = 4  # Chinese has no spaces: a "word" is 1 to 4 characters (北, 北京, 珠穆朗玛 …)
CJK_WORD_PIECES = 8  # ... completed with at most this many more tokens (a byte-level BPE cuts a character in 2-3)
FIRST_TOKENS_SEEN = 40  # per word wanted, the likeliest first tokens looked at for ones that start a word


def starts_word(piece_text: str, after_space: bool) -> bool:
    """Whether a token's text can begin the blank's word: after a space, a space then a letter or
    digit (" Paris"); straight after other text, a letter or digit ("(Paris"; a Chinese character
    is a letter too)."""
    if after_space:
        return piece_text[:1] == " " and piece_text[1:2].isalnum()
    return piece_text[:1].isalnum()


def continues_word(piece_text: str) -> bool:
    return piece_text[:1].isalnum()


def starts_cjk(data: bytes) -> bool:
    """Whether a token's bytes begin with a CJK character, whole (北) or cut after its first byte or
    two (a byte-level BPE's ⟨e5 8c⟩: lead bytes e4-e9 are U+4000-U+9FFF, the common ideographs)."""
    text = data.decode("utf-8", errors="ignore")
    if text:
        return data.startswith(text[0].encode()) and is_cjk(text[0])
    return len(data) < 3 and 0xE4 <= data[0] <= 0xE9 if data else False


class _WordInProgress:
    """A proposed word as its tokens arrive: its bytes, and whether the next token may join it.

    A word of spaced text ends at the first token that does not continue it with a letter or digit,
    after at most WORD_PIECES more tokens. A CJK word (its first character is CJK) takes tokens of
    CJK characters up to CJK_WORD_CHARS characters; a token that ends inside a character always
    joins (its character is finished first)."""

    def __init__(self, first: int, data: bytes, prob: float):
        self.ids, self.data, self.prob = [first], data, prob
        self.cjk = starts_cjk(data)

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", errors="ignore").strip()  # a character left cut is dropped

    def takes(self, data: bytes, piece_text: str) -> bool:
        if not self.cjk:
            return len(self.ids) <= WORD_PIECES and continues_word(piece_text)
        if len(self.ids) > CJK_WORD_PIECES:
            return False
        cut = self.data.decode("utf-8", errors="ignore").encode() != self.data
        if cut:
            return True  # the rest of a character
        joined = (self.data + data).decode("utf-8", errors="ignore")
        return starts_cjk(data) and all(is_cjk(c) for c in joined) and len(joined) <= CJK_WORD_CHARS

    def add(self, token_id: int, data: bytes, prob: float) -> None:
        self.ids.append(token_id)
        self.data += data
        self.prob *= prob


def word_steps(
    lm: LoadedModel, prefix_ids: list[int], n: int, after_space: bool, opening: list[int] | None = None
) -> Generator[torch.Tensor, torch.Tensor, list[tuple[str, float]]]:
    """The n most likely next *words* after `prefix_ids`, each with its probability, most likely first.

    The prefix runs once (`lm.cached_forward`: kept, as the one-token words after a left context
    continue it too; with `opening`, the fixed start of a prompt, only that start is kept); its n
    likeliest word-starting tokens fan out into n rows that continue from copies of its KV cache,
    completed greedily, one batched step per piece, for the words still growing (the LM head, 262,144
    words wide on Gemma, costs more per row than the body). A generator for `head_rounds.heads_together`: it
    yields the hidden states whose logits it needs, so other searches share its products with the head.
    """
    tokenizer = lm.tokenizer
    check_fits(lm, len(prefix_ids) + 1 + CJK_WORD_PIECES)  # the prefix, the first token, the pieces after it
    # The fan-out: one forward over the prefix, and the n likeliest tokens that start a word.
    logits, past = cached_forward(lm, prefix_ids, opening or ())
    probs = logits.float().softmax(-1)  # (vocab,)
    likeliest = probs.topk(min(FIRST_TOKENS_SEEN * n, len(probs))).indices.tolist()
    special = set(tokenizer.all_special_ids)
    firsts = [
        _WordInProgress(token_id, data, float(probs[token_id]))
        for token_id, text, data in zip(likeliest, token_texts(tokenizer, likeliest), token_bytes(tokenizer, likeliest))
        if token_id not in special and (starts_word(text, after_space) or (not after_space and starts_cjk(data)))
    ][:n]
    if not firsts:
        return []
    past.batch_repeat_interleave(len(firsts))  # one copy of the prefix's cache per word
    # The completion: each row's greedy next token joins its word while it continues the word. A word
    # that ends leaves the batch (its row of the cache too), so each step runs the open words only.
    growing = list(range(len(firsts)))  # the words still open, in the batch's order
    feed = torch.tensor([w.ids[0] for w in firsts])[:, None]  # (open, 1)
    while growing:
        hidden, past = hidden_forward(lm, feed, past)  # (open, 1, d)
        logits = yield hidden[:, -1]  # (open, vocab)
        probs = logits.float().softmax(-1)  # (open, vocab)
        best = probs.argmax(-1)  # (open,)
        ids = best.tolist()
        kept = []
        for row, (word, token_id, text, data) in enumerate(
            zip([firsts[i] for i in growing], ids, token_texts(tokenizer, ids), token_bytes(tokenizer, ids))
        ):
            if word.takes(data, text):
                word.add(token_id, data, float(probs[row, token_id]))
                kept.append(row)
        if kept and len(kept) < len(growing):
            past.batch_select_indices(torch.tensor(kept, dtype=torch.long))
        growing, feed = [growing[row] for row in kept], best[kept][:, None]  # feed: (open, 1)
    # Two first tokens can make the same word (" Paris" and " Par"+"is"): keep the likelier.
    words: dict[str, float] = {}
    for word in firsts:
        if word.text:
            words[word.text] = max(word.prob, words.get(word.text, 0.0))
    return sorted(words.items(), key=lambda item: -item[1])


def blank_ids(tokenizer, left: str) -> list[int]:
    """What a left-to-right model reads before a blank whose left context is `left`: the document
    start, then the left context without the space before the blank (`prefix_and_space`), its
    Chinese cut word by word (`words.word_tokens`: 中国的|首都|是, not the tokenizer's 中国的|首|都是,
    after which the model expects a measure word's noun, not a city)."""
    return document_start_ids(tokenizer) + word_tokens(tokenizer, prefix_and_space(left)[0])


def left_only_steps(
    lm: LoadedModel, text: str, masks: list[re.Match], n: int
) -> Generator[torch.Tensor, torch.Tensor, tuple[list[list[Filler]], list[str]]]:
    """Each blank from the words before it alone, the earlier blanks holding the model's own best
    guess, as a left-to-right model would write the text: (words per blank, each blank's left context).
    A generator for `head_rounds.heads_together` (run it beside other searches of the same model)."""
    predictions, contexts, guesses = [], [], []
    for index in range(len(masks)):
        left = left_context(text, masks, index, guesses)
        words = yield from word_steps(lm, blank_ids(lm.tokenizer, left), n, prefix_and_space(left)[1])
        predictions.append([Filler(w, p, math.log(p) if p > 0 else -math.inf, "left context") for w, p in words])
        contexts.append(left)
        guesses.append(words[0][0] if words else "…")
    return predictions, contexts
