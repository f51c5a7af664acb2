"""Where a method's trainable parameters sit: which layer, which kind of module, read from the real modules.

A parameter's name says where it lives: `model.layers.3.self_attn.q_proj.lora_A.default.weight` is in
layer 3, in the attention's query projection (LoRA's A matrix there). Dropping peft's own wrapper
names (`lora_A`, `default`, `base_layer`, ...) leaves the module of the original network it belongs
to. Parameters outside the layers sit at the input (embeddings, virtual tokens) or the output
(final norm, classifier head).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from torch import nn

INPUT, OUTPUT = "input", "output"  # positions before the first layer and after the last
# Name parts that only say how peft wraps a module, not where in the network it is.
WRAPPER_PARTS = frozenset(
    {
        "weight",
        "bias",
        "default",
        "base_layer",
        "base_model",
        "model",
        "modules_to_save",
        "original_module",
        "lora_A",
        "lora_B",
        "lora_E",
        "lora_embedding_A",
        "lora_embedding_B",
        "lora_magnitude_vector",
        "ln_tuning_layers",
        "ia3_l",
        "vera_lambda_b",
        "vera_lambda_d",
    }
)
LAYER_INDEX = re.compile(r"(?:^|\.)(?:layers|h|layer)\.(\d+)\.")
INPUT_HINTS = ("embed", "wte", "wpe", "prompt_encoder")  # what sits before the first layer


@dataclass(frozen=True)
class Location:
    position: str  # INPUT, the layer's index as text ("0", "1", ...), or OUTPUT
    module: str  # the module of the original network, e.g. "self_attn.q_proj", "embed_tokens", "score"


@dataclass
class Placement:
    method: str
    position: str
    module: str
    parameters: int


def location(name: str) -> Location:
    """Where the parameter called `name` sits in the network."""
    found = LAYER_INDEX.search(name)
    rest = name[found.end() :] if found else name
    parts = [part for part in rest.split(".") if part not in WRAPPER_PARTS]
    module = ".".join(parts) or "layer"
    if found:
        return Location(found.group(1), module)
    return Location(INPUT if any(hint in module for hint in INPUT_HINTS) else OUTPUT, module)


def positions(n_layers: int) -> list[str]:
    """Every position in network order: input, each layer, output."""
    return [INPUT, *map(str, range(n_layers)), OUTPUT]


def placement(method: str, model: nn.Module) -> list[Placement]:
    """The trainable parameters of a prepared model, summed per (position, module), in network order."""
    totals: dict[Location, int] = {}
    for name, parameter in model.named_parameters():  # a shared (tied) parameter is counted once
        if parameter.requires_grad:
            where = location(name)
            totals[where] = totals.get(where, 0) + parameter.numel()
    ranked = sorted(totals.items(), key=lambda item: (network_order(item[0].position), item[0].module))
    return [Placement(method, where.position, where.module, count) for where, count in ranked]


def network_order(position: str) -> float:
    """A sort key: the input first, then the layers by index, then the output."""
    return -1 if position == INPUT else float("inf") if position == OUTPUT else int(position)
