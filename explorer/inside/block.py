"""The notes' Transformer block beside the real model's, its parameters counted, and the residual stream.

The notes' block (the original Transformer): x + sinusoidal positions → multi-head attention →
add the input, then LayerNorm (post-LN) → a ReLU feed-forward → add, then LayerNorm. Today's
decoders (SmolLM2, Gemma 3) normalise *before* each sublayer (pre-norm) with RMSNorm, use a gated
feed-forward (SwiGLU / GeGLU), rotate q and k (RoPE) instead of adding positions, and let several
query heads share keys and values (grouped-query attention).

The model's diagram is read from its first layer's modules, in the order its forward calls them
(that order is in each family's code, written down in FLOWS). The parameter count walks every
parameter of the model once (tied weights are one parameter) and files it under a component, so
the components sum to `model.num_parameters()`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..checks import ExplorerError
from ..lm import decoder_layers, final_norm
from ..models import LoadedModel
from .anatomy import attention_module, layer_attention, num_layers
from .flow import FLOWS, Box, box, differences, embedding_box, notes_block
from .trace import trace


@dataclass
class Part:
    name: str  # the parameter's name inside its component, e.g. "self_attn.q_proj.weight"
    shape: list[int]
    params: int


@dataclass
class Component:
    name: str  # "embedding", "layer 0" … "layer L-1", "final norm", "LM head"
    params: int
    groups: dict[str, int]  # inside a layer: attention, norms, mlp
    parts: list[Part]


@dataclass
class Block:
    """The /block payload."""

    model: str
    family: str
    notes: list[Box]  # the notes' block, top to bottom
    layer: list[Box]  # what enters the stack, then the model's block (its first layer), top to bottom
    differences: list[dict[str, str]]  # {"aspect", "notes", "model"}
    components: list[Component]
    total: int  # Σ components' params
    num_parameters: int  # model.num_parameters(): equal to `total`
    tied: bool  # the LM head reuses the embedding matrix
    tokens: list[str]
    labels: list[str]  # the tokens as the figures draw them, never "�" (segments.readable_tokens; an addition)
    residual_norms: list[list[float]]  # (layers + 1, n): ‖x‖ entering layer 0, then after each block
    residual_mean: list[float]  # (layers + 1,): mean over positions


def block(lm: LoadedModel, text: str) -> Block:
    num_layers(lm)  # refuses an unsupported architecture
    layers = decoder_layers(lm.model)
    family = attention_module(layers[0])[0]
    attn = layer_attention(lm, 0)
    run = trace(lm, text)
    components = count_parameters(lm)
    output, embedding = lm.model.get_output_embeddings(), lm.model.get_input_embeddings()
    norms = run.residual_norms  # (layers + 1, n)
    return Block(
        model=lm.name,
        family=family,
        notes=notes_block(),
        layer=[embedding_box(lm)] + [box(lm, layers[0], step, attn) for step in FLOWS[family]],
        differences=differences(lm, family, attn),
        components=components,
        total=sum(c.params for c in components),
        num_parameters=lm.model.num_parameters(),
        tied=output is not None and output.weight is embedding.weight,
        tokens=run.tokens,
        labels=run.labels,
        residual_norms=norms.tolist(),
        residual_mean=norms.mean(-1).tolist(),
    )


def _role(inner: str) -> str:
    """Which part of a layer a parameter belongs to, from its name inside the layer."""
    module = inner.rsplit(".", 1)[0]  # drop ".weight" / ".bias"
    last = module.split(".")[-1]
    if last in ("q_norm", "k_norm"):
        return "attention"  # Gemma 3's per-head norms live inside self_attn
    if "norm" in last.lower() or last.startswith("ln_"):
        return "norms"
    if module.split(".")[0] in ("self_attn", "attn", "attention"):
        return "attention"
    return "mlp"


def _prefix(model, module) -> str | None:
    return next((name for name, m in model.named_modules() if m is module), None)


def count_parameters(lm: LoadedModel) -> list[Component]:
    """Every parameter, once, under embedding / layer i (attention, norms, mlp) / final norm / LM head."""
    model = lm.model
    layers = decoder_layers(model)
    layers_prefix = _prefix(model, layers) + "."
    try:
        norm_prefix = _prefix(model, final_norm(model)) + "."
    except ExplorerError:  # post-LN encoders (BERT) end on their last block's own LayerNorm
        norm_prefix = None
    base_prefix = _prefix(model, model.base_model)
    base_prefix = base_prefix + "." if base_prefix else ""
    components = {"embedding": Component("embedding", 0, {}, [])}
    components.update({f"layer {i}": Component(f"layer {i}", 0, {}, []) for i in range(len(layers))})
    for name, parameter in model.named_parameters():  # each tied parameter once
        if name.startswith(layers_prefix):
            index, inner = name[len(layers_prefix) :].split(".", 1)
            key, part_name, group = f"layer {index}", inner, _role(inner)
        elif norm_prefix and name.startswith(norm_prefix):
            key, part_name, group = "final norm", name[len(norm_prefix) :], None
        elif name.startswith(base_prefix):
            key, part_name, group = "embedding", name[len(base_prefix) :], None
        else:
            key, part_name, group = "LM head", name, None
        component = components.setdefault(key, Component(key, 0, {}, []))
        count = parameter.numel()
        component.params += count
        component.parts.append(Part(part_name, list(parameter.shape), count))
        if group:
            component.groups[group] = component.groups.get(group, 0) + count
    return list(components.values())
