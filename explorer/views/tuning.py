"""The Tuning tab: full fine-tuning vs delta tuning, counted on the real model and trained for real."""

from __future__ import annotations

import gradio as gr
import pandas as pd
import plotly.graph_objects as go

from .. import models, tuning
from ..tuning import METHODS, TrainingResult, TuningSettings, TuningTable
from . import experiments, export, links
from .common import (
    LONG_WORK,
    SHORT_WORK,
    Number,
    Slider,
    examples_menu,
    gradio_progress,
    model_dropdown,
    payload,
    t,
    table,
    table_rows,
    tr,
    user_errors,
)
from .show_code import code_panel

FAMILY_COLOURS = {"full": "#6b7280", "addition": "#3b82f6", "specification": "#10b981", "reparameterization": "#f59e0b"}


def pair(before: float, after: float, fmt: str) -> str:
    return f"{before:{fmt}} → {after:{fmt}}"


def method_name(method: str) -> str:
    """A method's name in the page's language (the payload keeps the catalogue's English `name`)."""
    return t(f"tuning.method.{method}")


# One column per entry (header: label "tuning.col.<key>"), and how a row shows in it.
TABLE_COLUMNS = {
    "method": lambda r: method_name(r.method),
    "family": lambda r: t(f"tuning.family.{r.family}"),
    "trainable": lambda r: f"{r.trainable:,}",
    "percent": lambda r: f"{r.percent:.3g}",
    "checkpoint_mb": lambda r: f"{r.checkpoint_mb:.3g}",
    "tasks": lambda r: f"{r.tasks_per_full_copy:,}",
    "memory_mb": lambda r: f"{r.memory_mb:,.0f}",
    "activations_mb": lambda r: f"{r.activations_mb:,.1f}",
    "note": lambda r: r.note,
}
RUN_COLUMNS = {  # header: label "tuning.run.<key>"
    "method": lambda r: method_name(r.method),
    "trainable": lambda r: f"{r.trainable:,}",
    "steps": lambda r: r.steps_done,
    "loss": lambda r: pair(r.losses[0], r.losses[-1], ".3f") if r.losses else "—",
    "accuracy": lambda r: pair(r.accuracy_before, r.accuracy, ".0%"),
    "seconds": lambda r: f"{r.seconds_per_step:.2f}",
    "peak_mb": lambda r: f"{r.peak_mem_mb:,.0f}",
    "perplexity": lambda r: pair(r.ppl_before, r.ppl_after, ".1f"),
    "stopped": lambda r: r.stopped or "",
}
TABLE_HEADERS = [f"tuning.col.{key}" for key in TABLE_COLUMNS]
RUN_HEADERS = [f"tuning.run.{key}" for key in RUN_COLUMNS]


# ---------------------------------------------------------------- rendering


def rows_of(items: list, columns: dict, headers: list[str]) -> pd.DataFrame:
    return table_rows(headers, [[show(item) for show in columns.values()] for item in items])


def trainable_figure(result: TuningTable) -> go.Figure:
    """Trainable parameters per method on a log axis, coloured by family."""
    figure = go.Figure()
    for family, colour in FAMILY_COLOURS.items():
        rows = [r for r in result.rows if r.family == family]
        if rows:
            figure.add_bar(
                name=t(f"tuning.family.{family}"),
                x=[method_name(r.method) for r in rows],
                y=[r.trainable for r in rows],
                marker_color=colour,
                text=[f"{r.trainable:,}" for r in rows],
                textposition="outside",
                hovertemplate="%{x}<br>%{y:,} " + t("tuning.trainable_hover") + "<extra></extra>",
            )
    figure.update_layout(
        title=t("tuning.trainable_title", model=result.model, total=result.total_params),
        yaxis_type="log",
        yaxis_title=t("tuning.trainable_axis"),
        height=420,
        margin=dict(l=50, r=10, t=50, b=120),
        legend_orientation="h",
        legend_y=1.08,
    )
    return figure


