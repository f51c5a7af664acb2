"""Figures and HTML for the Inside the Transformer tab, drawn from the compute package's dataclasses."""

from __future__ import annotations

import html
import math

import plotly.graph_objects as go

from ..inside.scaling import LayerSpread, RandomSpread
from ..inside.scores import ScoreVariants
from ..inside.steps import AttentionSteps
from .attention_figures import axis_labels, grid

RAW, SCALED = "#d62728", "#1f77b4"  # without and with the scale, in every √d_k plot


def _panels(panels: list[tuple[str, object, list, list]], height: int, title: str) -> go.Figure:
    """Heatmaps side by side, each with its own colour scale; hover gives row, column and value."""
    ids, layout = grid(len(panels), len(panels), [p[0] for p in panels], gap=0.01)
    traces = []
    for suffix, (name, z, x, y) in zip(ids, panels):
        mask = name == "mask"
        traces.append(
            dict(
                type="heatmap",
                z=z,
                x=x,
                y=y,
                colorscale="Greys" if mask else "RdBu_r",
                zmid=None if mask else 0,
                showscale=False,
                xaxis=f"x{suffix}",
                yaxis=f"y{suffix}",
                hovertemplate=f"{html.escape(name)}<br>row %{{y}}<br>column %{{x}}<br>%{{z:.5g}}<extra></extra>",
            )
        )
        layout[f"yaxis{suffix}"]["showticklabels"] = not suffix
    return go.Figure(data=traces, layout=dict(layout, title=title, height=height, margin=dict(l=10, r=10, t=70, b=10)))


def lines_layout(titles: list[str], x_title: str, log_x: bool = False) -> tuple[list[str], dict]:
    """Line-plot panels in one row (grid's layout, with y growing upwards)."""
    ids, layout = grid(len(titles), len(titles), titles, gap=0.03)
    for suffix in ids:
        layout[f"yaxis{suffix}"]["autorange"] = True
        layout[f"xaxis{suffix}"].update(title=x_title, type="log" if log_x else "linear")
    return ids, layout


def _line(suffix: str, x, y, name: str, colour: str, first: bool, hover: str, dash: str = "solid") -> dict:
    return dict(
        type="scatter",
        x=x,
        y=y,
        name=name,
        legendgroup=name,
        showlegend=first,
        line=dict(color=colour, dash=dash),
        xaxis=f"x{suffix}",
        yaxis=f"y{suffix}",
        hovertemplate=hover + f"<extra>{html.escape(name)}</extra>",
    )


def step_figures(r: AttentionSteps) -> tuple[go.Figure, go.Figure, go.Figure, go.Figure]:
    """x; Q, K, V (before and after q_norm / RoPE where the model has them); the scores; the output."""
    rows = axis_labels(r.tokens)
    n, d, d_k = r.shapes["hidden"][0], r.shapes["hidden"][1], r.shapes["q"][1]
    dims, model_dims = list(range(d_k)), list(range(d))
    height = min(900, 160 + 14 * n)
    hidden = _panels(
        [(f"x: hidden states after the input norm ({n} × {d})", r.hidden, model_dims, rows)],
        height,
        "The input",
    )
    projections = [("Q = x W_Q", r.q_projected), ("K = x W_K", r.k_projected)]
    if r.qk_norm:
        projections += [("RMSNorm(Q) (q_norm)", r.q_before_rope), ("RMSNorm(K) (k_norm)", r.k_before_rope)]
    if r.rotary:
        projections += [("RoPE(Q)", r.q), ("RoPE(K)", r.k)]
    projections.append(("V = x W_V", r.v))
    qkv = _panels(
        [(f"{name} ({n} × {d_k})", z, dims, rows) for name, z in projections],
        height,
        f"Projections of head {r.head} (key/value head {r.kv_head}); W_Q, W_K, W_V are {d} × {d_k}",
    )
    scaled = [[v if keep else None for v, keep in zip(row, mask)] for row, mask in zip(r.scaled, r.mask)]
    scores = _panels(
        [
            (f"S = Q Kᵀ ({n} × {n})", r.scores, rows, rows),
            (f"S × {r.scale:.4g} (masked cells blank)", scaled, rows, rows),
            ("mask", [[int(v) for v in row] for row in r.mask], rows, rows),
            (f"A = softmax ({n} × {n})", r.weights, rows, rows),
        ],
        min(900, 200 + 14 * n),
        f"Scores: scale = {r.scale_rule}",
    )
    output = _panels(
        [
            (f"Z = A V ({n} × {d_k})", r.weighted_values, dims, rows),
            (f"Z W_O^h ({n} × {d})", r.output, model_dims, rows),
        ],
        height,
        f"Output: this head's slice of the output projection, W_O^h ({d_k} × {d})",
    )
    return hidden, qkv, scores, output


