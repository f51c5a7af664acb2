"""One token, every view: for one position of a text, what each layer predicts there and what it read.

A causal model's position i predicts the token after it. For one such position and one token
(the text's own next token, a generated one, a label word), this reads from the Attention tab's
cached forward of the text (`forward.forward`: hidden states and attention weights together):

1. the logit-lens trajectory: at every hidden state (the embeddings, then each block's output),
   the token's probability and rank, and that state's top 3 (`logit_lens.state_logits`, the one
   reading the logit lens uses);
2. the attention row: how much position i's query read each position up to itself, per layer and
   head: row i of the matrices the Attention tab draws for the same text.

Tokens are compared by id, never by decoded text. Texts that several tabs made from token ids (a
generation, a prompt) are written back as text by `text_of`, so the Attention tab opened on that
text (`attention_link`) reads exactly these tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .. import checks, permalinks
from ..models import LoadedModel, Progress
from ..segments import Segment, token_labels
from .forward import MAX_TOKENS, encode, forward
from .logit_lens import LensPrediction, check_causal, predictions, state_logits

TOP = 3  # guesses kept per layer


@dataclass
class LayerReading:
    layer: int  # the block whose output is read, 0-based as in /attention; -1 = the input embeddings
    prob: float  # the focused token's probability read from this hidden state
    rank: int  # 1 = this state's best guess; the number of tokens at least as likely, itself included
    top: list[LensPrediction]  # this state's TOP best guesses, best first


@dataclass
class TokenFocus:
    """The /token_focus payload (API.md)."""

    model: str
    text: str  # exactly the text read (what the Attention tab link opens)
    tokens: list[str]  # the text's tokens, readable (segments.readable_tokens: never "�")
    token_ids: list[int]
    segments: list[Segment]
    position: int  # the position whose next-token prediction is read (0-based, non-negative)
    token_id: int  # the focused token: what position `position` predicts
    token: str  # the focused token, readable on its own (its text, or its bytes ⟨e5 8f⟩)
    trajectory: list[LayerReading]  # the embeddings, then each layer
    attention: list[list[list[float]]]  # [layer][head][j]: how much the position read position j ≤ position
    num_layers: int
    num_heads: int
    num_key_value_heads: int
    layer_types: list[str]  # per layer: full_attention | sliding_attention
    sliding_window: int | None
    attention_link: str  # the permalink that opens the Attention tab on this text and model


def token_focus(
    loaded: LoadedModel, text: str, position=-1, token_id=-1, progress: Progress | None = None
) -> TokenFocus:
    """The focus on `position` of `text` (-1: the last) and on `token_id` (-1: the text's own next
    token there, or, at the last position, the model's best guess)."""
    check_causal(loaded)
    run = forward(loaded, text, progress)
    n = run.num_tokens
    position = checks.number(position, "position", -n, n - 1, integer=True) % n
    states = run.hidden_states[:, position]  # (layers + 1, d)
    with torch.inference_mode():  # two calls of the head, each reading its weights once for every layer
        logits = torch.cat(
            [state_logits(loaded, states[:-1], False), state_logits(loaded, states[-1:], True)]
        )  # (layers + 1, vocab)
    token_id = _target(run.ids, position, token_id, logits[-1])
    probs = logits.softmax(-1)  # (layers + 1, vocab)
    target = probs[:, token_id]  # (layers + 1,)
    ranks = (probs >= target[:, None]).sum(-1)  # (layers + 1,): ties count against the token
    best, best_ids = probs.topk(TOP, dim=-1)  # (layers + 1, TOP) each
    return TokenFocus(
        model=run.model,
        text=text,
        tokens=run.labels,
        token_ids=run.ids,
        segments=run.segments,
        position=position,
        token_id=token_id,
        token=token_labels(loaded.tokenizer, [token_id])[0],
        trajectory=_trajectory(loaded, target, ranks, best, best_ids),
        attention=run.attentions[:, :, position, : position + 1].tolist(),  # (layers, heads, position + 1)
        num_layers=run.num_layers,
        num_heads=run.num_heads,
        num_key_value_heads=run.num_key_value_heads,
        layer_types=run.layer_types,
        sliding_window=run.sliding_window,
        attention_link=permalinks.link("attention", text=text, model=loaded.name),
    )


def _target(ids: list[int], position: int, token_id, last_logits: torch.Tensor) -> int:
    """The focused token: `token_id`, or (-1) the text's next token, or the model's guess at the end."""
    token_id = checks.number(token_id, "token_id", -1, last_logits.shape[-1] - 1, integer=True)
    if token_id >= 0:
        return token_id
    return ids[position + 1] if position + 1 < len(ids) else int(last_logits.argmax())


def _trajectory(
    loaded: LoadedModel, target: torch.Tensor, ranks: torch.Tensor, best: torch.Tensor, best_ids: torch.Tensor
) -> list[LayerReading]:
    """Per hidden state, the token's probability and rank and the state's best guesses."""
    tops = predictions(loaded, best[:, None], best_ids[:, None])  # [state][one position][TOP]
    return [
        LayerReading(layer=index - 1, prob=prob, rank=rank, top=top[0])
        for index, (prob, rank, top) in enumerate(zip(target.tolist(), ranks.tolist(), tops))
    ]


# ---------------------------------------------------------------- texts that were token ids


def text_of(loaded: LoadedModel, ids: Sequence[int]) -> str:
    """The text whose encoding, as the Attention tab encodes a text (the tokenizer's own start
    added, e.g. Gemma's <bos>), gives `ids`, where one does: the ids without that start, decoded
    with their special tokens (SmolLM2's document start <|endoftext|> is spelled in the text)."""
    added = loaded.tokenizer("")["input_ids"]
    start = len(added) if added and list(ids[: len(added)]) == added else 0
    return loaded.tokenizer.decode(list(ids[start:]), clean_up_tokenization_spaces=False)


def focus_on_ids(loaded: LoadedModel, ids: Sequence[int], position: int, token_id=-1, progress=None) -> TokenFocus:
    """The focus on position `position` of tokens a tab fed the model (a generation, a prompt).

    The whole sequence is read as one text, so that every position's focus re-reads one cached
    forward (a causal position never sees what comes after it). Where that text encodes to other
    ids, or is too long for the attention views, only the tokens up to the position are read."""
    ids = list(ids)
    text = text_of(loaded, ids)
    if len(ids) > MAX_TOKENS or encode(loaded, text) != ids:
        text, position = text_of(loaded, ids[: position + 1]), -1
    return token_focus(loaded, text, position, token_id, progress)