def tasks_figure(result: TuningTable) -> go.Figure:
    """How many task checkpoints fit in the space of one full fine-tuned copy."""
    rows = sorted(result.rows, key=lambda r: r.tasks_per_full_copy)
    figure = go.Figure(
        go.Bar(
            x=[r.tasks_per_full_copy for r in rows],
            y=[method_name(r.method) for r in rows],
            orientation="h",
            marker_color=[FAMILY_COLOURS[r.family] for r in rows],
            text=[t("tuning.tasks_text", tasks=r.tasks_per_full_copy, mb=r.checkpoint_mb) for r in rows],
            textposition="auto",
            hovertemplate="%{y}: %{x:,} " + t("tuning.tasks_hover") + "<extra></extra>",
        )
    )
    full_mb = next(r.checkpoint_mb for r in result.rows if r.method == "full")
    figure.update_layout(
        title=t("tuning.tasks_title", mb=full_mb),
        xaxis_type="log",
        xaxis_title=t("tuning.tasks_axis"),
        height=420,
        margin=dict(l=220, r=10, t=50, b=40),
    )
    return figure


def loss_figure(result: TrainingResult) -> go.Figure:
    figure = go.Figure()
    for run in result.runs:
        figure.add_scatter(
            x=list(range(1, len(run.losses) + 1)), y=run.losses, mode="lines+markers", name=method_name(run.method)
        )
    figure.update_layout(
        title=t("tuning.loss_title", model=result.model, lr=result.learning_rate, seed=result.seed),
        xaxis_title=t("tuning.step_axis"),
        yaxis_title=t("tuning.loss_axis"),
        height=400,
        margin=dict(l=50, r=10, t=50, b=40),
        legend_orientation="h",
        legend_y=-0.2,
    )
    return figure


# ---------------------------------------------------------------- handlers


@user_errors
def tuning_table(
    model: str = "",
    lora_r: int = 8,
    adapter_size: int = 64,
    prefix_tokens: int = 20,
    prompt_tokens: int = 20,
    num_labels: int = 2,
    progress=gr.Progress(),
):
    """One row per tuning method: trainable parameters, checkpoint size, training memory."""
    settings = TuningSettings(lora_r, adapter_size, prefix_tokens, prompt_tokens, num_labels)
    report = gradio_progress(progress)
    lm = models.get(model, progress=report)
    result = tuning.table(lm, settings, progress=report)
    return (
        rows_of(result.rows, TABLE_COLUMNS, TABLE_HEADERS),
        trainable_figure(result),
        tasks_figure(result),
        payload(result),
    )


@user_errors
def tuning_train(
    model: str = "",
    methods: list[str] | str = ("head", "lora", "full"),
    steps: int = 10,
    learning_rate: float = 1e-3,
    seed: int = 0,
    lora_r: int = 8,
    adapter_size: int = 64,
    prefix_tokens: int = 20,
    prompt_tokens: int = 20,
    progress=gr.Progress(),
):
    """Short seeded training runs of each chosen method on the sentiment set."""
    settings = TuningSettings(lora_r, adapter_size, prefix_tokens, prompt_tokens)
    report = gradio_progress(progress)
    lm = models.get(model, progress=report)
    result = tuning.train(lm, methods, steps, learning_rate, seed, settings, progress=report)
    return loss_figure(result), rows_of(result.runs, RUN_COLUMNS, RUN_HEADERS), payload(result)


# ---------------------------------------------------------------- the lecture's examples


def families_example() -> tuple:
    """The table's settings as in the notes: LoRA r=8, 20 prefix and 20 prompt tokens, adapters 64 wide."""
    return t("tuning.hint.families"), gr.skip(), 8, 64, 20, 20, 2, gr.skip(), gr.skip(), gr.skip(), gr.skip()


def forgetting_example() -> tuple:
    """Full fine-tuning vs LoRA at the same learning rate 1e-3 on SmolLM2 (training waits for a click)."""
    hint = t("tuning.hint.forgetting")
    return hint, models.BUNDLED_NAME, 8, gr.skip(), gr.skip(), gr.skip(), gr.skip(), ["full", "lora"], 10, 1e-3, 0


