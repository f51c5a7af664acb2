"""The all-heads mosaic has a tile per head, and clicks map back to their tile."""

from __future__ import annotations

from explorer.attention import forward
from explorer.views import attention_mosaic as mosaic

from builders import SAMPLE_TEXT


def test_the_mosaic_has_a_tile_per_head_and_clicks_map_back_to_it(llama):
    run = forward.forward(llama, SAMPLE_TEXT)
    image = mosaic.mosaic_image(run)
    assert image.size == (
        mosaic.LEFT + 4 * (mosaic.TILE + mosaic.GAP),
        mosaic.TOP + 2 * (mosaic.TILE + mosaic.GAP),
    )
    for layer, head in [(0, 0), (29, 8), (7, 3)]:
        y, x = mosaic.mosaic_origin(layer, head)
        assert mosaic.mosaic_cell(x + mosaic.TILE // 2, y + mosaic.TILE // 2, 30, 9) == (layer, head)
    assert mosaic.mosaic_cell(3, 50, 30, 9) is None  # the layer labels' margin
