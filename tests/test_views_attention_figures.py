"""The Attention tab's heatmaps draw the computed weights; axis labels are unique, visible and escaped."""

from __future__ import annotations

import torch

from explorer.attention import forward
from explorer.views import attention_figures as figures

from builders import SAMPLE_TEXT


def test_heatmaps_draw_the_computed_weights(gemma):
    run = forward.forward(gemma, SAMPLE_TEXT)
    figure = figures.heatmap_figure(run, 1, 2)
    assert torch.allclose(torch.tensor(figure.data[0].z), run.attentions[1, 2], atol=1e-6)
    assert "layer 1, head 2 (key/value group 0)" in figure.layout.title.text
    assert "sliding window of 8: a band" in figure.layout.title.text
    assert "causal: lower-triangular" in figures.heatmap_figure(run, 2, -1).layout.title.text
    heads = figures.heads_figure(run, 0, 3)
    assert len(heads.data) == 4 and torch.allclose(torch.tensor(heads.data[3].z), run.attentions[0, 3])
    assert len(figures.patterns_figure(run).data) == 3


def test_axis_labels_are_unique_visible_and_escaped():
    assert figures.axis_labels(["a", "a", " ", "\n", "<b>", ""]) == [
        "a ·0",
        "a ·1",
        "␣ ·2",
        "↵ ·3",
        "&lt;b&gt; ·4",
        "∅ ·5",
    ]
