"""Houlsby et al.'s bottleneck adapters, written here because peft has none.

(AdapterHub's `adapters` package has them, but it patches transformers' model classes and
lags behind transformers 5.) Each attention block and each feed-forward block of every layer
gets a small residual MLP on its output: x + up(gelu(down(x))), hidden -> bottleneck -> hidden.
`up` starts at zero, so before training the adapted model computes exactly what the model did.
"""

from __future__ import annotations

import torch
from torch import nn

from ..checks import ExplorerError
from ..lm import decoder_layers

ATTENTION_NAMES = ("self_attn", "attn", "attention")
FEED_FORWARD_NAMES = ("mlp", "ffn", "feed_forward", "output")  # BERT: its feed-forward block's output


class BottleneckAdapter(nn.Module):
    def __init__(self, hidden_size: int, bottleneck: int):
        super().__init__()
        self.down = nn.Linear(hidden_size, bottleneck)
        self.act = nn.GELU()
        self.up = nn.Linear(bottleneck, hidden_size)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, n, hidden) -> (batch, n, hidden)
        return x + self.up(self.act(self.down(x)))


def add_bottleneck_adapters(model: nn.Module, bottleneck: int) -> list[BottleneckAdapter]:
    """Attach a fresh adapter to the output of every layer's attention and feed-forward block."""
    added = []
    for layer in decoder_layers(model):
        for block in (_block(layer, ATTENTION_NAMES), _block(layer, FEED_FORWARD_NAMES)):
            block.bottleneck_adapter = BottleneckAdapter(model.config.hidden_size, bottleneck)
            block.register_forward_hook(_apply_adapter)
            added.append(block.bottleneck_adapter)
    return added


def _apply_adapter(block: nn.Module, inputs, output):
    """Forward hook: the block's output (or the first item of the tuple it returns) through its adapter."""
    if isinstance(output, tuple):
        return (block.bottleneck_adapter(output[0]), *output[1:])
    return block.bottleneck_adapter(output)


def _block(layer: nn.Module, names: tuple[str, ...]) -> nn.Module:
    for name in names:
        if isinstance(getattr(layer, name, None), nn.Module):
            return getattr(layer, name)
    raise ExplorerError(
        "Cannot find where to put adapters in {layer} (looked for {names}).",
        layer=type(layer).__name__,
        names=", ".join(names),
    )
