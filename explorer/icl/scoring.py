"""The KV-cache scoring engine: log-probabilities of continuations after prompts that share a start.

A label's score is the sum of log p(token) over its continuation's tokens, `prompt + continuation`
tokenised as one string (the ids a full forward would see). Three reuses make it fast; each is
checked on token ids, so the numbers are those of one full forward per label:
1. the labels share the prompt: it runs once, and all continuations run from its KV cache in one batch;
2. the queries of one draw share the instruction and demonstrations: that `Prefix` runs once;
3. the queries after one prefix run `BATCH_SIZE` at a time, in one forward.
A generation task's answer is decoded greedily from the prefix's cache too.
Batches are right-padded and need no attention mask: a causal model's real tokens never see the pads
after them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from transformers import DynamicCache

from ..checks import ExplorerError
from ..datasets import Example, Task
from ..lm import forward, greedy_continuation, pad_id
from ..models import LoadedModel
from ..segments import token_labels
from .prompts import Prompt, encode, shared_text

BATCH_SIZE = 16  # queries run per forward; bounds the copies of the prefix's cache in memory
MAX_NEW_TOKENS = 8  # generation tasks: answers are a word or two


@dataclass(frozen=True)
class Prefix:
    """A forward already run: its token ids, every layer's keys and values, the next token's log-probs."""

    ids: tuple[int, ...]
    kv: tuple[tuple[torch.Tensor, torch.Tensor], ...]  # per layer: keys, values, each (1, kv_heads, len(ids), head_dim)
    next_logprobs: torch.Tensor  # (vocab,)


@dataclass(frozen=True)
class ContinuationScore:
    logprob: float  # summed over the continuation's tokens
    tokens: tuple[str, ...]  # the continuation's tokens, as text
    token_logprobs: tuple[float, ...]


def _cache(prefix: Prefix | None, batch: int) -> DynamicCache:
    """A cache holding `prefix` for `batch` rows (an empty one without a prefix), for the model to extend.

    Built WITHOUT the model's config on purpose, so that every layer keeps ALL its keys. Given the
    config, a sliding-window layer (Gemma 3) keeps only its last window - 1 keys and counts the tokens
    it has seen from what it is handed: a cache rebuilt from those keys would restart its positions,
    and a row could not be cut out of a padded batch. The window itself is the attention mask's job,
    which the model builds from its config, so the numbers stay exact; the cost is memory only.
    `expand` views cost nothing, and the cache concatenates new keys into fresh tensors, so a
    Prefix is never modified and can be reused.
    """
    if prefix is None:
        return DynamicCache()
    return DynamicCache([(k.expand(batch, -1, -1, -1), v.expand(batch, -1, -1, -1)) for k, v in prefix.kv])


def _run(lm: LoadedModel, rows: Sequence[Sequence[int]], prefix: Prefix | None, keep: int):
    """Rows of ids right-padded into one forward after `prefix`: the last `keep` positions' logits (all if 0)."""
    width = max(map(len, rows))
    ids = torch.tensor([list(row) + [pad_id(lm)] * (width - len(row)) for row in rows])  # (batch, width)
    out = forward(lm, ids, _cache(prefix, len(rows)), keep=keep)
    return out.logits, out.past_key_values  # (batch, keep or width, vocab), the extended cache


def _reusable(prefix: Prefix | None, sequences: Sequence[Sequence[int]]) -> Prefix | None:
    """`prefix` if every sequence starts with its ids and goes past them, else None (start afresh)."""
    if prefix and all(len(ids) > len(prefix.ids) and tuple(ids[: len(prefix.ids)]) == prefix.ids for ids in sequences):
        return prefix
    return None


def extend(lm: LoadedModel, sequences: Sequence[Sequence[int]], prefix: Prefix | None = None) -> list[Prefix]:
    """A Prefix for each id sequence, all run in one forward (after `prefix`, if every one starts with it)."""
    prefix = _reusable(prefix, sequences)
    tails = [ids[len(prefix.ids) if prefix else 0 :] for ids in sequences]
    shortest = min(map(len, tails))
    keep = max(map(len, tails)) - shortest + 1  # logits from the shortest row's last position on
    logits, cache = _run(lm, tails, prefix, keep)  # (batch, keep, vocab)
    return [
        Prefix(tuple(ids), _row_of(cache, row, len(ids)), logits[row, len(tail) - shortest].float().log_softmax(-1))
        for row, (ids, tail) in enumerate(zip(sequences, tails))
    ]


