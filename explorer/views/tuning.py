"""The Tuning tab: full fine-tuning vs delta tuning, counted on the real model and trained for real."""

from __future__ import annotations

import gradio as gr
import plotly.graph_objects as go

from .. import models, tuning
from ..tuning import FAMILIES, METHODS, TrainingResult, TuningSettings, TuningTable
from . import experiments
from .common import (
    LONG_WORK,
    SHORT_WORK,
    Number,
    Slider,
    gradio_progress,
    model_dropdown,
    payload,
    user_errors,
)

FAMILY_COLOURS = {"full": "#6b7280", "addition": "#3b82f6", "specification": "#10b981", "reparameterization": "#f59e0b"}
EXPLAINER = f"""Fine-tuning every weight gives each task **a whole copy of the model** (hundreds of MB) and can make
the model **forget** what it knew. *Delta tuning* (Ding et al.) trains a tiny delta instead, in three families:
**addition** (new modules or tokens: adapters, prefix and prompt tuning, IA³), **specification** (a chosen few of
the original parameters: the classifier head, BitFit's biases, the norm layers) and **reparameterization**
(the update written in low-dimensional form: LoRA, AdaLoRA, VeRA).

Every count below comes from the instantiated model (`requires_grad` after set-up; `peft`'s own models for the
`peft` methods), every checkpoint size from the trainable state really written to a file. The model becomes a
`num_labels`-class classifier; its new head is trained (and counted) by every method.
Defaults: LoRA/AdaLoRA/VeRA on `peft`'s default target modules for the architecture (q_proj and v_proj for Llama
and Gemma 3) with rank `lora_r`; IA³ on `peft`'s defaults (Llama: k_proj, v_proj, down_proj; Gemma 3: q_proj
instead of k_proj); prompt tuning with `prompt_tokens`
virtual tokens; prefix tuning with `prefix_tokens` per layer; bottleneck adapters of width `adapter_size` after
every attention and feed-forward block. Memory = weights + gradients + Adam's two states for the trained part
plus the activations autograd saves for a batch of {tuning.BATCH_SIZE} sentences × {tuning.MEMORY_SEQ_LEN} tokens (fp32).
Bottleneck adapters and BitFit are written by hand: `peft` has neither."""
TRAIN_EXPLAINER = f"""Train on the shared sentiment set (positive/negative reviews, every 4th item held out), batches of
{tuning.BATCH_SIZE} sentences, Adam, the same seeded batches for every method. **Accuracy** is on the held-out
reviews; **perplexity** is the language model's on a fixed general passage (about the printing press) read
through the tuned network: it rises when tuning makes the model forget. Full fine-tuning usually wants a smaller
learning rate (1e-5 to 1e-4) than delta methods (1e-3 and up): try both. At most {tuning.MAX_STEPS} steps;
a run whose loss becomes NaN stops and says so, the others go on."""
METHODS_LEGEND = "\n".join(
    f"- **{family}**: {text}\n"
    + "\n".join(f"  - {m.name}: {m.summary}" for m in METHODS.values() if m.family == family)
    for family, text in FAMILIES.items()
)


def pair(before: float, after: float, fmt: str) -> str:
    return f"{before:{fmt}} → {after:{fmt}}"


# One column per entry: its header and how a row shows in it.
TABLE_COLUMNS = {
    "method": lambda r: r.name,
    "family": lambda r: r.family,
    "trainable": lambda r: f"{r.trainable:,}",
    "% of model": lambda r: f"{r.percent:.3g}",
    "checkpoint (MB)": lambda r: f"{r.checkpoint_mb:.3g}",
    "tasks per full copy": lambda r: f"{r.tasks_per_full_copy:,}",
    "training memory (MB)": lambda r: f"{r.memory_mb:,.0f}",
    "activations (MB)": lambda r: f"{r.activations_mb:,.1f}",
    "note": lambda r: r.note,
}
RUN_COLUMNS = {
    "method": lambda r: r.name,
    "trainable": lambda r: f"{r.trainable:,}",
    "steps": lambda r: r.steps_done,
    "first → last loss": lambda r: pair(r.losses[0], r.losses[-1], ".3f") if r.losses else "—",
    "accuracy before → after": lambda r: pair(r.accuracy_before, r.accuracy, ".0%"),
    "s / step": lambda r: f"{r.seconds_per_step:.2f}",
    "peak memory (MB)": lambda r: f"{r.peak_mem_mb:,.0f}",
    "perplexity before → after": lambda r: pair(r.ppl_before, r.ppl_after, ".1f"),
    "stopped": lambda r: r.stopped or "",
}


# ---------------------------------------------------------------- rendering


def rows_of(items: list, columns: dict) -> list[list]:
    return [[show(item) for show in columns.values()] for item in items]


