"""The Attention tab's all-heads mosaic: every layer's every head as a small tile of one image, and
the click on a tile mapped back to its (layer, head)."""

from __future__ import annotations

import numpy as np
import plotly.colors
from PIL import Image, ImageDraw

from ..attention.forward import Forward

TILE, GAP, LEFT, TOP = 40, 2, 30, 16  # the all-heads mosaic's geometry, in pixels
VIRIDIS = np.array(
    [plotly.colors.unlabel_rgb(c) for c in plotly.colors.sample_colorscale("Viridis", 256)], dtype=np.uint8
)


def mosaic_image(run: Forward) -> Image.Image:
    """Every layer's every head as a small tile (rows = layers, columns = heads), colour = √weight so
    faint patterns show. One image rather than hundreds of plots: it draws instantly and can be clicked."""
    width = LEFT + run.num_heads * (TILE + GAP)
    height = TOP + run.num_layers * (TILE + GAP)
    canvas = np.full((height, width, 3), 255, dtype=np.uint8)
    n = run.attentions.shape[-1]
    resample = Image.Resampling.NEAREST if n <= TILE else Image.Resampling.BOX
    root = run.attentions.sqrt().numpy()
    for layer in range(run.num_layers):
        for head in range(run.num_heads):
            tile = Image.fromarray(root[layer, head], mode="F").resize((TILE, TILE), resample)
            shade = (np.asarray(tile) * 255).clip(0, 255).astype(np.uint8)
            y, x = mosaic_origin(layer, head)
            canvas[y : y + TILE, x : x + TILE] = VIRIDIS[shade]
    image = Image.fromarray(canvas)
    draw = ImageDraw.Draw(image)
    for head in range(run.num_heads):
        draw.text((mosaic_origin(0, head)[1] + TILE // 2 - 6, 2), f"H{head}", fill=(60, 60, 60))
    for layer in range(run.num_layers):
        draw.text((2, mosaic_origin(layer, 0)[0] + TILE // 2 - 6), f"L{layer}", fill=(60, 60, 60))
    return image


def mosaic_origin(layer: int, head: int) -> tuple[int, int]:
    return TOP + layer * (TILE + GAP), LEFT + head * (TILE + GAP)


def mosaic_cell(x: int, y: int, num_layers: int, num_heads: int) -> tuple[int, int] | None:
    """The (layer, head) whose tile holds pixel (x, y), or None for the margins."""
    layer, head = (y - TOP) // (TILE + GAP), (x - LEFT) // (TILE + GAP)
    if x < LEFT or y < TOP or not (0 <= layer < num_layers and 0 <= head < num_heads):
        return None
    return layer, head