def _row_of(cache: DynamicCache, row: int, n: int) -> tuple[tuple[torch.Tensor, torch.Tensor], ...]:
    """One row's keys and values at its first n positions (the pads cut off), per layer."""
    return tuple((layer.keys[row : row + 1, :, :n], layer.values[row : row + 1, :, :n]) for layer in cache.layers)


def shared_prefix(lm: LoadedModel, task: Task, demos: Sequence[Example], chat: bool) -> Prefix | None:
    """One forward of what every query's prompt shares for these demonstrations."""
    ids = encode(lm.tokenizer, shared_text(task, demos, lm.tokenizer, chat), chat)[:-1]  # the last may merge on
    return extend(lm, [ids])[0] if ids else None


@dataclass(frozen=True)
class _Tokenised:
    fulls: list[list[int]]  # prompt + continuation, tokenised as one string, per continuation
    starts: list[int]  # where each continuation's own tokens begin in its row of `fulls`
    head: list[int]  # the ids every row shares: what one forward of the prompt covers


def _tokenise(tokenizer, prompt: Prompt) -> _Tokenised:
    prompt_ids = encode(tokenizer, prompt.text, prompt.chat)
    fulls = [encode(tokenizer, prompt.text + continuation, prompt.chat) for continuation in prompt.continuations]
    starts = [len(os.path.commonprefix([full, prompt_ids])) for full in fulls]
    for start, full, continuation in zip(starts, fulls, prompt.continuations):
        if start == 0 or start >= len(full):
            raise ExplorerError(
                "The continuation {continuation!r} adds no token after the prompt; change the verbalizer or template.",
                continuation=continuation,
            )
    return _Tokenised(fulls, starts, (fulls[0] if fulls else prompt_ids)[: min(starts, default=len(prompt_ids))])


def _score(lm: LoadedModel, tokenised: _Tokenised, head: Prefix) -> list[ContinuationScore]:
    """Every continuation from the prompt's cache: all their tokens but the last run in one batch."""
    tails = [full[len(head.ids) :] for full in tokenised.fulls]
    inputs = [tail[:-1] for tail in tails]  # a token's log-prob is read at the position before it
    logprobs = None
    if any(inputs):
        logprobs = _run(lm, inputs, head, keep=0)[0].float().log_softmax(-1)  # (labels, width, vocab)
    scores = []
    for row, (tail, start) in enumerate(zip(tails, tokenised.starts)):
        first = start - len(head.ids)  # the tail's tokens before this are still the prompt's
        picked = [
            float((head.next_logprobs if j == 0 else logprobs[row, j - 1])[tail[j]]) for j in range(first, len(tail))
        ]
        scores.append(ContinuationScore(sum(picked), tuple(token_labels(lm.tokenizer, tail[first:])), tuple(picked)))
    return scores


def score_many(
    lm: LoadedModel, prompts: Sequence[Prompt], prefix: Prefix | None = None, batch_size: int = BATCH_SIZE
) -> list[list[ContinuationScore]]:
    """Each prompt's continuation scores: the prompts run `batch_size` at a time after `prefix`."""
    tokenised = [_tokenise(lm.tokenizer, prompt) for prompt in prompts]
    scores = []
    for at in range(0, len(tokenised), batch_size):
        chunk = tokenised[at : at + batch_size]
        heads = extend(lm, [t.head for t in chunk], prefix)
        scores += [_score(lm, t, head) for t, head in zip(chunk, heads)]
    return scores


def score_continuations(lm: LoadedModel, prompt: Prompt, prefix: Prefix | None = None) -> list[ContinuationScore]:
    """The log-probability of each continuation after one prompt."""
    return score_many(lm, [prompt], prefix)[0]


def greedy_answer(lm: LoadedModel, prompt: Prompt, prefix: Prefix | None = None) -> str:
    """A generation task's answer: the greedy continuation of the prompt (after `prefix`, if it starts
    with it), up to the end of its line."""
    ids = encode(lm.tokenizer, prompt.text, prompt.chat)
    prefix = _reusable(prefix, [ids])
    tail = ids[len(prefix.ids) if prefix else 0 :]
    new = greedy_continuation(lm, tail, MAX_NEW_TOKENS, stop_text="\n", past=_cache(prefix, 1))
    return lm.tokenizer.decode(new).split("\n")[0].strip()
