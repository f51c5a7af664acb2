"""The Attention tab's pictures: heatmaps (one head, a layer's heads, head patterns), the all-heads
mosaic, the logit-lens table, and the notes on key/value sharing and sliding windows beside them."""

from __future__ import annotations

import html
import math

import numpy as np
import plotly.colors
import plotly.graph_objects as go
from PIL import Image, ImageDraw

from ..attention import logit_lens, patterns
from ..attention.forward import MAX_TOKENS, Forward
from ..attention.logit_lens import LogitLens

TILE, GAP, LEFT, TOP = 40, 2, 30, 16  # the all-heads mosaic's geometry, in pixels
VIRIDIS = np.array(
    [plotly.colors.unlabel_rgb(c) for c in plotly.colors.sample_colorscale("Viridis", 256)], dtype=np.uint8
)
GQA_NOTE = """**Grouped-query attention:** {model} has {heads} query heads but only {kv} key/value heads: query heads
{groups} each share one set of keys and values, so heads in a group look at the same keys through different queries.
`num_heads` counts the query heads, which is what a head's attention matrix belongs to."""
MQA_NOTE = """**One key/value head:** {model} has {heads} query heads per layer but a single key/value head: all
{heads} query heads read the same keys and values and differ only in their queries (multi-query attention), so its
key/value cache is {heads}× smaller than with one per query head. Each query head still has its own attention matrix: the heads shown here."""


# ---------------------------------------------------------------- labels


def token_label(token: str) -> str:
    """A token as a label: newlines and tabs made visible, a token of spaces shown as ␣, never empty."""
    token = token.replace("\n", "↵").replace("\t", "⇥")
    return (token.replace(" ", "␣") if not token.strip() else token) or "∅"


def axis_labels(tokens: list[str]) -> list[str]:
    """Unique labels (plotly merges equal category labels), escaped (plotly reads tags in labels)."""
    return [html.escape(f"{token_label(t)} ·{i}", quote=False) for i, t in enumerate(tokens)]


def head_title(run: Forward, head: int) -> str:
    if head == -1:
        return f"mean of the {run.num_heads} heads"
    if run.num_key_value_heads < run.num_heads:
        return f"head {head} (key/value group {patterns.kv_group(run, head)})"
    return f"head {head}"


# ---------------------------------------------------------------- figures