EXAMPLES = {"families": families_example, "forgetting": forgetting_example}


# ---------------------------------------------------------------- layout


def build() -> None:
    gr.Markdown(tr("tuning.explainer"))
    with gr.Row():
        model = model_dropdown("causal")
        num_labels = Number(2, label=tr("tuning.num_labels"), precision=0, minimum=2, maximum=tuning.MAX_LABELS)
    with gr.Row():
        lora_r = Slider(1, tuning.MAX_RANK, 8, step=1, label=tr("tuning.lora_r"))
        adapter_size = Slider(1, tuning.MAX_ADAPTER_SIZE, 64, step=1, label=tr("tuning.adapter_size"))
        prefix_tokens = Slider(1, tuning.MAX_VIRTUAL_TOKENS, 20, step=1, label=tr("tuning.prefix_tokens"))
        prompt_tokens = Slider(1, tuning.MAX_VIRTUAL_TOKENS, 20, step=1, label=tr("tuning.prompt_tokens"))
    menu = gr.Column()  # the examples menu goes here once every input it fills exists
    hint = gr.Markdown()
    with gr.Row():
        build_table = gr.Button(tr("tuning.build_table"), variant="primary")
        links.copy_button("tuning", "tuning_table")
    methods_table = table(TABLE_HEADERS, label=tr("tuning.table"), wrap=True, interactive=False)
    with gr.Row():
        trainable_plot = gr.Plot(label=tr("tuning.trainable_plot"))
        tasks_plot = gr.Plot(label=tr("tuning.tasks_plot"))
    with gr.Accordion(tr("tuning.legend_panel"), open=False):
        gr.Markdown(tr("tuning_methods.explainer"))
    with gr.Accordion(tr("tuning.table_json"), open=False):
        table_json = gr.JSON(label="tuning_table")
    code_panel(
        "tuning",
        model=model,
        lora_r=lora_r,
        prefix_tokens=prefix_tokens,
        prompt_tokens=prompt_tokens,
        num_labels=num_labels,
    )

    gr.Markdown(tr("tuning_train.explainer"))
    with gr.Row():
        methods = gr.CheckboxGroup(
            [(tr(f"tuning.method.{m.id}"), m.id) for m in METHODS.values()],
            value=["head", "lora", "full"],
            label=tr("tuning.methods"),
        )
    with gr.Row():
        steps = Slider(1, tuning.MAX_STEPS, 10, step=1, label=tr("tuning.steps"))
        learning_rate = Number(1e-3, label=tr("tuning.learning_rate"), minimum=0)
        seed = Number(0, label=tr("tuning.seed"), precision=0, minimum=0)
    train_button = gr.Button(tr("tuning.train"), variant="primary")
    loss_plot = gr.Plot(label=tr("tuning.loss_plot"))
    runs_table = table(RUN_HEADERS, label=tr("tuning.runs"), wrap=True, interactive=False)
    with gr.Accordion(tr("tuning.train_json"), open=False):
        train_json = gr.JSON(label="tuning_train")
    with menu:
        settings = [model, lora_r, adapter_size, prefix_tokens, prompt_tokens, num_labels]
        examples_menu("tuning", EXAMPLES, [hint, *settings, methods, steps, learning_rate, seed])

    build_table.click(
        tuning_table,
        [model, lora_r, adapter_size, prefix_tokens, prompt_tokens, num_labels],
        [methods_table, trainable_plot, tasks_plot, table_json],
        api_name="tuning_table",
        **SHORT_WORK,
    )
    train_button.click(
        tuning_train,
        [model, methods, steps, learning_rate, seed, lora_r, adapter_size, prefix_tokens, prompt_tokens],
        [loss_plot, runs_table, train_json],
        api_name="tuning_train",
        **LONG_WORK,
    )
    experiments.build(model)
    export.equip("tuning")
