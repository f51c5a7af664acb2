"""Figures and HTML for the Inside the Transformer tab, drawn from the compute package's dataclasses."""

from __future__ import annotations

import html
import math

import plotly.graph_objects as go

from ..inside.scaling import LayerSpread, RandomSpread
from ..inside.scores import ScoreVariants
from ..inside.steps import AttentionSteps
from .attention_figures import axis_labels, grid
from .common import t

RAW, SCALED = "#d62728", "#1f77b4"  # without and with the scale, in every √d_k plot


def _panels(panels: list[tuple[str, object, list, list]], height: int, title: str, mask: str = "") -> go.Figure:
    """Heatmaps side by side, each with its own colour scale; hover gives row, column and value.
    The panel named `mask` is drawn in greys, without a midpoint."""
    ids, layout = grid(len(panels), len(panels), [p[0] for p in panels], gap=0.01)
    row, column = t("inside.row"), t("inside.column")
    traces = []
    for suffix, (name, z, x, y) in zip(ids, panels):
        is_mask = name == mask
        traces.append(
            dict(
                type="heatmap",
                z=z,
                x=x,
                y=y,
                colorscale="Greys" if is_mask else "RdBu_r",
                zmid=None if is_mask else 0,
                showscale=False,
                xaxis=f"x{suffix}",
                yaxis=f"y{suffix}",
                hovertemplate=f"{html.escape(name)}<br>{row} %{{y}}<br>{column} %{{x}}<br>%{{z:.5g}}<extra></extra>",
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
    """x; Q, K, V (before and after q_norm / RoPE where the model has them); the scores; the output.
    Rows are the tokens as readable labels (a piece of a character is '·', never "�")."""
    rows = axis_labels(r.labels)
    n, d, d_k = r.shapes["hidden"][0], r.shapes["hidden"][1], r.shapes["q"][1]
    dims, model_dims = list(range(d_k)), list(range(d))
    height = min(900, 160 + 14 * n)
    hidden = _panels(
        [(t("inside.steps.hidden", n=n, d=d), r.hidden, model_dims, rows)],
        height,
        t("inside.steps.input_title"),
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
        t("inside.steps.qkv_title", head=r.head, kv_head=r.kv_head, d=d, d_k=d_k),
    )
    scaled = [[v if keep else None for v, keep in zip(row, mask)] for row, mask in zip(r.scaled, r.mask)]
    mask = t("inside.steps.mask")
    scores = _panels(
        [
            (f"S = Q Kᵀ ({n} × {n})", r.scores, rows, rows),
            (t("inside.steps.scaled", scale=f"{r.scale:.4g}"), scaled, rows, rows),
            (mask, [[int(v) for v in row] for row in r.mask], rows, rows),
            (f"A = softmax ({n} × {n})", r.weights, rows, rows),
        ],
        min(900, 200 + 14 * n),
        t("inside.steps.scores_title", rule=r.scale_rule),
        mask=mask,
    )
    output = _panels(
        [
            (f"Z = A V ({n} × {d_k})", r.weighted_values, dims, rows),
            (f"Z W_O^h ({n} × {d})", r.output, model_dims, rows),
        ],
        height,
        t("inside.steps.output_title", d=d, d_k=d_k),
    )
    return hidden, qkv, scores, output


def steps_note(r: AttentionSteps) -> str:
    group = r.num_heads // r.num_key_value_heads
    first = r.kv_head * group
    if group > 1:
        gqa = t("inside.steps.gqa", first=first, last=first + group - 1, kv_head=r.kv_head)
    else:
        gqa = t("inside.steps.mha")
    mask = t("inside.steps.mask_causal") if r.causal else t("inside.steps.mask_none")
    if r.sliding_window:
        mask += t("inside.steps.mask_window", window=r.sliding_window, back=r.sliding_window - 1)
    ok = "✓" if r.max_abs_diff_vs_model < 1e-4 else "✗"
    return t(
        "inside.steps.note",
        model=r.model,
        layer=r.layer,
        layers=r.num_layers,
        head=r.head,
        heads=r.num_heads,
        family=r.family,
        gqa=gqa,
        rule=r.scale_rule,
        mask=mask,
        diff=f"{r.max_abs_diff_vs_model:.2e}",
        ok=ok,
    )


# ---------------------------------------------------------------- √d_k


def _statistics(fields: tuple[str, ...]) -> list[tuple[str, str]]:
    """(panel title, Spread field) for each statistic, titles in the request's language."""
    return [(t(f"inside.sqrt.{field}"), field) for field in fields]


def spread_figure(random: RandomSpread) -> go.Figure:
    """Against d: the scores' spread, the softmax's entropy and its largest weight, raw and scaled."""
    panels = _statistics(("std", "entropy", "max_weight"))
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
    name = t("inside.sqrt.uniform", n=random.n_keys)
    traces.append(_line("2", x, uniform, name, "grey", True, "%{y:.4g}", "dot"))
    return go.Figure(
        data=traces,
        layout=dict(
            layout,
            shapes=shapes,
            title=t("inside.sqrt.random_title", d=random.d),
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
            title=t("inside.sqrt.example_title", n=random.n_keys, d=random.d),
            xaxis_title=t("inside.sqrt.key"),
            yaxis_title=t("inside.sqrt.weight"),
            height=300,
            margin=dict(l=10, r=10, t=50, b=10),
        ),
    )


def model_spread_figure(model: str, layers: list[LayerSpread]) -> go.Figure:
    panels = _statistics(("std", "entropy"))
    layer = t("inside.layer")
    ids, layout = lines_layout([title for title, _ in panels], layer)
    x, traces = [spread.layer for spread in layers], []
    for suffix, (_, field) in zip(ids, panels):
        for label, kind, colour in (("q·k", "raw", RAW), (t("inside.sqrt.model_scale"), "scaled", SCALED)):
            y = [getattr(spread.spread, f"{field}_{kind}") for spread in layers]
            traces.append(_line(suffix, x, y, label, colour, not suffix, layer + " %{x}: %{y:.4g}"))
    title = t("inside.sqrt.model_title", model=model, d_k=layers[0].d_k)
    return go.Figure(data=traces, layout=dict(layout, title=title, height=360, margin=dict(l=10, r=10, t=70, b=40)))


# ---------------------------------------------------------------- score variants


def translated(kind: str, name: str) -> str:
    """A name the payload keeps in English (a variant "dot product", an aspect "norm placement", a
    component "final norm", …) in the request's language: label "inside.<kind>.<name with _ for spaces>"."""
    key = name.replace(" ", "_")
    return t(f"inside.{kind}.{key}")


def variants_figure(result: ScoreVariants) -> go.Figure:
    states = [f"h{i + 1}" for i in range(len(result.h))]
    bars = [
        dict(type="bar", x=states, y=v.weights, name=translated("variant", v.name))
        for v in result.variants
        if v.weights is not None
    ]
    layout = dict(title=t("inside.variants.title"), yaxis_title="α", height=320)
    return go.Figure(data=bars, layout=layout)


def variants_table(result: ScoreVariants) -> str:
    def numbers(values) -> str:
        return "—" if values is None else "(" + ", ".join(f"{v:.3f}" for v in values) + ")"

    lines = [t("inside.variants.header"), "|---|---|---|---|---|---|"]
    for v in result.variants:
        lines.append(
            f"| {translated('variant', v.name)} | {v.formula} | {numbers(v.scores)} | {numbers(v.weights)} "
            f"| {numbers(v.context)} | {v.note} |"
        )
    seeded = ", ".join(result.seeded) or t("inside.variants.none")
    lines.append("\n" + t("inside.variants.seeded", seed=result.seed, seeded=seeded))
    return "\n".join(lines)