def heatmap_figure(run: Forward, layer: int, head: int, title: str | None = None, height: int = 560) -> go.Figure:
    labels = axis_labels(run.tokens)
    figure = go.Figure(
        go.Heatmap(
            z=patterns.weights(run, layer, head).numpy(),
            x=labels,
            y=labels,
            colorscale="Viridis",
            zmin=0,
            hovertemplate="query %{y}<br>key %{x}<br>weight %{z:.5f}<extra></extra>",
            colorbar_title="weight",
        )
    )
    kind = "causal: lower-triangular" if run.causal else "bidirectional: full"
    if patterns.is_banded(run, layer):
        kind = f"sliding window of {patterns.window(run, layer)}: a band"
    figure.update_layout(
        title=title or f"{run.model} — layer {layer}, {head_title(run, head)} ({kind})",
        height=height,
        margin=dict(l=10, r=10, t=50, b=10),
    )
    figure.update_yaxes(autorange="reversed", title="query (reading) token")
    figure.update_xaxes(title="key (read) token", tickangle=-60)
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
    labels = axis_labels(run.tokens)
    traces = [
        dict(
            type="heatmap",
            z=run.attentions[layer, h].numpy(),
            x=labels,
            y=labels,
            coloraxis="coloraxis",
            xaxis=f"x{suffix}",
            yaxis=f"y{suffix}",
            hovertemplate=f"head {h}<br>query %{{y}}<br>key %{{x}}<br>weight %{{z:.4f}}<extra></extra>",
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
            title=f"Layer {layer}: every head",
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
        ("first token (attention sink)", found.first_token),
        ("previous token", found.previous_token),
        ("itself (diagonal)", found.same_token),
    ]
    ids, layout = grid(len(panels), len(panels), [name for name, _ in panels], gap=0.015)
    traces = [
        dict(
            type="heatmap",
            z=values,
            coloraxis="coloraxis",
            xaxis=f"x{suffix}",
            yaxis=f"y{suffix}",
            hovertemplate=f"layer %{{y}}, head %{{x}}<br>mean weight on {name}: %{{z:.3f}}<extra></extra>",
        )
        for (name, values), suffix in zip(panels, ids)
    ]
    for suffix in ids:
        layout[f"xaxis{suffix}"].update(title="head", dtick=1)
    layout["yaxis"]["title"] = "layer"
    return go.Figure(
        data=traces,
        layout=dict(
            layout,
            title="Which heads do what: mean weight on one position, per layer and head",
            coloraxis=dict(colorscale="Viridis", cmin=0, cmax=1, colorbar_title="weight"),
            height=max(320, 14 * run.num_layers + 120),
            margin=dict(l=10, r=10, t=70, b=40),
        ),
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


def lens_html(lens: LogitLens) -> str:
    """The layers × positions table, each cell the layer's top next-token guess coloured by probability."""
    header = "".join(f'<th title="position {i}">{html.escape(token_label(t))}</th>' for i, t in enumerate(lens.tokens))
    rows = [("embeddings", lens.embeddings)] + [(f"layer {row.layer}", row.top) for row in lens.layers]
    body = []
    for name, top in rows:
        cells = []
        for predictions, hit in zip(top, logit_lens.hits(lens, top)):
            best = predictions[0]
            hover = "\n".join(f"{p.prob:.3f}  {p.token!r} (id {p.token_id})" for p in predictions)
            underline = ";text-decoration:underline;font-weight:600" if hit else ""
            ink = "#fff" if best.prob > 0.45 else "#111"
            cells.append(
                f'<td title="{html.escape(hover)}" style="background:rgba(37,99,235,{best.prob:.3f});color:{ink}{underline}">'
                f"{html.escape(token_label(best.token))}</td>"
            )
        body.append(f'<tr><th class="name">{name}</th>{"".join(cells)}</tr>')
    style = (
        "<style>.lens{border-collapse:collapse;font-family:monospace;font-size:12px}"
        ".lens td,.lens th{border:1px solid #e5e7eb;padding:2px 4px;white-space:pre}"
        ".lens thead th{position:sticky;top:0;background:#f9fafb}"
        ".lens th.name{position:sticky;left:0;background:#f9fafb;text-align:left}</style>"
    )
    return (
        f'{style}<div style="overflow:auto;max-height:640px"><table class="lens">'
        f'<thead><tr><th class="name">layer \\ input</th>{header}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'
    )


# ---------------------------------------------------------------- notes


def gqa_note(run: Forward) -> str:
    """How the query heads share key/value heads."""
    if run.num_key_value_heads >= run.num_heads:
        return f"{run.model}: {run.num_heads} heads per layer, each with its own keys and values."
    if run.num_key_value_heads == 1:
        return MQA_NOTE.format(model=run.model, heads=run.num_heads)
    size = run.num_heads // run.num_key_value_heads
    groups = ", ".join(f"{g * size}–{g * size + size - 1}" for g in range(run.num_key_value_heads))
    return GQA_NOTE.format(model=run.model, heads=run.num_heads, kv=run.num_key_value_heads, groups=groups)


def layer_note(run: Forward, layer: int) -> str:
    """What the chosen layer may read: everything (a global layer) or a sliding window, and whether
    this text is long enough for the window to show (empty for models without sliding windows)."""
    size = patterns.window(run, layer)
    local = [i for i in range(run.num_layers) if patterns.window(run, i) is not None]
    if not local:
        return ""
    full = [str(i) for i in range(run.num_layers) if i not in local]
    mix = (
        f"Of {run.model}'s {run.num_layers} layers, {len(local)} read a sliding window of {run.sliding_window} "
        f"tokens and {len(full)} {'is' if len(full) == 1 else 'are'} global (layer{'s' * (len(full) > 1)} {', '.join(full)})."
    )
    if size is None:
        return f"**Layer {layer} is a global layer:** every token reads every token before it. {mix}"
    if patterns.is_banded(run, layer):
        return (
            f"**Layer {layer} is a sliding-window layer (window {size}):** each token reads only the {size} tokens "
            f"up to itself, so with this text of {run.num_tokens} tokens the map is a band along the diagonal "
            f"(zeros further left). {mix}"
        )
    than = "shorter than" if run.num_tokens < size else "as long as"
    longer = (
        f"a text of more than {size} tokens would show a band along the diagonal"
        if size < MAX_TOKENS
        else f"this tab takes at most {MAX_TOKENS} tokens, so here it always reads the whole text"
    )
    return (
        f"**Layer {layer} is a sliding-window layer (window {size}):** this text of {run.num_tokens} tokens is "
        f"{than} the window, so it looks like a global layer ({longer}). {mix}"
    )
