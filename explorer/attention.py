"""Attention weights per layer and head, and a logit lens, from one forward pass per text.

The weights are the model's own: the eager-attention copy of the model (`models.get(name,
attn="eager")`) returns them with `output_attentions=True`; nothing is recomputed by hand.
The same forward also returns every layer's hidden state, which the logit lens reads through
the model's final norm and LM head (as nostalgebraist's logit lens and ecco do).

One forward feeds every view: it is kept in a small LRU per (model, text), so switching layer
or head, drawing the grids and BertViz, and the logit lens re-read it instead of recomputing.
"""

from __future__ import annotations

import inspect
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import torch

from . import checks
from .checks import ExplorerError
from .models import LoadedModel, Progress

MAX_TOKENS = 256  # every view draws n² weights per head: 256 tokens is already 65,536 per head
MAX_TOP_K = 20
CACHED_TEXTS = 4  # forwards kept: a few texts × models; each holds layers × heads × n² floats (≤ 71 MB at the cap)


@dataclass
class Forward:
    """What one forward pass gives every view (kept in the cache, not sent to users)."""

    model: str
    causal: bool
    tokens: list[str]  # what each token decodes to
    pieces: list[str]  # the tokenizer's own pieces, byte-level markers included
    ids: list[int]
    attentions: torch.Tensor  # (layers, query heads, n, n): row = query position, column = key position
    hidden_states: torch.Tensor  # (layers + 1, n, d): embeddings, then each block's output (see logit_lens)
    num_key_value_heads: int  # < num_heads under grouped-query attention

    @property
    def num_layers(self) -> int:
        return self.attentions.shape[0]

    @property
    def num_heads(self) -> int:
        return self.attentions.shape[1]


@dataclass
class AttentionMatrix:
    """The /attention payload (API.md); fields after `matrix` are additions."""

    model: str
    tokens: list[str]
    layer: int
    head: int  # -1 = the mean over heads
    num_layers: int
    num_heads: int  # query heads (grouped-query attention shares key/value heads between them)
    matrix: list[list[float]]  # matrix[i][j]: how much position i attends to position j
    num_key_value_heads: int
    causal: bool
    kv_group: int | None  # which key/value head this query head reads (None for the mean)


@dataclass
class HeadPatterns:
    """Per layer and head, the average weight on three positions that reveal a head's job."""

    first_token: list[list[float]]  # the first token: the "attention sink"
    previous_token: list[list[float]]  # the token just before: previous-token heads
    same_token: list[list[float]]  # itself: diagonal heads


@dataclass
class LensPrediction:
    token: str
    prob: float
    token_id: int


@dataclass
class LensLayer:
    layer: int  # the block whose output is read, 0-based as in /attention
    top: list[list[LensPrediction]]  # top[i]: position i's most likely next tokens, best first


@dataclass
class LogitLens:
    """The /logit_lens payload (API.md); `embeddings` (the input embeddings read the same way) is an addition."""

    model: str
    tokens: list[str]
    layers: list[LensLayer]
    embeddings: list[list[LensPrediction]]


# ---------------------------------------------------------------- the cached forward


