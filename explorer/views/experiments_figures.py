"""The Tuning tab's experiment charts: forgetting and its remedies, prompt-based fine-tuning vs a new
head across training-set sizes, accuracy vs trainable parameters and where those parameters sit."""

from __future__ import annotations

import math
from collections import Counter

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..tuning import few_shot
from ..tuning.budget import BudgetResult
from ..tuning.few_shot import PromptVsHeadResult
from ..tuning.remedies import RemediesResult
from .common import t

# One colour per method in every chart (L2-SP and EWC fill the same slot of the remedies run).
COLOURS = dict(full="#6b7280", replay="#3b82f6", l2sp="#10b981", ewc="#10b981", lora="#f59e0b")
COLOURS.update({"head": "#6b7280", "prompt": "#8b5cf6", "zero-shot": "#ef4444"})
BEFORE = "#d1d5db"  # the bars of the model before tuning


def remedies_figure(result: RemediesResult) -> go.Figure:
    """Accuracy and the general passage's perplexity before → after, and each layer's drift, per method."""
    titles = [t(f"experiments.remedies.{panel}") for panel in ("accuracy", "perplexity", "drift")]
    figure = make_subplots(1, 3, subplot_titles=titles, column_widths=[0.25, 0.25, 0.5])
    runs, names = result.runs, [t(f"experiments.remedy.{run.method}") for run in result.runs]
    colours = [COLOURS[run.method] for run in runs]
    for column, before, after in (
        (1, [r.accuracy_before for r in runs], [r.accuracy for r in runs]),
        (2, [r.ppl_before for r in runs], [r.ppl_after for r in runs]),
    ):
        bars = dict(x=names, row=1, col=column, showlegend=column == 1)
        figure.add_bar(y=before, name=t("experiments.before"), marker_color=BEFORE, **bars)
        figure.add_bar(y=after, name=t("experiments.after"), marker_color=colours, **bars)
    removed = [(name, r.ppl_update_removed) for name, r in zip(names, runs) if r.ppl_update_removed is not None]
    if removed:  # LoRA with its update switched off: the pre-trained model, untouched
        figure.add_scatter(
            x=[name for name, _ in removed],
            y=[value for _, value in removed],
            name=t("experiments.remedies.update_removed"),
            mode="markers",
            marker=dict(symbol="diamond", size=11, color="#111827"),
            row=1,
            col=2,
        )
    for run, name in zip(runs, names):
        figure.add_scatter(
            x=result.positions,
            y=[value or None for value in run.drift],  # a weight that never moved has no place on a log axis
            name=name,
            mode="lines+markers",
            line_color=COLOURS[run.method],
            row=1,
            col=3,
        )
    figure.update_yaxes(range=[0, 1.05], row=1, col=1)
    figure.update_yaxes(type="log", row=1, col=2)
    figure.update_yaxes(type="log", title_text=t("experiments.remedies.drift_axis"), row=1, col=3)
    figure.update_xaxes(title_text=t("experiments.position"), row=1, col=3)
    config = result.config
    figure.update_layout(
        title=t("experiments.remedies.title", model=result.model, steps=config["steps"], seed=config["seed"]),
        barmode="group",
        height=480,
        legend_orientation="h",
        legend_y=-0.4,
        margin=dict(l=50, r=10, t=80, b=40),
    )
    return figure


def accuracy_figure(title: str, xaxis: dict, lines: list[dict]) -> go.Figure:
    """Held-out accuracy (0 to 1) against `xaxis`, one line per method (each dict: add_scatter's arguments)."""
    figure = go.Figure()
    for line in lines:
        figure.add_scatter(**{"mode": "lines+markers", **line})
    figure.update_layout(
        title=title,
        xaxis=xaxis,
        yaxis=dict(range=[0, 1.05], title=t("experiments.accuracy")),
        height=420,
        legend_orientation="h",
        legend_y=-0.25,
    )
    return figure


def prompt_vs_head_figure(result: PromptVsHeadResult) -> go.Figure:
    """Held-out accuracy against training-set size, mean ± std over seeds, one line per method."""
    lines = []
    for method in few_shot.METHODS:
        points = [p for p in result.points if p.method == method]
        lines.append(
            dict(
                x=[p.size for p in points],
                y=[p.accuracy_mean for p in points],
                error_y=dict(type="data", array=[p.accuracy_std for p in points], visible=True),
                name=t(f"experiments.few_shot.legend.{method}"),
                line_color=COLOURS[method],
            )
        )
    sizes = sorted({p.size for p in result.points})
    return accuracy_figure(
        t("experiments.few_shot.title", model=result.model, items=result.held_out_items),
        dict(type="log", tickvals=sizes, title=t("experiments.few_shot.size_axis")),
        lines,
    )


def budget_figure(result: BudgetResult) -> go.Figure:
    """Held-out accuracy against trainable parameters (log scale): the head, each LoRA rank, each prompt length."""
    lines = []
    for method in ("head", "lora", "prompt"):
        points = [p for p in result.points if p.method == method]
        lines.append(
            dict(
                x=[p.trainable for p in points],
                y=[p.accuracy for p in points],
                text=[t(f"experiments.budget.{method}", n=p.setting) for p in points],
                name=t(f"experiments.budget.legend.{method}"),
                mode="lines+markers+text",
                textposition="top center",
                line_color=COLOURS[method],
                hovertemplate="%{text}<br>%{x:,}<br>%{y:.0%}<extra></extra>",
            )
        )
    return accuracy_figure(
        t("experiments.budget.title", model=result.model, steps=result.config["steps"]),
        dict(type="log", title=t("experiments.budget.trainable_axis")),
        lines,
    )


def placement_figure(result: BudgetResult) -> go.Figure:
    """Where each method's trainable parameters sit: per position in the network, and per module type."""
    methods = list(dict.fromkeys(p.method for p in result.placements))
    names = [t(f"tuning.method.{m}") for m in methods]
    titles = [t("experiments.placement.per_layer"), t("experiments.placement.per_module")]
    figure = make_subplots(1, 2, column_widths=[0.55, 0.45], subplot_titles=titles, horizontal_spacing=0.12)
    for column, key in enumerate(("position", "module"), start=1):
        columns = result.positions if key == "position" else sorted({p.module for p in result.placements})
        counts = Counter()
        for p in result.placements:
            counts[p.method, getattr(p, key)] += p.parameters
        grid = [[counts[m, c] for c in columns] for m in methods]
        figure.add_heatmap(
            x=columns,
            y=names,
            z=[[math.log10(v) if v else None for v in row] for row in grid],
            customdata=grid,
            coloraxis="coloraxis",
            hovertemplate="%{y} · %{x}<br>%{customdata:,}<extra></extra>",
            row=1,
            col=column,
        )
    figure.update_layout(
        title=t("experiments.placement.title", model=result.model),
        coloraxis=dict(colorscale="Viridis", colorbar_title=t("experiments.placement.colour")),
        height=520,
        margin=dict(l=220, r=10, t=80, b=120),
    )
    return figure