def trainable_figure(result: TuningTable) -> go.Figure:
    """Trainable parameters per method on a log axis, coloured by family."""
    figure = go.Figure()
    for family, colour in FAMILY_COLOURS.items():
        rows = [r for r in result.rows if r.family == family]
        if rows:
            figure.add_bar(
                name=family,
                x=[r.name for r in rows],
                y=[r.trainable for r in rows],
                marker_color=colour,
                text=[f"{r.trainable:,}" for r in rows],
                textposition="outside",
                hovertemplate="%{x}<br>%{y:,} trainable parameters<extra></extra>",
            )
    figure.update_layout(
        title=f"Trainable parameters per method<br><sup>{result.model}: {result.total_params:,} in all</sup>",
        yaxis_type="log",
        yaxis_title="trainable parameters (log scale)",
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
            y=[r.name for r in rows],
            orientation="h",
            marker_color=[FAMILY_COLOURS[r.family] for r in rows],
            text=[f"{r.tasks_per_full_copy:,} ({r.checkpoint_mb:.3g} MB each)" for r in rows],
            textposition="auto",
            hovertemplate="%{y}: %{x:,} tasks<extra></extra>",
        )
    )
    full_mb = next(r.checkpoint_mb for r in result.rows if r.method == "full")
    figure.update_layout(
        title=f"Tasks you could store in the space of one full copy ({full_mb:,.0f} MB)",
        xaxis_type="log",
        xaxis_title="task checkpoints (log scale)",
        height=420,
        margin=dict(l=220, r=10, t=50, b=40),
    )
    return figure


def loss_figure(result: TrainingResult) -> go.Figure:
    figure = go.Figure()
    for run in result.runs:
        figure.add_scatter(x=list(range(1, len(run.losses) + 1)), y=run.losses, mode="lines+markers", name=run.name)
    figure.update_layout(
        title=f"Training loss ({result.model}, lr {result.learning_rate:g}, seed {result.seed})",
        xaxis_title="step",
        yaxis_title="cross-entropy",
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
    lm = models.get(model, "causal", progress=report)
    result = tuning.table(lm, settings, progress=report)
    return rows_of(result.rows, TABLE_COLUMNS), trainable_figure(result), tasks_figure(result), payload(result)


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
    lm = models.get(model, "causal", progress=report)
    result = tuning.train(lm, methods, steps, learning_rate, seed, settings, progress=report)
    return loss_figure(result), rows_of(result.runs, RUN_COLUMNS), payload(result)


# ---------------------------------------------------------------- layout


def build() -> None:
    gr.Markdown(EXPLAINER)
    with gr.Row():
        model = model_dropdown("causal")
        num_labels = Number(2, label="num_labels (classes)", precision=0, minimum=2, maximum=tuning.MAX_LABELS)
    with gr.Row():
        lora_r = Slider(1, tuning.MAX_RANK, 8, step=1, label="lora_r (LoRA, AdaLoRA, VeRA rank)")
        adapter_size = Slider(1, tuning.MAX_ADAPTER_SIZE, 64, step=1, label="adapter_size (bottleneck width)")
        prefix_tokens = Slider(1, tuning.MAX_VIRTUAL_TOKENS, 20, step=1, label="prefix_tokens")
        prompt_tokens = Slider(1, tuning.MAX_VIRTUAL_TOKENS, 20, step=1, label="prompt_tokens")
    build_table = gr.Button("Build the table", variant="primary")
    table = gr.Dataframe(headers=list(TABLE_COLUMNS), label="One row per method", wrap=True, interactive=False)
    with gr.Row():
        trainable_plot = gr.Plot(label="Trainable parameters")
        tasks_plot = gr.Plot(label="Tasks per full copy")
    with gr.Accordion("The methods, by family", open=False):
        gr.Markdown(METHODS_LEGEND)
    with gr.Accordion("JSON (what /tuning_table returns)", open=False):
        table_json = gr.JSON(label="tuning_table")

    gr.Markdown("### Short real training runs\n" + TRAIN_EXPLAINER)
    with gr.Row():
        methods = gr.CheckboxGroup(
            [(m.name, m.id) for m in METHODS.values()], value=["head", "lora", "full"], label="Methods to train"
        )
    with gr.Row():
        steps = Slider(1, tuning.MAX_STEPS, 10, step=1, label="Steps")
        learning_rate = Number(1e-3, label="Learning rate", minimum=0)
        seed = Number(0, label="Seed", precision=0, minimum=0)
    train_button = gr.Button("Train", variant="primary")
    loss_plot = gr.Plot(label="Loss curves")
    runs_table = gr.Dataframe(headers=list(RUN_COLUMNS), label="Results", wrap=True, interactive=False)
    with gr.Accordion("JSON (what /tuning_train returns)", open=False):
        train_json = gr.JSON(label="tuning_train")

    build_table.click(
        tuning_table,
        [model, lora_r, adapter_size, prefix_tokens, prompt_tokens, num_labels],
        [table, trainable_plot, tasks_plot, table_json],
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