class _RecentForwards:
    """A small thread-safe LRU keyed by (model object, text, what). The model is held weakly,
    so a model evicted from the model cache cannot be confused with a new one at the same id."""

    def __init__(self, size: int):
        self.size = size
        self._entries: OrderedDict[tuple, tuple[weakref.ref, object]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, model: torch.nn.Module, key: tuple, compute: Callable[[], object]):
        full_key = (id(model), *key)
        with self._lock:
            entry = self._entries.get(full_key)
            if entry is not None and entry[0]() is model:
                self._entries.move_to_end(full_key)
                return entry[1]
        value = compute()
        with self._lock:
            self._entries[full_key] = (weakref.ref(model), value)
            self._entries.move_to_end(full_key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return value


_FORWARDS = _RecentForwards(CACHED_TEXTS)
_LENSES = _RecentForwards(CACHED_TEXTS)


def encode(lm: LoadedModel, text: str) -> list[int]:
    """The token ids the model sees (its special tokens included, e.g. BERT's [CLS] … [SEP])."""
    checks.text(text, "text")
    ids = lm.tokenizer(text)["input_ids"]
    limit = min(MAX_TOKENS, lm.context_length)
    if len(ids) > limit:
        raise ExplorerError(
            f"The text is {len(ids):,} tokens; the attention views take at most {limit} tokens "
            f"(each head is an n × n matrix). Shorten the text."
        )
    return ids


def forward(lm: LoadedModel, text: str, progress: Progress | None = None) -> Forward:
    """The attentions and hidden states for `text`: computed once, then read from the cache."""
    ids = encode(lm, text)
    return _FORWARDS.get(lm.model, (text,), lambda: _run(lm, ids, progress or (lambda f, m: None)))


def _run(lm: LoadedModel, ids: list[int], progress: Progress) -> Forward:
    progress(0.5, f"One forward pass of {lm.name} over {len(ids)} tokens")
    # The views need no logits (the logit lens gets them from the hidden states): where the model
    # allows, skip the LM head over every position, a sixth of the forward's work for SmolLM2.
    skip_logits = {"logits_to_keep": 1} if "logits_to_keep" in inspect.signature(lm.model.forward).parameters else {}
    with torch.inference_mode():
        out = lm.model(input_ids=torch.tensor([ids]), output_attentions=True, output_hidden_states=True, **skip_logits)
    attentions = out.attentions
    if not attentions or any(a is None for a in attentions):
        raise ExplorerError(
            f"{lm.name} did not return attention weights: it must be loaded with eager attention "
            '(models.get(name, attn="eager")).'
        )
    config = lm.model.config
    heads = attentions[0].shape[1]
    return Forward(
        model=lm.name,
        causal=bool(getattr(config, "is_decoder", False) or lm.spec.kind == "causal"),
        tokens=[lm.tokenizer.decode([i]) for i in ids],
        pieces=lm.tokenizer.convert_ids_to_tokens(ids),
        ids=list(ids),
        attentions=torch.stack(attentions)[:, 0].float(),
        hidden_states=torch.stack(out.hidden_states)[:, 0],
        num_key_value_heads=int(getattr(config, "num_key_value_heads", None) or heads),
    )


# ---------------------------------------------------------------- reading it


def check_layer_head(run: Forward, layer, head) -> tuple[int, int]:
    layer = checks.number(layer, "layer", 0, run.num_layers - 1, integer=True)
    head = checks.number(
        head,
        "head",
        -1,
        run.num_heads - 1,
        integer=True,
        allowed=f"-1 (the mean over the {run.num_heads} heads) or a whole number in [0, {run.num_heads - 1}]",
    )
    return layer, head


def weights(run: Forward, layer: int, head: int) -> torch.Tensor:
    """One head's n × n weights, or their mean over heads for head = -1 (indices already checked)."""
    return run.attentions[layer].mean(0) if head == -1 else run.attentions[layer, head]


def kv_group(run: Forward, head: int) -> int | None:
    """The key/value head a query head shares (transformers' repeat_kv: consecutive query heads share one)."""
    return None if head == -1 else head // (run.num_heads // run.num_key_value_heads)


def attention(lm: LoadedModel, text: str, layer=0, head=-1, progress: Progress | None = None) -> AttentionMatrix:
    run = forward(lm, text, progress)
    layer, head = check_layer_head(run, layer, head)
    return AttentionMatrix(
        model=run.model,
        tokens=run.tokens,
        layer=layer,
        head=head,
        num_layers=run.num_layers,
        num_heads=run.num_heads,
        matrix=weights(run, layer, head).tolist(),
        num_key_value_heads=run.num_key_value_heads,
        causal=run.causal,
        kv_group=kv_group(run, head),
    )


def head_patterns(run: Forward) -> HeadPatterns:
    """Mean weight each head puts on the first, the previous and the same position, over the
    queries for which that is a choice (query 0 can only attend to itself in a causal model)."""
    a = run.attentions  # (layers, heads, n, n)
    n = a.shape[-1]
    if n < 2:
        zeros = torch.zeros(a.shape[:2]).tolist()
        return HeadPatterns(zeros, zeros, zeros)
    return HeadPatterns(
        first_token=a[..., 1:, 0].mean(-1).tolist(),
        previous_token=a.diagonal(offset=-1, dim1=-2, dim2=-1).mean(-1).tolist(),
        same_token=a[..., 1:, :].diagonal(offset=1, dim1=-2, dim2=-1).mean(-1).tolist(),
    )


# ---------------------------------------------------------------- logit lens


def final_norm(model: torch.nn.Module) -> torch.nn.Module:
    """The norm between the last block and the LM head; transformers has no generic accessor for it."""
    base = model.base_model
    for name in ("norm", "ln_f", "final_layernorm", "final_layer_norm"):
        module = getattr(base, name, None)
        if isinstance(module, torch.nn.Module):
            return module
    raise ExplorerError(f"The logit lens does not know where {type(model).__name__}'s final norm is.")


def logit_lens(lm: LoadedModel, text: str, top_k=5, progress: Progress | None = None) -> LogitLens:
    """Each layer's next-token guess: its hidden state through the final norm and the LM head.

    transformers returns `hidden_states` as the embeddings, then each block's output, except
    that the last entry is already through the final norm (it is `last_hidden_state`): the LM
    head alone turns it into the model's own logits, so the last layer's row is the model's
    real prediction.
    """
    if lm.spec.kind != "causal":
        raise ExplorerError(f"The logit lens reads next-token predictions: pick a causal model, not {lm.name}.")
    top_k = checks.number(top_k, "top_k", 1, MAX_TOP_K, integer=True)
    progress = progress or (lambda f, m: None)
    run = forward(lm, text, progress)
    probs, ids = _LENSES.get(lm.model, (text,), lambda: _read_layers(lm, run, progress))
    rows = [_predictions(lm, probs[i, :, :top_k], ids[i, :, :top_k]) for i in range(len(probs))]
    return LogitLens(
        model=run.model,
        tokens=run.tokens,
        layers=[LensLayer(layer, top) for layer, top in enumerate(rows[1:])],
        embeddings=rows[0],
    )


def _read_layers(lm: LoadedModel, run: Forward, progress: Progress) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-MAX_TOP_K probabilities and ids per hidden state and position, one layer at a time
    (all layers' full logits at once would be layers × n × vocab floats: 1.5 GB at the cap)."""
    norm, head = final_norm(lm.model), lm.model.get_output_embeddings()
    states = run.hidden_states
    last = len(states) - 1
    top_probs, top_ids = [], []
    with torch.inference_mode():
        for index, state in enumerate(states):
            progress(index / len(states), f"Logit lens: reading layer {index}/{last}")
            logits = head(state if index == last else norm(state))
            probs, ids = logits.float().softmax(-1).topk(MAX_TOP_K, dim=-1)
            top_probs.append(probs)
            top_ids.append(ids)
    return torch.stack(top_probs), torch.stack(top_ids)


def _predictions(lm: LoadedModel, probs: torch.Tensor, ids: torch.Tensor) -> list[list[LensPrediction]]:
    unique = sorted(set(ids.flatten().tolist()))  # decode each token once, not once per cell
    text = dict(zip(unique, lm.tokenizer.batch_decode([[i] for i in unique])))
    return [
        [LensPrediction(text[i], p, i) for p, i in zip(row_probs, row_ids)]
        for row_probs, row_ids in zip(probs.tolist(), ids.tolist())
    ]
