"""One forward of a text, recorded at every layer by hooks on the real modules.

A forward pre-hook on each layer's attention module catches what it is called with: the hidden
states after the layer's input norm and, for rotary models, RoPE's (cos, sin) for these
positions. A forward hook on each layer catches the residual stream it hands on. The model's
own attention weights come from the same forward (eager attention, `output_attentions=True`).
Everything else in this package is recomputed by hand from these inputs and the module weights.

The model object is shared by every request, so a hook records only the forward of the thread
that registered it, and is removed when that forward ends.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from .. import cache, checks
from ..checks import ExplorerError
from ..lm import check_fits, decoder_layers, token_texts
from ..models import LoadedModel
from ..segments import readable_tokens
from .anatomy import attention_module, num_layers

MAX_TOKENS = 128  # the step view draws n × n and n × d matrices at every step
TRACES = cache.named("inside-trace", 4)


@dataclass
class Trace:
    """What one forward records (kept in the cache, not sent to users)."""

    model: str
    ids: list[int]
    tokens: list[str]  # what each token decodes to (a piece of a character decodes to "�")
    labels: list[str]  # what the figures draw per token: never "�" (segments.readable_tokens)
    attention_inputs: list[torch.Tensor]  # per layer, (n, d): hidden states entering attention (after the input norm)
    rotations: list[tuple[torch.Tensor, torch.Tensor] | None]  # per layer, RoPE's (cos, sin), each (n, d_k)
    attentions: list[torch.Tensor]  # per layer, (heads, n, n): the model's own softmax weights
    residual_norms: torch.Tensor  # (layers + 1, n): ‖x‖ entering layer 0, then after each block


def encode(lm: LoadedModel, text: str) -> list[int]:
    """The ids the model sees (its own special tokens included, as in the Attention tab)."""
    checks.text(text, "text")
    ids = lm.tokenizer(text)["input_ids"]
    check_fits(lm, len(ids), limit=MAX_TOKENS, why="this tab draws n × n matrices at every step")
    return ids


def trace(lm: LoadedModel, text: str) -> Trace:
    """The recorded forward for `text`: run once, then read from the cache."""
    ids = encode(lm, text)
    num_layers(lm)  # refuses an unsupported architecture before running anything
    return TRACES.get(key(lm, text), lambda: _record(lm, ids))


def key(lm: LoadedModel, text: str) -> tuple:
    """A cache key for what is computed from this model's forward of `text` (eager and sdpa copies
    of a model share its name, but only the eager one returns attention weights)."""
    return (lm.name, getattr(lm.model.config, "_attn_implementation", None), text)


def _record(lm: LoadedModel, ids: list[int]) -> Trace:
    layers = decoder_layers(lm.model)
    inputs: dict[int, tuple] = {}
    outputs: dict[int, torch.Tensor] = {}
    with _hooks(layers, inputs, outputs), torch.inference_mode():
        out = lm.model.base_model(input_ids=torch.tensor([ids]), output_attentions=True)
    if not out.attentions or any(a is None for a in out.attentions):
        raise ExplorerError(
            "{model} did not return its attention weights: load it with eager attention "
            '(models.get(name, attn="eager")).',
            model=lm.name,
        )
    stream = [inputs["stream"]] + [outputs[i] for i in range(len(layers))]  # each (n, d)
    return Trace(
        model=lm.name,
        ids=list(ids),
        tokens=token_texts(lm.tokenizer, ids),
        labels=readable_tokens(lm.tokenizer, ids),
        attention_inputs=[inputs[i][0] for i in range(len(layers))],
        rotations=[inputs[i][1] for i in range(len(layers))],
        attentions=[a[0].float() for a in out.attentions],
        residual_norms=torch.stack(stream).float().norm(dim=-1),
    )


@contextmanager
def _hooks(layers, inputs: dict, outputs: dict):
    """Record, for this thread's forward only: each attention's input and RoPE angles (inputs[i]),
    the stream entering layer 0 (inputs["stream"]) and each layer's output (outputs[i])."""
    owner = threading.get_ident()
    handles = []

    def mine() -> bool:
        return threading.get_ident() == owner

    def attention_input(index):
        def hook(module, args, kwargs):
            if mine():
                hidden = args[0] if args else kwargs["hidden_states"]  # (1, n, d)
                rotation = kwargs.get("position_embeddings")  # (cos, sin), each (1, n, d_k), or None
                inputs[index] = (hidden[0].float(), None if rotation is None else tuple(t[0].float() for t in rotation))

        return hook

    def layer_output(index):
        def hook(module, args, output):
            if mine():
                outputs[index] = (output[0] if isinstance(output, tuple) else output)[0]  # (n, d)

        return hook

    def stream_input(module, args, kwargs):
        if mine():
            inputs["stream"] = (args[0] if args else kwargs["hidden_states"])[0]  # (n, d)

    try:
        handles.append(layers[0].register_forward_pre_hook(stream_input, with_kwargs=True))
        for index, layer in enumerate(layers):
            module = attention_module(layer)[1]
            handles.append(module.register_forward_pre_hook(attention_input(index), with_kwargs=True))
            handles.append(layer.register_forward_hook(layer_output(index)))
        yield
    finally:
        for handle in handles:
            handle.remove()
