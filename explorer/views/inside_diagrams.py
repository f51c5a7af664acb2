"""Positions and the block for the Inside the Transformer tab: figures, the block diagrams and tables."""

from __future__ import annotations

import html
import math

import plotly.graph_objects as go

from ..inside.block import Block, Component
from ..inside.flow import Box
from ..inside.positions import Positions, scheme_name
from .attention_figures import axis_labels, grid
from .common import t
from .inside_figures import translated

KIND_COLOURS = {
    "norm": "#fde68a",
    "attention": "#bfdbfe",
    "mlp": "#bbf7d0",
    "residual": "#e5e7eb",
    "position": "#fbcfe8",
}
PLACEMENTS = (0, 8, 24)  # key positions at which the rotary score is plotted against distance


# ---------------------------------------------------------------- positions


def sinusoid_figure(p: Positions) -> go.Figure:
    ids, layout = grid(2, 2, [f"PE(p, i), d = {p.dim}", t("inside.positions.dot_panel")], gap=0.03)
    position, dimension = t("inside.positions.position"), t("inside.positions.dimension")
    panels = [
        (p.sinusoidal, "RdBu_r", f"{position} %{{y}}, {dimension} %{{x}}: %{{z:.4f}}", f"{dimension} i"),
        (p.sinusoidal_dot, "Viridis", "p = %{y}, m = %{x}: %{z:.4f}", f"{position} m"),
    ]
    traces = []
    for suffix, (z, colours, hover, x_title) in zip(ids, panels):
        traces.append(
            dict(
                type="heatmap",
                z=z,
                colorscale=colours,
                showscale=False,
                xaxis=f"x{suffix}",
                yaxis=f"y{suffix}",
                hovertemplate=hover + "<extra></extra>",
            )
        )
        layout[f"xaxis{suffix}"]["title"] = x_title
        layout[f"yaxis{suffix}"]["title"] = f"{position} p"
    title = t("inside.positions.sinusoid_title")
    return go.Figure(data=traces, layout=dict(layout, title=title, height=440, margin=dict(l=10, r=10, t=70, b=40)))


def rotary_figure(p: Positions) -> go.Figure:
    """Per RoPE base: the angle of each pair at each position, and the score against distance."""
    titles = []
    for r in p.rotary:
        titles += [
            t("inside.positions.angle_panel", theta=f"{r.theta:,.0f}", layers=r.layers),
            t("inside.positions.score_panel"),
        ]
    position = t("inside.positions.position")
    ids, layout = grid(len(titles), 2, titles, gap=0.04)
    traces = []
    for r, (angle_axis, score_axis) in zip(p.rotary, zip(ids[::2], ids[1::2])):
        traces.append(
            dict(
                type="heatmap",
                z=[[a % (2 * math.pi) for a in angles] for angles in r.angles],
                customdata=[[(a, w) for a, w in zip(angles, r.wavelengths)] for angles in r.angles],
                colorscale="Phase",
                showscale=False,
                xaxis=f"x{angle_axis}",
                yaxis=f"y{angle_axis}",
                hovertemplate=t(
                    "inside.positions.angle_hover",
                    p="%{y}",
                    pair="%{x}",
                    angle="%{customdata[0]:.3f}",
                    period="%{customdata[1]:.4g}",
                )
                + "<extra></extra>",
            )
        )
        for start, dash in zip(PLACEMENTS, ("solid", "dash", "dot")):
            distances = list(range(p.positions - start))
            traces.append(
                dict(
                    type="scatter",
                    mode="lines",
                    x=distances,
                    y=[r.scores[start + gap][start] for gap in distances],
                    name=t("inside.positions.key_at", m=start),
                    legendgroup=str(start),
                    showlegend=r is p.rotary[0],
                    line_dash=dash,
                    xaxis=f"x{score_axis}",
                    yaxis=f"y{score_axis}",
                    hovertemplate=t("inside.positions.score_hover", m=start, gap="%{x}") + ": %{y:.5f}<extra></extra>",
                )
            )
        layout[f"xaxis{angle_axis}"]["title"] = t("inside.positions.pair_axis")
        layout[f"yaxis{angle_axis}"]["title"] = f"{position} p"
        layout[f"xaxis{score_axis}"]["title"] = t("inside.positions.distance_axis")
        layout[f"yaxis{score_axis}"]["autorange"] = True
    title = t("inside.positions.rotary_title", d_k=p.head_dim)
    height = 400 * len(p.rotary) + 60
    return go.Figure(data=traces, layout=dict(layout, title=title, height=height, margin=dict(l=10, r=10, t=80, b=40)))


def positions_note(p: Positions) -> str:
    worst = max(r.max_deviation for r in p.rotary)
    return t(
        "inside.positions.note",
        model=p.model,
        scheme=scheme_name(p.scheme),
        evidence=html.escape(p.evidence),
        worst=f"{worst:.1e}",
    )


# ---------------------------------------------------------------- the block


