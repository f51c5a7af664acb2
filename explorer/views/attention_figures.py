"""The Attention tab's heatmaps (one head, a layer's heads, head patterns) and the token labels every
tab's attention-like figure shares. The all-heads mosaic is `attention_mosaic.py`, the logit-lens table
`attention_lens.py`, the notes beside the heatmaps `attention_notes.py`."""

from __future__ import annotations

import html
import math

import plotly.graph_objects as go

from ..attention import patterns
from ..attention.forward import Forward
from .common import t

# ---------------------------------------------------------------- labels


def token_label(token: str) -> str:
    """A token as a label: newlines and tabs made visible, a token of spaces shown as ␣, never empty."""
    token = token.replace("\n", "↵").replace("\t", "⇥")
    return (token.replace(" ", "␣") if not token.strip() else token) or "∅"


def axis_labels(tokens: list[str]) -> list[str]:
    """Unique labels (plotly merges equal category labels), escaped (plotly reads tags in labels).
    Pass readable labels (`Forward.labels`): a piece of a character is then '·', never "�"."""
    return [html.escape(f"{token_label(token)} ·{i}", quote=False) for i, token in enumerate(tokens)]


def head_title(run: Forward, head: int) -> str:
    if head == -1:
        return t("attention.head_mean", heads=run.num_heads)
    if run.num_key_value_heads < run.num_heads:
        return t("attention.head_in_group", head=head, group=patterns.kv_group(run, head))
    return t("attention.head_n", head=head)


def weight_hover(digits: int, head: str = "") -> str:
    """Plotly's hover for an attention heatmap: (head,) query, key and weight, in the request's language."""
    query, key, weight = t("attention.query"), t("attention.key"), t("attention.weight")
    return f"{head}{query} %{{y}}<br>{key} %{{x}}<br>{weight} %{{z:.{digits}f}}<extra></extra>"


# ---------------------------------------------------------------- figures


def heatmap_figure(run: Forward, layer: int, head: int, title: str | None = None, height: int = 560) -> go.Figure:
    labels = axis_labels(run.labels)
    figure = go.Figure(
        go.Heatmap(
            z=patterns.weights(run, layer, head).numpy(),
            x=labels,
            y=labels,
            colorscale="Viridis",
            zmin=0,
            hovertemplate=weight_hover(5),
            colorbar_title=t("attention.weight"),
        )
    )
    kind = t("attention.kind.causal") if run.causal else t("attention.kind.bidirectional")
    if patterns.is_banded(run, layer):
        kind = t("attention.kind.band", window=patterns.window(run, layer))
    figure.update_layout(
        title=title
        or t("attention.heatmap_title", model=run.model, layer=layer, head=head_title(run, head), kind=kind),
        height=height,
        margin=dict(l=10, r=10, t=50, b=10),
    )
    figure.update_yaxes(autorange="reversed", title=t("attention.query_axis"))
    figure.update_xaxes(title=t("attention.key_axis"), tickangle=-60)
    return figure


def grid(count: int, cols: int, titles: list[str], gap: float = 0.02) -> tuple[list[str], dict]:
    """Axis ids and a layout placing `count` panels in a grid with a title above each. By hand rather
    than plotly's make_subplots, which takes ~100 ms for 9 panels: too slow for switching heads."""
    rows = math.ceil(count / cols)
    ids, layout, annotations = [], {}, []
    for index in range(count):
        row, col = divmod(index, cols)
        suffix = str(index + 1) if index else ""
        x = [col / cols + gap, (col + 1) / cols - gap]
        y = [1 - (row + 1) / rows + gap, 1 - row / rows - 2.5 * gap]
        layout[f"xaxis{suffix}"] = dict(domain=x, anchor=f"y{suffix}")
        layout[f"yaxis{suffix}"] = dict(domain=y, anchor=f"x{suffix}", autorange="reversed")
        annotations.append(
            dict(
                text=titles[index],
                x=sum(x) / 2,
                y=y[1],
                xref="paper",
                yref="paper",
                xanchor="center",
                yanchor="bottom",
                showarrow=False,
                font_size=12,
            )
        )
        ids.append(suffix)
    layout["annotations"] = annotations
    return ids, layout


def heads_figure(run: Forward, layer: int, head: int) -> go.Figure:
    """All heads of one layer side by side, sharing one colour scale."""
    cols = math.ceil(math.sqrt(run.num_heads))
    titles = [("▶ " if h == head else "") + head_title(run, h) for h in range(run.num_heads)]
    ids, layout = grid(run.num_heads, cols, titles)
    labels = axis_labels(run.labels)
    traces = [
        dict(
            type="heatmap",
            z=run.attentions[layer, h].numpy(),
            x=labels,
            y=labels,
            coloraxis="coloraxis",
            xaxis=f"x{suffix}",
            yaxis=f"y{suffix}",
            hovertemplate=weight_hover(4, head=t("attention.head_n", head=h) + "<br>"),
        )
        for h, suffix in enumerate(ids)
    ]
    for key in layout:
        if key.startswith(("xaxis", "yaxis")):
            layout[key]["showticklabels"] = False
    rows = math.ceil(run.num_heads / cols)
    return go.Figure(
        data=traces,
        layout=dict(
            layout,
            title=t("attention.heads_title", layer=layer),
            coloraxis=dict(colorscale="Viridis", cmin=0),
            height=230 * rows + 60,
            margin=dict(l=10, r=10, t=60, b=10),
            font_size=11,
        ),
    )


def patterns_figure(run: Forward) -> go.Figure:
    """Layers × heads: how much each head reads the first, the previous and its own token."""
    found = patterns.head_patterns(run)
    panels = [
        (t("attention.pattern.first"), found.first_token),
        (t("attention.pattern.previous"), found.previous_token),
        (t("attention.pattern.same"), found.same_token),
    ]
    layer, head = t("attention.layer"), t("attention.head")
    where = f"{layer} %{{y}}, {head} %{{x}}<br>"
    ids, layout = grid(len(panels), len(panels), [name for name, _ in panels], gap=0.015)
    traces = [
        dict(
            type="heatmap",
            z=values,
            coloraxis="coloraxis",
            xaxis=f"x{suffix}",
            yaxis=f"y{suffix}",
            hovertemplate=where + t("attention.pattern_hover", name=name) + ": %{z:.3f}<extra></extra>",
        )
        for (name, values), suffix in zip(panels, ids)
    ]
    for suffix in ids:
        layout[f"xaxis{suffix}"].update(title=head, dtick=1)
    layout["yaxis"]["title"] = layer
    return go.Figure(
        data=traces,
        layout=dict(
            layout,
            title=t("attention.patterns_title"),
            coloraxis=dict(colorscale="Viridis", cmin=0, cmax=1, colorbar_title=t("attention.weight")),
            height=max(320, 14 * run.num_layers + 120),
            margin=dict(l=10, r=10, t=70, b=40),
        ),
    )
