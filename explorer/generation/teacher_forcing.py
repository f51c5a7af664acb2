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
    logprobs = lm_ops.forward(lm, inputs, keep=0).logits[0, :-1].float().log_softmax(-1)  # (n-1, vocab)
    targets = inputs[0, 1:]  # (n-1,): position j predicts token j+1
    true = logprobs.gather(1, targets[:, None])[:, 0]  # (n-1,)
    ranks = (logprobs > true[:, None]).sum(-1) + 1  # (n-1,)
    top = logprobs.topk(top_k, dim=-1)  # values, indices: (n-1, k)
    texts = lm_ops.token_texts(lm.tokenizer, ids)
    top_texts = dict(
        zip(top.indices.unique().tolist(), lm_ops.token_texts(lm.tokenizer, top.indices.unique().tolist()))
    )
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
            zip(true.tolist(), ranks.tolist(), top.values.tolist(), top.indices.tolist())
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
