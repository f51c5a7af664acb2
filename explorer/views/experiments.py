"""The notes' tuning experiments, runnable inside the Tuning tab: forgetting and its remedies,
prompt-based fine-tuning vs a new head, and how few parameters suffice.

Each handler streams: it yields the chart after every finished run, so the runs appear as they end
and the Stop button cancels the experiment at the next run (Gradio cancels a generator between yields).
"""

from __future__ import annotations

import math
from collections import Counter

import gradio as gr
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .. import models
from ..tuning import budget, few_shot, remedies
from ..tuning.budget import BudgetConfig, BudgetResult
from ..tuning.few_shot import PromptVsHeadConfig, PromptVsHeadResult
from ..tuning.remedies import RemediesConfig, RemediesResult
from .common import LONG_WORK, Number, Slider, gradio_progress, json_panel, model_dropdown, payload, t, tr, user_errors

COLOURS = dict(full="#6b7280", replay="#3b82f6", l2sp="#10b981", ewc="#10b981", lora="#f59e0b")
COLOURS.update({"head": "#6b7280", "prompt": "#8b5cf6", "zero-shot": "#ef4444"})
BEFORE = "#d1d5db"
# The list-valued defaults as the text boxes show them.
PromptVsHeadConfig.sizes, BudgetConfig.ranks, BudgetConfig.prompt_lengths = (
    ", ".join(map(str, values))
    for values in (PromptVsHeadConfig.sizes, BudgetConfig.ranks, BudgetConfig.prompt_lengths)
)


# ---------------------------------------------------------------- charts


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


# ---------------------------------------------------------------- handlers (streaming: cancellable between runs)


@user_errors
def tuning_remedies(
    model: str = "",
    steps: int = RemediesConfig.steps,
    learning_rate: float = RemediesConfig.learning_rate,
    replay_ratio: float = RemediesConfig.replay_ratio,
    l2sp_strength: float = RemediesConfig.l2sp_strength,
    ewc: bool = RemediesConfig.ewc,
    lora_r: int = RemediesConfig.lora_r,
    lora_learning_rate: float = RemediesConfig.lora_learning_rate,
    seed: int = 0,
    progress=gr.Progress(),
):
    """Full fine-tuning vs replay vs L2-SP (or EWC) vs LoRA: accuracy, forgetting, drift per layer."""
    report = gradio_progress(progress)
    lm = models.get(model, progress=report)
    config = RemediesConfig(steps, learning_rate, replay_ratio, l2sp_strength, ewc, lora_r, lora_learning_rate, seed)
    for result in remedies.iter_remedies(lm, config, report):
        yield remedies_figure(result), payload(result)


@user_errors
def tuning_prompt_vs_head(
    model: str = "",
    sizes: str = PromptVsHeadConfig.sizes,
    repeats: int = PromptVsHeadConfig.repeats,
    steps: int = PromptVsHeadConfig.steps,
    learning_rate: float = PromptVsHeadConfig.learning_rate,
    seed: int = 0,
    progress=gr.Progress(),
):
    """A new head vs prompt-based fine-tuning vs zero-shot across training-set sizes (mean ± std over seeds)."""
    report = gradio_progress(progress)
    lm = models.get(model, progress=report)
    config = PromptVsHeadConfig(sizes, repeats, steps, learning_rate, seed)
    for result in few_shot.iter_prompt_vs_head(lm, config, report):
        yield prompt_vs_head_figure(result), payload(result)


@user_errors
def tuning_rank_sweep(
    model: str = "",
    ranks: str = BudgetConfig.ranks,
    prompt_lengths: str = BudgetConfig.prompt_lengths,
    steps: int = BudgetConfig.steps,
    learning_rate: float = BudgetConfig.learning_rate,
    prompt_learning_rate: float = BudgetConfig.prompt_learning_rate,
    seed: int = 0,
    progress=gr.Progress(),
):
    """Accuracy vs trainable parameters (head, LoRA ranks, prompt lengths) and where each method's sit."""
    report = gradio_progress(progress)
    lm = models.get(model, progress=report)
    config = BudgetConfig(ranks, prompt_lengths, steps, learning_rate, prompt_learning_rate, seed)
    for result in budget.iter_budget(lm, config, report):
        yield budget_figure(result), placement_figure(result), payload(result)


# ---------------------------------------------------------------- layout


def section(name: str, api_name: str, inputs_of, handler, outputs_of, model: gr.Dropdown) -> None:
    """One experiment: its explanation, its inputs, Run and Stop, its charts and JSON."""
    with gr.Accordion(tr(f"experiments.{name}.heading"), open=False):
        gr.Markdown(tr(f"experiments_{name}.explainer"))
        with gr.Row():
            inputs = inputs_of()
        with gr.Row():
            run = gr.Button(tr("experiments.run"), variant="primary")
            stop = gr.Button(tr("experiments.stop"), variant="stop")
        outputs = [*outputs_of(), json_panel()]
    event = run.click(handler, [model, *inputs], outputs, api_name=api_name, **LONG_WORK)
    stop.click(None, None, None, cancels=[event])


def text(key: str, info: bool = False) -> dict:
    """A control's label, and its info line, in every language."""
    return dict(label=tr(f"experiments.{key}"), **({"info": tr(f"experiments.{key}_info")} if info else {}))


def steps_and_rate(config) -> list:
    steps = Slider(1, 100, config.steps, step=1, **text("steps"))
    return [steps, Number(config.learning_rate, minimum=0, **text("learning_rate"))]


def build(model: gr.Dropdown | None = None) -> None:
    """The three experiments, under the tab's own model picker (or one of their own)."""
    gr.Markdown(tr("experiments.explainer"))
    model = model or model_dropdown("causal")

    def seed() -> gr.Number:  # a fresh one per experiment
        return Number(0, precision=0, minimum=0, **text("seed"))

    r, f, b = RemediesConfig, PromptVsHeadConfig, BudgetConfig
    section(
        "remedies",
        "tuning_remedies",
        lambda: [
            *steps_and_rate(r),
            Slider(0, 1, r.replay_ratio, step=0.05, **text("replay_ratio", info=True)),
            Number(r.l2sp_strength, minimum=0, **text("l2sp_strength", info=True)),
            gr.Checkbox(r.ewc, **text("ewc")),
            Slider(1, 64, r.lora_r, step=1, **text("lora_r")),
            Number(r.lora_learning_rate, minimum=0, **text("lora_learning_rate")),
            seed(),
        ],
        tuning_remedies,
        lambda: [gr.Plot(**text("remedies.plot"))],
        model,
    )
    section(
        "few_shot",
        "tuning_prompt_vs_head",
        lambda: [
            gr.Textbox(f.sizes, **text("sizes", info=True)),
            Slider(1, few_shot.MAX_REPEATS, f.repeats, step=1, **text("repeats")),
            *steps_and_rate(f),
            seed(),
        ],
        tuning_prompt_vs_head,
        lambda: [gr.Plot(**text("few_shot.plot"))],
        model,
    )
    section(
        "budget",
        "tuning_rank_sweep",
        lambda: [
            gr.Textbox(b.ranks, **text("ranks", info=True)),
            gr.Textbox(b.prompt_lengths, **text("prompt_lengths")),
            *steps_and_rate(b),
            Number(b.prompt_learning_rate, minimum=0, **text("prompt_learning_rate")),
            seed(),
        ],
        tuning_rank_sweep,
        lambda: [gr.Plot(**text("budget.plot")), gr.Plot(**text("placement.plot"))],
        model,
    )
