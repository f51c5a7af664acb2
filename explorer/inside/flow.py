"""The boxes of a block diagram: the notes' block, and the real model's read from its modules.

FLOWS lists, per family, the modules of one layer in the order its forward calls them (None: the
residual add), each with its kind and, where the module alone does not say, a label. Each box's
details and parameter count come from the module itself. The labels and details are messages,
written in the language of the request being served (translations: locales/*/messages/inside.json).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .. import i18n
from ..models import LoadedModel
from .anatomy import LayerAttention
from .positions import scheme, scheme_name

FLOWS: dict[str, list[tuple[str | None, str] | tuple[str, str, str]]] = {
    "llama": [
        ("input_layernorm", "norm"),
        ("self_attn", "attention"),
        (None, "residual"),
        ("post_attention_layernorm", "norm"),
        ("mlp", "mlp"),
        (None, "residual"),
    ],
    "gemma3": [
        ("input_layernorm", "norm"),
        ("self_attn", "attention"),
        ("post_attention_layernorm", "norm"),
        (None, "residual"),
        ("pre_feedforward_layernorm", "norm"),
        ("mlp", "mlp"),
        ("post_feedforward_layernorm", "norm"),
        (None, "residual"),
    ],
    "gpt2": [
        ("ln_1", "norm"),
        ("attn", "attention"),
        (None, "residual"),
        ("ln_2", "norm"),
        ("mlp", "mlp"),
        (None, "residual"),
    ],
    "bert": [
        ("attention.self", "attention"),
        ("attention.output.dense", "attention", "output projection W_O"),  # labels are messages
        (None, "residual"),
        ("attention.output.LayerNorm", "norm"),
        ("intermediate", "mlp"),
        ("output.dense", "mlp", "feed-forward, second layer"),
        (None, "residual"),
        ("output.LayerNorm", "norm"),
    ],
}
NORM_PLACEMENT = {  # messages
    "llama": "pre-norm: normalise each sublayer's input; the residual stream itself is never normalised",
    "gemma3": "pre-norm and post-norm (a sandwich): each sublayer's input and output are normalised, the stream is not",
    "gpt2": "pre-norm (GPT-2 moved the LayerNorm before each sublayer)",
    "bert": "post-LN, as in the notes",
}


@dataclass
class Box:
    label: str  # what it computes
    module: str  # its path inside the layer ("" for the notes' block and the residual adds)
    kind: str  # "norm", "attention", "mlp", "residual" or "position"
    detail: str
    params: int


def _said(template: str, **params) -> str:
    """A message template in the request's language (English where it has no translation)."""
    return i18n.message(template, params)


def notes_block() -> list[Box]:
    residual, post_ln = _said("⊕ residual"), _said("LayerNorm (post-LN)")
    return [
        Box(
            _said("embedding + sinusoidal positions"),
            "",
            "position",
            _said("x = E[token] + PE(p), added once, below the stack"),
            0,
        ),
        Box(
            _said("multi-head attention"),
            "",
            "attention",
            _said("h heads, each with its own W_Q, W_K, W_V (d × d/h); W_O"),
            0,
        ),
        Box(residual, "", "residual", "x + Attention(x)", 0),
        Box(post_ln, "", "norm", _said("after the add: subtract the mean, divide by the std, γ and β"), 0),
        Box(_said("feed-forward, ReLU"), "", "mlp", "W₂ ReLU(W₁ x + b₁) + b₂, d → 4d → d", 0),
        Box(residual, "", "residual", "x + FFN(x)", 0),
        Box(post_ln, "", "norm", _said("after the add"), 0),
    ]


def embedding_box(lm: LoadedModel) -> Box:
    """What enters the first block: token embeddings, plus positions where the model adds them."""
    module = lm.model.get_input_embeddings()
    positions, _ = scheme(lm)
    scaled = " " + _said("× √d (Gemma scales its embeddings)") if hasattr(module, "embed_scale") else ""
    learned = positions == "learned absolute"
    label = _said("token embedding + learned positions") if learned else _said("token embedding")
    where = (
        _said("positions: RoPE inside every attention, nothing added here")
        if positions == "rotary"
        else _said("positions: {scheme}", scheme=scheme_name(positions))
    )
    detail = f"{type(module).__name__} {tuple(module.weight.shape)}{scaled}; {where}"
    return Box(label, "", "position", detail, module.weight.numel())


