"""The pre-trained weights θ₀ as an anchor: L2-SP's pull towards them, EWC's weighted pull, and drift.

L2-SP (Li et al., 2018) adds λ/2·‖θ − θ₀‖² to the task's loss; its gradient λ(θ − θ₀) pulls every
pre-trained weight back towards where it started, harder the further it strays. EWC (Kirkpatrick
et al., 2017) weighs each weight's pull by how much the old task needs it, the diagonal of the
Fisher information: here the mean squared gradient of the language-modelling loss on windows of
general text at θ₀, normalised to mean 1 so that λ means the same average pull as in L2-SP.

θ₀ costs no memory: training clones the tensors it changes (`training.own_trainable_copies`), and the
originals are the cached model's own, which stay untouched. Drift ‖θ − θ₀‖ is measured per layer;
for LoRA, whose base weights never move, it is the norm of the update B·A·scale it adds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from peft.tuners.lora import LoraLayer
from torch import nn

from ..models import LoadedModel
from .methods import Prepared
from .placement import location, positions
from .replay import language_modelling_loss


@dataclass(frozen=True)
class Anchor:
    parameter: nn.Parameter  # the weight being trained
    start: torch.Tensor  # θ₀: the cached model's tensor it started as


def capture(prepared: Prepared, lm: LoadedModel) -> dict[str, Anchor]:
    """Every trainable pre-trained weight and the tensor it starts from. Call it BEFORE
    `own_trainable_copies`: the anchors then keep the cached model's tensors, the model its clones."""
    shared = {p.data_ptr() for p in lm.model.parameters()}
    return {
        name: Anchor(parameter, parameter.data)
        for name, parameter in prepared.model.named_parameters()
        if parameter.requires_grad and parameter.data_ptr() in shared
    }


def penalty(anchors: dict[str, Anchor], strength: float, fisher: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
    """λ/2 · Σ F·(θ − θ₀)² over the anchored weights (F = 1 everywhere: L2-SP; a diagonal Fisher: EWC)."""
    total = torch.zeros(())
    for name, anchor in anchors.items():
        squared = (anchor.parameter - anchor.start).pow(2)  # same shape as the weight
        total = total + (squared * fisher[name] if fisher else squared).sum()
    return strength / 2 * total


def diagonal_fisher(
    model: nn.Module, lm: LoadedModel, anchors: dict[str, Anchor], texts: Sequence[torch.Tensor]
) -> dict[str, torch.Tensor]:
    """Mean squared gradient of the LM loss, one window of general text at a time, normalised to mean 1.
    Run it at θ₀ (before training)."""
    squares = {name: torch.zeros_like(anchor.start) for name, anchor in anchors.items()}
    for window in texts:  # each (n,): one sample, one gradient
        model.zero_grad(set_to_none=True)
        language_modelling_loss(model, lm, window[None]).backward()
        for name, anchor in anchors.items():
            if anchor.parameter.grad is not None:
                squares[name] += anchor.parameter.grad.pow(2) / len(texts)
    model.zero_grad(set_to_none=True)
    count = sum(square.numel() for square in squares.values())
    mean = max(sum(square.sum().item() for square in squares.values()) / count, 1e-30)
    return {name: square / mean for name, square in squares.items()}


@torch.no_grad()
def drift(model: nn.Module, anchors: dict[str, Anchor], n_layers: int) -> list[float]:
    """‖θ − θ₀‖ at each position of `placement.positions(n_layers)` (input, every layer, output)."""
    squares = dict.fromkeys(positions(n_layers), 0.0)
    for name, anchor in anchors.items():
        squares[location(name).position] += (anchor.parameter - anchor.start).pow(2).sum().item()
    for name, module in model.named_modules():
        if isinstance(module, LoraLayer):
            for adapter in module.active_adapters:
                update = module.get_delta_weight(adapter)  # (out, in): B·A·scale
                squares[location(f"{name}.weight").position] += update.pow(2).sum().item()
    return [math.sqrt(value) for value in squares.values()]
