"""The language-model definition, measured: p(text) = Π p(token_j | tokens before j).

Teacher forcing feeds the true text and reads, at every position, the model's distribution for
the next token: its top candidates, the probability and rank of the token that really comes
next, and, summed, the text's log-likelihood and perplexity exp(−mean log p). One forward pass
gives every position at once, because a causal model's position j sees only tokens ≤ j.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch

from .. import checks
from .. import lm as lm_ops
from ..models import LoadedModel
from ..segments import Segment, segments

MAX_TOP = 20


@dataclass
class Guess:
    token: str
    token_id: int
    prob: float


@dataclass
class Position:
    token: str  # the true token at this position, predicted from everything before it
    token_id: int
    prob: float  # the model's probability of it
    logprob: float
    rank: int  # 1 = the model's first choice
    top: list[Guess]  # the model's most likely tokens here


@dataclass
class SequenceProbs:
    model: str
    tokens: list[str]  # every token of the text, the document start first (it is not predicted)
    token_ids: list[int]
    segments: list[Segment]  # readable runs of tokens (whole characters)
    positions: list[Position]  # one per predicted token: tokens[1:]
    total_logprob: float  # log p(text | document start), nats
    perplexity: float  # exp(−total_logprob / len(positions))
    seconds: float


def next_token_stats(
    model: torch.nn.Module, hidden: torch.Tensor, targets: torch.Tensor, top_k: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """At every position of `hidden` (n, d): log p(its true next token), that token's rank, and the
    top_k log-probabilities and ids, (n,), (n,), (n, k), (n, k), reduced one slice of the vocabulary at
    a time (`lm.head_chunks`) so that (n, vocab) logits are never held.

    log p(w) = logit(w) − logsumexp(all logits): each slice gives its logsumexp, its own top_k and how
    many of its logits beat the true token's, and these combine exactly across the slices.
    """
    head = model.get_output_embeddings()
    rows = torch.arange(len(targets))
    # The true tokens' logits beforehand (one dot product each), so every slice can count those above.
    bias = head.bias[targets] if getattr(head, "bias", None) is not None else 0
    threshold = lm_ops.softcap(model, (hidden * head.weight[targets]).sum(-1).float() + bias)  # (n,)
    true_logit, above = torch.empty(len(targets)), torch.zeros(len(targets), dtype=torch.long)
    lse, values, ids = [], [], []
    for start, logits in lm_ops.head_chunks(model, hidden):  # (n, slice)
        lse.append(logits.logsumexp(-1))  # (n,)
        top = logits.topk(min(top_k, logits.shape[1]), dim=-1)  # (n, k)
        values.append(top.values)
        ids.append(top.indices + start)
        above += (logits > threshold[:, None]).sum(-1)
        here = (targets >= start) & (targets < start + logits.shape[1])  # rows whose true token is in the slice
        true_logit[here] = logits[rows[here], targets[here] - start]
    above -= (true_logit > threshold).long()  # the true token itself is not above itself
    norm = torch.stack(lse, -1).logsumexp(-1)  # (n,)
    best = torch.cat(values, -1).topk(top_k, dim=-1)  # (n, k) among every slice's top_k
    return true_logit - norm, above + 1, best.values - norm[:, None], torch.cat(ids, -1).gather(1, best.indices)


def sequence_probs(lm: LoadedModel, text: str, top_k: int = 5) -> SequenceProbs:
    """Every token's probability given the tokens before it, in one forward pass."""
    text = checks.text(text, "text")
    top_k = checks.number(top_k, "top_k", 1, MAX_TOP, integer=True)
    started = time.perf_counter()
    ids = lm_ops.encode_document(lm.tokenizer, text)
    if len(ids) < 2:
        raise checks.ExplorerError("The text needs at least one token after the document start; type a word or more.")
    lm_ops.check_fits(lm, len(ids))
    inputs = torch.tensor([ids])  # (1, n)
    targets = inputs[0, 1:]  # (n-1,): position j predicts token j+1
    with torch.inference_mode():
        hidden = lm.model.base_model(input_ids=inputs).last_hidden_state[0, :-1]  # (n-1, d), final-normed
        true, ranks, top_values, top_ids = next_token_stats(lm.model, hidden, targets, top_k)
    texts = lm_ops.token_texts(lm.tokenizer, ids)
    shown = top_ids.unique().tolist()
    top_texts = dict(zip(shown, lm_ops.token_texts(lm.tokenizer, shown)))
    positions = [
        Position(
            token=texts[j + 1],
            token_id=ids[j + 1],
            prob=math.exp(lp),
            logprob=lp,
            rank=rank,
            top=[Guess(top_texts[i], i, math.exp(v)) for v, i in zip(values, indices)],
        )
        for j, (lp, rank, values, indices) in enumerate(
            zip(true.tolist(), ranks.tolist(), top_values.tolist(), top_ids.tolist())
        )
    ]
    total = float(true.double().sum())
    return SequenceProbs(
        model=lm.name,
        tokens=texts,
        token_ids=ids,
        segments=segments(lm.tokenizer, ids),
        positions=positions,
        total_logprob=total,
        perplexity=math.exp(-total / len(positions)),
        seconds=time.perf_counter() - started,
    )
