"""The logit lens: each layer's next-token guess, read from its hidden state as if the model stopped there.

Every hidden state goes through the model's final norm and its LM head, soft-capped where the model
caps its logits (as nostalgebraist's logit lens and ecco do). transformers returns `hidden_states` as
the embeddings, then each block's output, except that the last entry is already through the final
norm (it is `last_hidden_state`): the head alone turns it into the model's own logits, so the last
layer's row is the model's real prediction.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .. import cache, checks, i18n, lm
from ..checks import ExplorerError
from ..models import LoadedModel, Progress
from ..segments import token_labels
from .forward import CACHED_TEXTS, Forward, attn_implementation, forward

MAX_TOP_K = 20  # the cache keeps this many guesses per cell, so any top_k up to it is a cache read

_LENSES = cache.named("logit-lens", CACHED_TEXTS)


@dataclass
class LensPrediction:
    token: str  # what the token decodes to on its own ("�" for a piece of a character)
    prob: float
    token_id: int
    label: str  # what the table shows: its text, or its bytes ⟨e5 8f⟩ for a piece of a character (an addition)


@dataclass
class LensLayer:
    layer: int  # the block whose output is read, 0-based as in /attention
    top: list[list[LensPrediction]]  # top[i]: position i's most likely next tokens, best first


@dataclass
class LogitLens:
    """The /logit_lens payload (API.md); `embeddings` (the input embeddings read the same way),
    `token_ids` and `labels` are additions."""

    model: str
    tokens: list[str]
    layers: list[LensLayer]
    embeddings: list[list[LensPrediction]]
    token_ids: list[int]  # the text's tokens, to tell a hit by id (two byte tokens can both show as "�")
    labels: list[str]  # the text's tokens as the table's header shows them (segments.readable_tokens)


def logit_lens(loaded: LoadedModel, text: str, top_k=5, progress: Progress | None = None) -> LogitLens:
    """Each layer's top-k next-token guesses at each position."""
    if loaded.spec.kind != "causal":
        raise ExplorerError(
            "The logit lens reads next-token predictions: pick a causal model, not {model}.", model=loaded.name
        )
    top_k = checks.number(top_k, "top_k", 1, MAX_TOP_K, integer=True)
    progress = progress or (lambda fraction, message: None)
    run = forward(loaded, text, progress)
    key = (loaded.name, attn_implementation(loaded), text)
    probs, ids = _LENSES.get(key, lambda: _read_layers(loaded, run, progress))  # (states, n, MAX_TOP_K) each
    rows = _predictions(loaded, probs[..., :top_k], ids[..., :top_k])
    return LogitLens(
        model=run.model,
        tokens=run.tokens,
        layers=[LensLayer(layer, top) for layer, top in enumerate(rows[1:])],
        embeddings=rows[0],
        token_ids=run.ids,
        labels=run.labels,
    )


def hits(lens: LogitLens, top: list[list[LensPrediction]]) -> list[bool]:
    """Per position, whether the best guess is the text's actual next token, compared by id."""
    next_ids = lens.token_ids[1:] + [None]  # the last position has no next token in the text
    return [cell[0].token_id == next_id for cell, next_id in zip(top, next_ids)]


def _read_layers(loaded: LoadedModel, run: Forward, progress: Progress) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-MAX_TOP_K probabilities and ids per hidden state and position, one state at a time
    (all layers' full logits at once would be states × n × vocab floats: 1.5 GB for SmolLM2 at the cap)."""
    norm = lm.final_norm(loaded.model)
    states = run.hidden_states  # (layers + 1, n, d)
    last = len(states) - 1
    top_probs, top_ids = [], []
    with torch.inference_mode():
        for index, state in enumerate(states):
            progress(
                index / len(states),
                i18n.message("Logit lens: reading layer {index}/{last}", dict(index=index, last=last)),
            )
            logits = lm.head_logits(loaded.model, state if index == last else norm(state)).float()  # (n, vocab)
            best, ids = logits.topk(MAX_TOP_K, dim=-1)  # (n, MAX_TOP_K) each
            top_probs.append((best - logits.logsumexp(-1, keepdim=True)).exp())  # softmax of the best only
            top_ids.append(ids)
    return torch.stack(top_probs), torch.stack(top_ids)


def _predictions(loaded: LoadedModel, probs: torch.Tensor, ids: torch.Tensor) -> list[list[list[LensPrediction]]]:
    """(states, n, k) probabilities and ids as predictions, each distinct token decoded once."""
    unique = sorted(set(ids.flatten().tolist()))
    text = dict(zip(unique, lm.token_texts(loaded.tokenizer, unique)))
    label = dict(zip(unique, token_labels(loaded.tokenizer, unique)))
    return [
        [
            [LensPrediction(text[i], p, i, label[i]) for p, i in zip(cell_probs, cell_ids)]
            for cell_probs, cell_ids in zip(state_probs, state_ids)
        ]
        for state_probs, state_ids in zip(probs.tolist(), ids.tolist())
    ]
