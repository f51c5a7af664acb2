"""One forward pass per text, with the model's own attention weights and every hidden state.

The weights are the model's own: the eager-attention copy of the model (`models.get(name,
attn="eager")`) returns them with `output_attentions=True`; nothing is recomputed by hand.
The same forward also returns every layer's hidden state, which the logit lens reads.

One forward feeds every view: it is kept in the named cache "attention-forwards" under
(model, attention implementation, text), so switching layer or head, drawing the grids and
BertViz, and the logit lens re-read it instead of recomputing.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .. import cache, checks, i18n, lm, models
from ..checks import ExplorerError
from ..models import LoadedModel, Progress
from ..segments import Segment, readable_tokens, segments

MAX_TOKENS = 256  # every view draws n² weights per head: 256 tokens is already 65,536 per head
CACHED_TEXTS = 4  # forwards kept: each holds layers × heads × n² floats (≤ 71 MB for SmolLM2 at the cap)
FULL = "full_attention"  # transformers' name for a layer whose tokens read the whole (causal) context
SLIDING = "sliding_attention"  # …and for one whose tokens read only the last `sliding_window` tokens

_FORWARDS = cache.named("attention-forwards", CACHED_TEXTS)


@dataclass
class Forward:
    """What one forward pass gives every view (kept in the cache, not sent to users)."""

    model: str
    causal: bool
    tokens: list[str]  # what each token decodes to (a piece of a character decodes to "�")
    labels: list[str]  # what the views draw per token: never "�" (segments.readable_tokens)
    segments: list[Segment]  # runs of tokens that make whole characters
    ids: list[int]
    attentions: torch.Tensor  # (layers, query heads, n, n): row = query position, column = key position
    hidden_states: torch.Tensor  # (layers + 1, n, d): embeddings, then each block's output (see logit_lens)
    num_key_value_heads: int  # < num_heads under grouped-query attention (Gemma 3 270M: 1 for 4)
    layer_types: list[str]  # per layer, FULL or SLIDING (Gemma 3 interleaves them; most models are all FULL)
    sliding_window: int | None  # how many tokens up to itself a SLIDING layer's query reads

    @property
    def num_layers(self) -> int:
        return self.attentions.shape[0]

    @property
    def num_heads(self) -> int:
        return self.attentions.shape[1]

    @property
    def num_tokens(self) -> int:
        return self.attentions.shape[-1]


def attn_implementation(loaded: LoadedModel) -> str:
    """'eager' or 'sdpa': part of every cache key, since only eager returns weights."""
    return str(loaded.model.config._attn_implementation)


def encode(loaded: LoadedModel, text: str) -> list[int]:
    """The token ids the model sees (its special tokens included, e.g. BERT's [CLS] … [SEP], Gemma's <bos>)."""
    checks.text(text, "text")
    ids = loaded.tokenizer(text)["input_ids"]
    lm.check_fits(loaded, len(ids), limit=MAX_TOKENS, why="the attention views draw an n × n matrix per head")
    return ids


def forward(loaded: LoadedModel, text: str, progress: Progress | None = None) -> Forward:
    """The attentions and hidden states for `text`: computed once, then read from the cache."""
    ids = encode(loaded, text)
    key = (loaded.name, attn_implementation(loaded), text)
    return _FORWARDS.get(key, lambda: _run(loaded, ids, progress or (lambda fraction, message: None)))


def _run(loaded: LoadedModel, ids: list[int], progress: Progress) -> Forward:
    progress(0.5, i18n.message("One forward pass of {model} over {n} tokens", dict(model=loaded.name, n=len(ids))))
    # lm.forward keeps only the last position's logits: the logit lens gets its own from the hidden states.
    out = lm.forward(loaded, torch.tensor([ids]), output_attentions=True, output_hidden_states=True)
    if not out.attentions or any(a is None for a in out.attentions):
        raise ExplorerError(
            "{model} did not return attention weights: it must be loaded with eager attention "
            '(models.get(name, attn="eager")).',
            model=loaded.name,
        )
    config = loaded.model.config
    num_layers, num_heads = len(out.attentions), out.attentions[0].shape[1]
    layer_types = list(getattr(config, "layer_types", None) or [FULL] * num_layers)
    return Forward(
        model=loaded.name,
        causal=bool(getattr(config, "is_decoder", False) or loaded.spec.kind == "causal"),
        tokens=lm.token_texts(loaded.tokenizer, ids),
        labels=readable_tokens(loaded.tokenizer, ids),
        segments=segments(loaded.tokenizer, ids),
        ids=list(ids),
        attentions=torch.stack(out.attentions)[:, 0].float(),  # (layers, heads, n, n)
        hidden_states=torch.stack(out.hidden_states)[:, 0],  # (layers + 1, n, d)
        num_key_value_heads=int(getattr(config, "num_key_value_heads", None) or num_heads),
        layer_types=layer_types,
        sliding_window=getattr(config, "sliding_window", None) if SLIDING in layer_types else None,
    )


def counterpart_forward(loaded: LoadedModel, text: str, progress: Progress | None = None) -> Forward | None:
    """The same text through the other kind's default model (a masked LM beside a causal one, and
    the reverse), eager so that it returns weights; None when no such model is available here."""
    name = models.counterpart(loaded.spec.kind)
    if name is None:
        return None
    return forward(models.get(name, attn="eager", progress=progress), text, progress)