def steps_note(r: AttentionSteps) -> str:
    group = r.num_heads // r.num_key_value_heads
    first = r.kv_head * group
    gqa = (
        f"Grouped-query attention: query heads {first}–{first + group - 1} share key/value head **{r.kv_head}**, "
        f"so K and V here are that head's."
        if group > 1
        else "Every head has its own keys and values."
    )
    mask = "causal (query i reads keys j ≤ i)" if r.causal else "none: every token reads every token (bidirectional)"
    if r.sliding_window:
        mask += (
            f", and a **sliding window** of {r.sliding_window}: keys more than {r.sliding_window - 1} back are hidden"
        )
    ok = "✓" if r.max_abs_diff_vs_model < 1e-4 else "✗"
    return (
        f"**{r.model}**, layer {r.layer} of {r.num_layers}, head {r.head} of {r.num_heads} ({r.family} family). {gqa}  \n"
        f"Scale: {r.scale_rule}. Mask: {mask}.  \n"
        f"Softmax vs the model's own attention weights (eager, `output_attentions`): max |Δ| = "
        f"{r.max_abs_diff_vs_model:.2e} {ok}"
    )


# ---------------------------------------------------------------- √d_k


def spread_figure(random: RandomSpread) -> go.Figure:
    """Against d: the scores' spread, the softmax's entropy and its largest weight, raw and scaled."""
    panels = [
        ("spread of the scores (std)", "std"),
        ("softmax entropy (nats)", "entropy"),
        ("largest softmax weight", "max_weight"),
    ]
    ids, layout = lines_layout([title for title, _ in panels], "d", log_x=True)
    x, traces, shapes = random.dims, [], []
    for suffix, (_, field) in zip(ids, panels):
        for label, kind, colour in (("q·k", "raw", RAW), ("q·k / √d", "scaled", SCALED)):
            y = [getattr(s, f"{field}_{kind}") for s in random.curve]
            traces.append(_line(suffix, x, y, label, colour, not suffix, "d = %{x}: %{y:.4g}"))
        shapes.append(
            dict(type="line", x0=random.d, x1=random.d, y0=0, y1=1, xref=f"x{suffix}", yref=f"y{suffix} domain")
        )
        shapes[-1]["line"] = dict(dash="dot", color="black")
    traces.append(_line("", x, [math.sqrt(d) for d in x], "√d", "grey", True, "√%{x} = %{y:.4g}", "dash"))
    uniform = [random.uniform_entropy] * len(x)
    traces.append(_line("2", x, uniform, f"uniform: ln {random.n_keys}", "grey", True, "%{y:.4g}", "dot"))
    return go.Figure(
        data=traces,
        layout=dict(
            layout,
            shapes=shapes,
            title=f"Random q, k with unit-variance entries; dotted line: d = {random.d}",
            height=360,
            margin=dict(l=10, r=10, t=70, b=40),
        ),
    )


def example_figure(random: RandomSpread) -> go.Figure:
    keys = list(range(random.n_keys))
    bars = [
        dict(type="bar", x=keys, y=random.example_raw, name="softmax(q·k)", marker_color=RAW),
        dict(type="bar", x=keys, y=random.example_scaled, name="softmax(q·k / √d)", marker_color=SCALED),
    ]
    return go.Figure(
        data=bars,
        layout=dict(
            title=f"One query's weights over {random.n_keys} keys, d = {random.d}",
            xaxis_title="key",
            yaxis_title="weight",
            height=300,
            margin=dict(l=10, r=10, t=50, b=10),
        ),
    )


def model_spread_figure(model: str, layers: list[LayerSpread]) -> go.Figure:
    panels = [("spread of the scores (std)", "std"), ("softmax entropy (nats)", "entropy")]
    ids, layout = lines_layout([title for title, _ in panels], "layer")
    x, traces = [layer.layer for layer in layers], []
    for suffix, (_, field) in zip(ids, panels):
        for label, kind, colour in (("q·k", "raw", RAW), ("× the model's scale", "scaled", SCALED)):
            y = [getattr(layer.spread, f"{field}_{kind}") for layer in layers]
            traces.append(_line(suffix, x, y, label, colour, not suffix, "layer %{x}: %{y:.4g}"))
    title = f"{model}'s heads on your text (d_k = {layers[0].d_k}; every head's visible scores pooled per layer)"
    return go.Figure(data=traces, layout=dict(layout, title=title, height=360, margin=dict(l=10, r=10, t=70, b=40)))


# ---------------------------------------------------------------- score variants


def variants_figure(result: ScoreVariants) -> go.Figure:
    states = [f"h{i + 1}" for i in range(len(result.h))]
    bars = [dict(type="bar", x=states, y=v.weights, name=v.name) for v in result.variants if v.weights is not None]
    layout = dict(title="Attention weights α over the encoder states", yaxis_title="α", height=320)
    return go.Figure(data=bars, layout=layout)


def variants_table(result: ScoreVariants) -> str:
    def numbers(values) -> str:
        return "—" if values is None else "(" + ", ".join(f"{v:.3f}" for v in values) + ")"

    lines = ["| variant | score(s, hᵢ) | scores | weights α | context c = Σ αᵢ hᵢ | |", "|---|---|---|---|---|---|"]
    for v in result.variants:
        lines.append(
            f"| {v.name} | {v.formula} | {numbers(v.scores)} | {numbers(v.weights)} | {numbers(v.context)} | {v.note} |"
        )
    seeded = ", ".join(result.seeded) or "none"
    lines.append(f"\nDrawn from seed {result.seed} (left blank): {seeded}. The matrices used are in the JSON.")
    return "\n".join(lines)
