"""GPT's view of a blank: the words a left-to-right model expects next, from the left context alone.

A causal LM predicts tokens, not words, and the word in a blank is often several tokens
(" Jup" + "iter"). So a *word* here is a first token that starts a word, completed greedily by
the tokens that continue it; its probability is the product of the probabilities along the way.
Causal rescoring proposes its candidates with the same function.
"""

from __future__ import annotations

import math
import re

import torch

from ..lm import check_fits, encode_document, forward, greedy_steps, token_texts
from ..models import LoadedModel
from .blanks import Filler, left_context, prefix_and_space

WORD_PIECES = 3  # a proposed word is completed greedily with at most this many more tokens
FIRST_TOKENS_SEEN = 40  # per word wanted, the likeliest first tokens looked at for ones that start a word


def starts_word(piece_text: str, after_space: bool) -> bool:
    """Whether a token's text can begin the blank's word: after a space, a space then a letter or
    digit (" Paris"); straight after other text, a letter or digit ("(Paris")."""
    if after_space:
        return piece_text[:1] == " " and piece_text[1:2].isalnum()
    return piece_text[:1].isalnum()


def continues_word(piece_text: str) -> bool:
    return piece_text[:1].isalnum()


def next_words(lm: LoadedModel, prefix_ids: list[int], n: int, after_space: bool) -> list[tuple[str, float]]:
    """The n most likely next *words* after `prefix_ids`, each with its probability, most likely first.

    The prefix runs once; its n likeliest word-starting tokens fan out into n rows that continue
    from copies of its KV cache, completed greedily, one batched step per piece.
    """
    tokenizer = lm.tokenizer
    check_fits(lm, len(prefix_ids) + 1 + WORD_PIECES)  # the prefix, the first token, the pieces after it
    # The fan-out: one forward over the prefix, and the n likeliest tokens that start a word.
    out = forward(lm, torch.tensor([prefix_ids]))
    probs = out.logits[0, -1].float().softmax(-1)  # (vocab,)
    likeliest = probs.topk(min(FIRST_TOKENS_SEEN * n, len(probs))).indices.tolist()
    special = set(tokenizer.all_special_ids)
    firsts = [
        token_id
        for token_id, text in zip(likeliest, token_texts(tokenizer, likeliest))
        if token_id not in special and starts_word(text, after_space)
    ][:n]
    if not firsts:
        return []
    past = out.past_key_values
    past.batch_repeat_interleave(len(firsts))  # one copy of the prefix's cache per word
    pieces = [[token_id] for token_id in firsts]
    word_probs = [float(probs[token_id]) for token_id in firsts]
    open_rows = set(range(len(firsts)))
    # The completion: each row's greedy next token joins its word while it continues the word.
    steps = greedy_steps(lm, torch.tensor(firsts)[:, None], past)  # feeds (n, 1), yields (n,) per step
    for _, (best, best_probs) in zip(range(WORD_PIECES), steps):
        for row, (token_id, text) in enumerate(zip(best.tolist(), token_texts(tokenizer, best))):
            if row in open_rows and continues_word(text):
                pieces[row].append(token_id)
                word_probs[row] *= float(best_probs[row])
            else:
                open_rows.discard(row)
        if not open_rows:
            break
    # Two first tokens can make the same word (" Paris" and " Par"+"is"): keep the likelier.
    words: dict[str, float] = {}
    for ids, prob in zip(pieces, word_probs):
        word = tokenizer.decode(ids).strip()
        words[word] = max(prob, words.get(word, 0.0))
    return sorted(words.items(), key=lambda item: -item[1])


def left_only_predictions(
    lm: LoadedModel, text: str, masks: list[re.Match], n: int
) -> tuple[list[list[Filler]], list[str]]:
    """Each blank from the words before it alone, the earlier blanks holding the model's own best
    guess, as a left-to-right model would write the text: (words per blank, each blank's left context)."""
    predictions, contexts, guesses = [], [], []
    for index in range(len(masks)):
        left = left_context(text, masks, index, guesses)
        prefix, after_space = prefix_and_space(left)
        words = next_words(lm, encode_document(lm.tokenizer, prefix), n, after_space)
        predictions.append([Filler(w, p, math.log(p) if p > 0 else -math.inf, "left context") for w, p in words])
        contexts.append(left)
        guesses.append(words[0][0] if words else "…")
    return predictions, contexts