def _boxes(title: str, boxes: list[Box]) -> str:
    cells = []
    for index, b in enumerate(boxes):
        params = " · " + t("inside.block.box_params", n=b.params) if b.params else ""
        module = f" <code>{html.escape(b.module)}</code>" if b.module else ""
        cells.append(
            f'<div style="background:{KIND_COLOURS[b.kind]};border-radius:6px;padding:6px 10px;margin:0 0 2px 0">'
            f"<b>{html.escape(b.label)}</b>{module}{params}"
            f'<div style="font-size:0.8em;color:#374151">{html.escape(b.detail)}</div></div>'
            + ('<div style="text-align:center;color:#6b7280">↓</div>' if index < len(boxes) - 1 else "")
        )
    return f'<div style="flex:1;min-width:260px"><h4>{html.escape(title)}</h4>{"".join(cells)}</div>'


def block_html(b: Block) -> str:
    """The notes' block and the model's, side by side, then how they differ."""
    rows = "".join(
        f"<tr><td>{html.escape(translated('aspect', d['aspect']))}</td>"
        f"<td>{html.escape(d['notes'])}</td><td>{html.escape(d['model'])}</td></tr>"
        for d in b.differences
    )
    header = "".join(
        f"<th>{html.escape(name)}</th>" for name in (t("inside.block.aspect"), t("inside.block.notes"), b.model)
    )
    layers = sum(c.name.startswith("layer") for c in b.components)
    return (
        '<div style="display:flex;gap:24px;flex-wrap:wrap;color:#111827">'
        + _boxes(t("inside.block.notes_title"), b.notes)
        + _boxes(t("inside.block.model_title", model=b.model, layers=layers), b.layer)
        + f"</div><table><tr>{header}</tr>{rows}</table>"
    )


def component_name(name: str) -> str:
    """A component's name ("embedding", "layer 3", "final norm", "LM head": English in the payload) translated."""
    if name.startswith("layer "):
        return t("inside.component.layer", index=name.split()[1])
    return translated("component", name)


def _layer_line(components: list[Component]) -> str:
    groups = ", ".join(f"{translated('group', name)} {count:,}" for name, count in components[0].groups.items())
    same = all(c.params == components[0].params and c.groups == components[0].groups for c in components)
    if same:
        total = components[0].params * len(components)
        each = t("inside.block.layers_each", n=len(components))
        return f"| {each} | {components[0].params:,} ({groups}) | × {len(components)} = {total:,} |"
    return "\n".join(f"| {component_name(c.name)} | {c.params:,} | |" for c in components)


def parameters_table(b: Block) -> str:
    layers = [c for c in b.components if c.name.startswith("layer ")]
    lines = [t("inside.block.table_header"), "|---|---:|---:|"]
    for c in b.components:
        if c.name == "layer 0":
            lines.append(_layer_line(layers))
        elif not c.name.startswith("layer "):
            shapes = ", ".join(f"{p.name} {tuple(p.shape)}" for p in c.parts)
            lines.append(f"| {component_name(c.name)} | {shapes} | {c.params:,} |")
    tied = " " + t("inside.block.tied") if b.tied else ""
    check = "✓" if b.total == b.num_parameters else "✗"
    lines.append(f"| **{t('inside.block.sum')}** | | **{b.total:,}** |")
    return "\n".join(lines) + f"\n\n`model.num_parameters()` = {b.num_parameters:,} {check}.{tied}"


def residual_figure(b: Block) -> go.Figure:
    titles = [t("inside.residual.per_token"), t("inside.residual.mean_panel")]
    ids, layout = grid(2, 2, titles, gap=0.03)
    layout["xaxis"]["domain"], layout["xaxis2"]["domain"] = [0, 0.64], [0.72, 1]
    stages = [t("inside.residual.embeddings")]
    stages += [t("inside.residual.after_layer", layer=i) for i in range(len(b.residual_norms) - 1)]
    heatmap = dict(
        type="heatmap",
        z=[[math.log10(max(v, 1e-12)) for v in row] for row in b.residual_norms],  # log: one token can dwarf all
        customdata=b.residual_norms,
        x=axis_labels(b.labels),
        y=stages,
        colorscale="Viridis",
        showscale=False,
        hovertemplate="%{y}<br>%{x}<br>‖x‖ = %{customdata:.4g}<extra></extra>",
    )
    mean = dict(type="scatter", x=b.residual_mean, y=stages, mode="lines+markers", xaxis="x2", yaxis="y2")
    layout["xaxis2"].update(type="log", title=t("inside.residual.mean_axis"))
    layout["yaxis2"]["showticklabels"] = False
    return go.Figure(
        data=[heatmap, mean],
        layout=dict(
            layout,
            showlegend=False,
            title=t("inside.residual.title"),
            height=max(380, 16 * len(stages) + 140),
            margin=dict(l=10, r=10, t=80, b=40),
        ),
    )
