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
from .common import t

TILE, GAP, LEFT, TOP = 40, 2, 30, 16  # the all-heads mosaic's geometry, in pixels
VIRIDIS = np.array(
    [plotly.colors.unlabel_rgb(c) for c in plotly.colors.sample_colorscale("Viridis", 256)], dtype=np.uint8
)


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
    """The layers × positions table, each cell the layer's top next-token guess coloured by probability.
    Cells show each guess on its own (a piece of a character as its bytes ⟨e5 8f⟩); hits compare ids."""
    header = "".join(
        f'<th title="{html.escape(t("attention.lens_position", index=i))}">{html.escape(token_label(label))}</th>'
        for i, label in enumerate(lens.labels)
    )
    rows = [(t("attention.lens_embeddings"), lens.embeddings)]
    rows += [(t("attention.lens_layer", layer=row.layer), row.top) for row in lens.layers]
    body = []
    for name, top in rows:
        cells = []
        for predictions, hit in zip(top, logit_lens.hits(lens, top)):
            best = predictions[0]
            hover = "\n".join(f"{p.prob:.3f}  {p.label!r} (id {p.token_id})" for p in predictions)
            underline = ";text-decoration:underline;font-weight:600" if hit else ""
            ink = "#fff" if best.prob > 0.45 else "#111"
            cells.append(
                f'<td title="{html.escape(hover)}" style="background:rgba(37,99,235,{best.prob:.3f});color:{ink}{underline}">'
                f"{html.escape(token_label(best.label))}</td>"
            )
        body.append(f'<tr><th class="name">{html.escape(name)}</th>{"".join(cells)}</tr>')
    style = (
        "<style>.lens{border-collapse:collapse;font-family:monospace;font-size:12px}"
        ".lens td,.lens th{border:1px solid #e5e7eb;padding:2px 4px;white-space:pre}"
        ".lens thead th{position:sticky;top:0;background:#f9fafb}"
        ".lens th.name{position:sticky;left:0;background:#f9fafb;text-align:left}</style>"
    )
    corner = html.escape(t("attention.lens_corner"))
    return (
        f'{style}<div style="overflow:auto;max-height:640px"><table class="lens">'
        f'<thead><tr><th class="name">{corner}</th>{header}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'
    )


# ---------------------------------------------------------------- notes


def gqa_note(run: Forward) -> str:
    """How the query heads share key/value heads."""
    if run.num_key_value_heads >= run.num_heads:
        return t("attention.note.mha", model=run.model, heads=run.num_heads)
    if run.num_key_value_heads == 1:
        return t("attention.note.mqa", model=run.model, heads=run.num_heads)
    size = run.num_heads // run.num_key_value_heads
    groups = ", ".join(f"{g * size}–{g * size + size - 1}" for g in range(run.num_key_value_heads))
    return t("attention.note.gqa", model=run.model, heads=run.num_heads, kv=run.num_key_value_heads, groups=groups)


def layer_note(run: Forward, layer: int) -> str:
    """What the chosen layer may read: everything (a global layer) or a sliding window, and whether
    this text is long enough for the window to show (empty for models without sliding windows)."""
    size = patterns.window(run, layer)
    local = [i for i in range(run.num_layers) if patterns.window(run, i) is not None]
    if not local:
        return ""
    full = [str(i) for i in range(run.num_layers) if i not in local]
    mix = t(
        "attention.note.mix_one" if len(full) == 1 else "attention.note.mix_many",
        model=run.model,
        layers=run.num_layers,
        local=len(local),
        window=run.sliding_window,
        count=len(full),
        full=", ".join(full),
    )
    if size is None:
        return t("attention.note.global", layer=layer, mix=mix)
    if patterns.is_banded(run, layer):
        return t("attention.note.banded", layer=layer, window=size, n=run.num_tokens, mix=mix)
    longer = (
        t("attention.note.longer_text", window=size)
        if size < MAX_TOKENS
        else t("attention.note.never_longer", limit=MAX_TOKENS)
    )
    return t(
        "attention.note.unbanded_shorter" if run.num_tokens < size else "attention.note.unbanded_equal",
        layer=layer,
        window=size,
        n=run.num_tokens,
        longer=longer,
        mix=mix,
    )
