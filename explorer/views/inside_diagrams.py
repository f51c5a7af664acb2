"""Positions and the block for the Inside the Transformer tab: figures, the block diagrams and tables."""

from __future__ import annotations

import html
import math

import plotly.graph_objects as go

from ..inside.block import Block, Component
from ..inside.flow import Box
from ..inside.positions import Positions
from .attention_figures import axis_labels, grid

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
    ids, layout = grid(2, 2, [f"PE(p, i), d = {p.dim}", "PE(p) · PE(m): depends on p − m only"], gap=0.03)
    panels = [
        (p.sinusoidal, "RdBu_r", "position %{y}, dimension %{x}: %{z:.4f}", "dimension i"),
        (p.sinusoidal_dot, "Viridis", "p = %{y}, m = %{x}: %{z:.4f}", "position m"),
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
        layout[f"yaxis{suffix}"]["title"] = "position p"
    title = "Sinusoidal (the notes)"
    return go.Figure(data=traces, layout=dict(layout, title=title, height=440, margin=dict(l=10, r=10, t=70, b=40)))


def rotary_figure(p: Positions) -> go.Figure:
    """Per RoPE base: the angle of each pair at each position, and the score against distance."""
    titles = []
    for r in p.rotary:
        titles += [f"angle p·θᵢ mod 2π, θ = {r.theta:,.0f} ({r.layers})", "score (R(p)q)·(R(m)k) against p − m"]
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
                hovertemplate="position %{y}, pair %{x}<br>angle %{customdata[0]:.3f} rad"
                "<br>one turn every %{customdata[1]:.4g} positions<extra></extra>",
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
                    name=f"key at m = {start}",
                    legendgroup=str(start),
                    showlegend=r is p.rotary[0],
                    line_dash=dash,
                    xaxis=f"x{score_axis}",
                    yaxis=f"y{score_axis}",
                    hovertemplate=f"key at {start}, query at {start} + %{{x}}: %{{y:.5f}}<extra></extra>",
                )
            )
        layout[f"xaxis{angle_axis}"]["title"] = "pair i (dimensions i, i + d_k/2)"
        layout[f"yaxis{angle_axis}"]["title"] = "position p"
        layout[f"xaxis{score_axis}"]["title"] = "distance p − m"
        layout[f"yaxis{score_axis}"]["autorange"] = True
    title = f"Rotary (RoPE), d_k = {p.head_dim}: the curves coincide, the score depends on the distance only"
    height = 400 * len(p.rotary) + 60
    return go.Figure(data=traces, layout=dict(layout, title=title, height=height, margin=dict(l=10, r=10, t=80, b=40)))


def positions_note(p: Positions) -> str:
    worst = max(r.max_deviation for r in p.rotary)
    return (
        f"**{p.model} uses {p.scheme} positions.** From its config: {html.escape(p.evidence)}  \n"
        f"RoPE check: the score between the same two vectors at every placement differs from the score at the same "
        f"distance by at most {worst:.1e} (rounding)."
    )


# ---------------------------------------------------------------- the block


def _boxes(title: str, boxes: list[Box]) -> str:
    cells = []
    for index, b in enumerate(boxes):
        params = f" · {b.params:,} parameters" if b.params else ""
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
        f"<tr><td>{html.escape(d['aspect'])}</td><td>{html.escape(d['notes'])}</td><td>{html.escape(d['model'])}</td></tr>"
        for d in b.differences
    )
    return (
        '<div style="display:flex;gap:24px;flex-wrap:wrap;color:#111827">'
        + _boxes("The notes' block (original Transformer)", b.notes)
        + _boxes(f"{b.model}'s block (layer 0 of {sum(c.name.startswith('layer') for c in b.components)})", b.layer)
        + "</div><table><tr><th>aspect</th><th>the notes</th><th>"
        + html.escape(b.model)
        + f"</th></tr>{rows}</table>"
    )


def _layer_line(components: list[Component]) -> str:
    groups = ", ".join(f"{name} {count:,}" for name, count in components[0].groups.items())
    same = all(c.params == components[0].params and c.groups == components[0].groups for c in components)
    if same:
        total = components[0].params * len(components)
        return f"| {len(components)} layers, each | {components[0].params:,} ({groups}) | × {len(components)} = {total:,} |"
    return "\n".join(f"| {c.name} | {c.params:,} | |" for c in components)


def parameters_table(b: Block) -> str:
    layers = [c for c in b.components if c.name.startswith("layer ")]
    lines = ["| component | parameters | total |", "|---|---:|---:|"]
    for c in b.components:
        if c.name == "layer 0":
            lines.append(_layer_line(layers))
        elif not c.name.startswith("layer "):
            shapes = ", ".join(f"{p.name} {tuple(p.shape)}" for p in c.parts)
            lines.append(f"| {c.name} | {shapes} | {c.params:,} |")
    tied = " The LM head reuses the embedding matrix (tied), so it adds nothing." if b.tied else ""
    check = "✓" if b.total == b.num_parameters else "✗"
    lines.append(f"| **sum** | | **{b.total:,}** |")
    return "\n".join(lines) + f"\n\n`model.num_parameters()` = {b.num_parameters:,} {check}.{tied}"


def residual_figure(b: Block) -> go.Figure:
    ids, layout = grid(2, 2, ["‖x‖ per token (colour: log scale)", "mean ‖x‖ over the tokens"], gap=0.03)
    layout["xaxis"]["domain"], layout["xaxis2"]["domain"] = [0, 0.64], [0.72, 1]
    stages = ["embeddings"] + [f"after layer {i}" for i in range(len(b.residual_norms) - 1)]
    heatmap = dict(
        type="heatmap",
        z=[[math.log10(max(v, 1e-12)) for v in row] for row in b.residual_norms],  # log: one token can dwarf all
        customdata=b.residual_norms,
        x=axis_labels(b.tokens),
        y=stages,
        colorscale="Viridis",
        showscale=False,
        hovertemplate="%{y}<br>%{x}<br>‖x‖ = %{customdata:.4g}<extra></extra>",
    )
    mean = dict(type="scatter", x=b.residual_mean, y=stages, mode="lines+markers", xaxis="x2", yaxis="y2")
    layout["xaxis2"].update(type="log", title="mean ‖x‖ (log scale)")
    layout["yaxis2"]["showticklabels"] = False
    return go.Figure(
        data=[heatmap, mean],
        layout=dict(
            layout,
            showlegend=False,
            title="The residual stream's norm through the layers (the first token often dwarfs the rest)",
            height=max(380, 16 * len(stages) + 140),
            margin=dict(l=10, r=10, t=80, b=40),
        ),
    )