def _params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _shapes(module: nn.Module) -> str:
    return ", ".join(f"{name} {tuple(p.shape)}" for name, p in module.named_parameters())


def activation(config) -> str:
    return str(
        getattr(config, "hidden_act", None)
        or getattr(config, "hidden_activation", None)
        or getattr(config, "activation_function", "?")
    )


def mlp_kind(config, module: nn.Module) -> str:
    act = activation(config)
    if hasattr(module, "gate_proj"):
        if act in ("silu", "swish"):
            gate = "SwiGLU"
        elif act.startswith("gelu"):
            gate = "GeGLU"
        else:
            gate = _said("gated {act}", act=act)
        return f"{gate}: down({act}(gate(x)) ⊙ up(x))"
    return _said("{act} feed-forward (not gated)", act=act)


def attention_label(attn: LayerAttention) -> str:
    if attn.num_kv_heads == 1:
        return _said("grouped-query attention: {heads} query heads share 1 key/value head", heads=attn.num_heads)
    if attn.num_kv_heads < attn.num_heads:
        return _said(
            "grouped-query attention: {heads} query heads share {kv} key/value heads",
            heads=attn.num_heads,
            kv=attn.num_kv_heads,
        )
    return _said("multi-head attention: {heads} heads", heads=attn.num_heads)


def box(lm: LoadedModel, layer: nn.Module, step: tuple, attn: LayerAttention) -> Box:
    """One step of FLOWS as a box: (path, kind) or (path, kind, label)."""
    path, kind = step[:2]
    if path is None:
        return Box(_said("⊕ residual"), "", "residual", _said("add the sublayer's output to the stream"), 0)
    module = layer.get_submodule(path)
    name = type(module).__name__
    if len(step) == 3:
        return Box(_said(step[2]), path, kind, f"{name}: {_shapes(module)}", _params(module))
    if kind == "norm":
        label = "RMSNorm" if "RMS" in name else "LayerNorm"
        return Box(label, path, kind, f"{name}: {_shapes(module)}", _params(module))
    if kind == "attention":
        extras = [f"d_k = {attn.head_dim}", _said("scale {scale:.4g}", scale=attn.scale)]
        extras += [_said("RoPE on q, k")] if attn.rotary else []
        extras += [_said("RMSNorm on each head's q and k")] if attn.q_norm is not None else []
        extras += [_said("sliding window {window}", window=attn.sliding_window)] if attn.sliding_window else []
        return Box(attention_label(attn), path, kind, f"{', '.join(extras)}; {_shapes(module)}", _params(module))
    return Box(mlp_kind(lm.model.config, module), path, kind, f"{name}: {_shapes(module)}", _params(module))


def differences(lm: LoadedModel, family: str, attn: LayerAttention) -> list[dict[str, str]]:
    """The notes' choices beside this model's, aspect by aspect."""
    config = lm.model.config
    norm = next(m for name, m in lm.model.named_modules() if name.endswith(("layernorm", "ln_1", "LayerNorm")))
    mlp = next(m for name, m in lm.model.named_modules() if name.endswith((".mlp", ".intermediate")))
    positions, evidence = scheme(lm)
    biases = any(isinstance(getattr(m, "bias", None), torch.Tensor) for m in (*attn.module.modules(), attn.out_proj))
    rows = [  # the aspect is a name (the views translate it); the notes' choice and the model's are messages
        ("norm placement", _said("post-LN: after each residual add"), _said(NORM_PLACEMENT[family])),
        ("norm", _said("LayerNorm (mean and variance, γ and β)"), type(norm).__name__),
        ("feed-forward", "ReLU, d → 4d → d", mlp_kind(config, mlp)),
        ("positions", _said("sinusoidal, added to the embeddings"), f"{scheme_name(positions)}: {evidence}"),
        ("attention", _said("multi-head: every head has its own keys and values"), attention_label(attn)),
        ("biases in attention", _said("yes"), _said("yes") if biases else _said("no")),
    ]
    return [{"aspect": a, "notes": n, "model": m} for a, n, m in rows]
