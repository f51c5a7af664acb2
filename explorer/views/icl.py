"""The In-context learning tab: zero-, one- and few-shot prompts, templates, verbalizers, calibration."""

from __future__ import annotations

import gradio as gr
import plotly.graph_objects as go

from .. import datasets, models
from .. import icl as compute
from ..icl import IclResult, SweepResult
from ..icl.label_modes import LABEL_MODES
from .common import (
    LONG_WORK,
    SHORT_WORK,
    Number,
    Slider,
    gradio_progress,
    model_dropdown,
    payload,
    t,
    tr,
    user_errors,
)

EXPLAINER = """**In-context learning** (GPT-3): an instruction, *k* demonstrations, then the query, and
no gradient update. The **template** lays out each example (`{text}` is the input, `{label}` the
answer); the **verbalizer** is the word that stands for each label. Each label is scored by the
log-probability the model gives its verbalizer word right after the prompt, and the probabilities
are renormalised over the labels. Change a label word, the seed (which demonstrations, in which
order) or *k*, and watch the answer move. **Calibration** (Zhao et al. 2021): the label
probabilities the model gives to content-free queries ("N/A", "", "[MASK]") measure its bias in
this context; dividing by them often steadies few-shot accuracy."""

DEFAULT_QUERIES = {
    "sentiment": "The soundtrack was gorgeous, but the story dragged on forever.",
    "topic": "The central bank kept rates unchanged as inflation eased.",
    "antonyms": "cold",
    compute.CUSTOM: "Is the sun a star?",
}
CUSTOM_VERBALIZERS = "yes: Yes\nno: No"
CUSTOM_EXAMPLES = """Is water wet? => yes
Can a fish climb a tree? => no
Is Paris in France? => yes
Is ice hot? => no
Do birds have feathers? => yes
Is the moon made of cheese? => no"""
RAW, CALIBRATED, BIAS, BASELINE = "#3b82f6", "#10b981", "#9ca3af", "#ef4444"


# ---------------------------------------------------------------- rendering


def label_figure(result: IclResult) -> go.Figure:
    """Bars of each label's probability, before and after calibration, with the content-free bias."""
    figure = go.Figure()
    if not result.labels:
        figure.update_layout(
            title=f"Generated answer: {result.prediction!r}"
            + (f" (data set: {result.expected!r})" if result.expected else ""),
            height=220,
            xaxis_visible=False,
            yaxis_visible=False,
        )
        return figure
    names = [f"{e.label} ({e.verbalizer!r})" for e in result.labels]
    figure.add_bar(
        x=names,
        y=[e.prob for e in result.labels],
        name="P(label)",
        marker_color=RAW,
        customdata=[[e.logprob, " | ".join(e.tokens)] for e in result.labels],
        hovertemplate="%{x}<br>P = %{y:.3f}<br>log-prob %{customdata[0]:.3f}<br>tokens: %{customdata[1]}<extra></extra>",
    )
    if result.content_free_probs:
        figure.add_bar(x=names, y=result.content_free_probs, name="content-free (bias)", marker_color=BIAS)
        figure.add_bar(
            x=names, y=[e.calibrated_prob for e in result.labels], name="calibrated", marker_color=CALIBRATED
        )
    figure.update_layout(
        barmode="group",
        yaxis_range=[0, 1],
        yaxis_title="probability (over the labels)",
        height=340,
        title=f"Prediction: {result.prediction}"
        + (f" · calibrated: {result.calibrated_prediction}" if result.calibrated_prediction else ""),
        legend_orientation="h",
        margin=dict(t=50, b=40),
    )
    return figure


def summary_markdown(result: IclResult) -> str:
    share = result.n_prompt_tokens / result.context_length
    lines = [
        f"**{result.shots}-shot prompt: {result.n_prompt_tokens:,} tokens** "
        f"({share:.1%} of {result.model}'s {result.context_length:,}-token context), scored in {result.seconds:.2f} s."
    ]
    for entry in result.labels:
        lines.append(
            f"- `{entry.label}` ← {entry.verbalizer!r} (tokens {', '.join(map(repr, entry.tokens))}): "
            f"log-prob {entry.logprob:.3f}, P {entry.prob:.3f}"
            + (f", calibrated {entry.calibrated_prob:.3f}" if entry.calibrated_prob is not None else "")
        )
    if result.expected is not None:
        lines.append(f"- generated {result.prediction!r}; the data set says {result.expected!r}")
    return "\n".join(lines)


def sweep_figure(result: SweepResult) -> go.Figure:
    """Accuracy versus shots, mean ± std over draws, with and without calibration, and the baselines."""
    shots = [p.shots for p in result.points]
    figure = go.Figure()
    series = [("accuracy", RAW)]
    if all(p.calibrated_mean is not None for p in result.points):
        series.append(("calibrated", CALIBRATED))
    for name, colour in series:  # the fields `accuracy_mean`, `accuracy_std`, `calibrated_mean`, ...
        figure.add_scatter(
            x=shots,
            y=[getattr(p, f"{name}_mean") for p in result.points],
            name=name,
            mode="lines+markers",
            line_color=colour,
            error_y=dict(type="data", array=[getattr(p, f"{name}_std") for p in result.points], visible=True),
        )
    figure.add_hline(
        y=result.majority_baseline,
        line_dash="dash",
        line_color=BASELINE,
        annotation_text=f"majority label {result.majority_baseline:.2f}",
    )
    if result.random_baseline:
        figure.add_hline(
            y=result.random_baseline,
            line_dash="dot",
            line_color=BIAS,
            annotation_text=f"random guess {result.random_baseline:.2f}",
            annotation_position="bottom right",
        )
    n = result.points[0].n_items if result.points else 0
    figure.update_layout(
        title=f"{result.task}: accuracy on {n} items vs shots (mean ± std over draws), {result.seconds:.0f} s"
        + f"<br><sup>{t('experiments.label_mode.shown', mode=t(f'experiments.label_mode.{result.label_mode}'))}</sup>",
        xaxis_title="shots (demonstrations in the prompt)",
        yaxis_title="accuracy",
        yaxis_range=[0, 1.05],
        xaxis_tickvals=shots,
        height=380,
        legend_orientation="h",
    )
    return figure


# ---------------------------------------------------------------- handlers


@user_errors
def icl(
    task: str = "sentiment",
    shots: int = 4,
    query: str = DEFAULT_QUERIES["sentiment"],
    model: str = "",
    seed: int = 0,
    use_chat_template: bool = False,
    template: str = "",
    verbalizers: str = "",
    instruction: str = "",
    custom_examples: str = "",
    calibrate: bool = True,
    progress=gr.Progress(),
):
    """Score one query with k demonstrations: the exact prompt, each label's log-prob and probability.

    Empty template/verbalizers/instruction keep the task's own; `verbalizers` is 'label: word' per line;
    task='custom' takes its labels from `verbalizers` and its demonstrations from `custom_examples`
    ('text => label' per line).
    """
    chosen = compute.resolve_task(task, template, verbalizers, instruction, custom_examples)
    lm = models.get(model, "causal", progress=gradio_progress(progress))
    result = compute.run_icl(lm, chosen, query, shots, seed, bool(use_chat_template), bool(calibrate))
    return label_figure(result), summary_markdown(result), result.prompt, payload(result)


@user_errors
def icl_sweep(
    task: str = "sentiment",
    model: str = "",
    shots_list: str = "0, 1, 2, 4, 8",
    repeats: int = 3,
    max_items: int = 40,
    seed: int = 0,
    use_chat_template: bool = False,
    template: str = "",
    verbalizers: str = "",
    instruction: str = "",
    custom_examples: str = "",
    label_mode: str = "gold",
    progress=gr.Progress(),
):
    """Accuracy versus shots over `repeats` random draws of demonstrations, with and without calibration;
    `label_mode` (gold, random, shuffled, other-task): what the demonstrations' labels show."""
    chosen = compute.resolve_task(task, template, verbalizers, instruction, custom_examples)
    report = gradio_progress(progress)
    lm = models.get(model, "causal", progress=report)
    chat = bool(use_chat_template)
    result = compute.sweep(lm, chosen, shots_list, repeats, max_items, seed, chat, report, label_mode)
    return sweep_figure(result), payload(result)


def task_defaults(task: str):
    """A task's own template, verbalizer words, instruction and an example query."""
    if task == compute.CUSTOM:
        return (
            compute.CUSTOM_TEMPLATE,
            CUSTOM_VERBALIZERS,
            "Answer each question with yes or no.",
            DEFAULT_QUERIES[task],
        )
    spec = datasets.load_task(task)
    words = "\n".join(f"{label}: {word}" for label, word in zip(spec.labels, spec.verbalizers))
    return spec.template, words, spec.instruction, DEFAULT_QUERIES.get(task, spec.items[0].text)


def show_task(task: str):
    """On a task change: its own template, words and instruction as grey placeholders (the fields stay
    empty, meaning "the task's own", so an API call naming only the task uses the task's settings).
    A custom task has no settings of its own, so its example ones are filled in."""
    *fields, query = task_defaults(task)
    if task == compute.CUSTOM:
        return *[gr.Textbox(value=f, placeholder="") for f in fields], query
    return *[gr.Textbox(value="", placeholder=f) for f in fields], query


def edit_task_settings(task: str):
    """Copy the task's own settings into the fields, to edit them."""
    return task_defaults(task)[:3]


# ---------------------------------------------------------------- layout


def build() -> None:
    gr.Markdown(EXPLAINER)
    template0, words0, instruction0, query0 = task_defaults("sentiment")
    with gr.Row():
        with gr.Column(scale=2):
            task = gr.Dropdown([*datasets.TASK_NAMES, compute.CUSTOM], value="sentiment", label="Task")
            query = gr.Textbox(query0, label="Query", lines=2)
            shots = Slider(0, compute.MAX_SHOTS, 4, step=1, label="k: demonstrations in the prompt")
            seed = Number(0, label="Seed (which demonstrations, in which order)", precision=0, minimum=0)
            chat = gr.Checkbox(
                False, label="Chat template (instruction as system turn, each demonstration a user/assistant exchange)"
            )
            calibrate = gr.Checkbox(True, label="Contextual calibration (3 content-free queries)")
            model = model_dropdown("causal")
            with gr.Accordion("Template and verbalizer", open=True):
                gr.Markdown("Empty fields use the task's own settings, shown in grey.")
                instruction = gr.Textbox("", placeholder=instruction0, label="Instruction", lines=1)
                template = gr.Textbox(
                    "", placeholder=template0, label="Template: {text} = input, {label} = answer", lines=2
                )
                verbalizers = gr.Textbox(
                    "", placeholder=words0, label="Verbalizer: one 'label: word' per line", lines=4
                )
                edit = gr.Button("Edit the task's own settings", size="sm")
                custom_examples = gr.Textbox(
                    CUSTOM_EXAMPLES,
                    label="Custom task demonstrations ('text => label' per line; task = custom)",
                    lines=5,
                )
            run = gr.Button("Score the query", variant="primary")
        with gr.Column(scale=3):
            figure = gr.Plot(label="Label probabilities")
            summary = gr.Markdown()
            prompt = gr.Textbox(label="The exact prompt fed to the model", lines=12, max_lines=30, buttons=["copy"])
            with gr.Accordion("JSON (what /icl returns)", open=False):
                result_json = gr.JSON()
    with gr.Accordion("Sweep: accuracy vs shots", open=True):
        with gr.Row():
            shots_list = gr.Textbox("0, 1, 2, 4, 8", label="Shot counts")
            repeats = Slider(1, compute.MAX_REPEATS, 3, step=1, label="Draws of demonstrations per shot count")
            max_items = Slider(4, compute.MAX_ITEMS, 40, step=1, label="Evaluation items")
            label_mode = gr.Dropdown(
                [(tr(f"experiments.label_mode.{mode}"), mode) for mode in LABEL_MODES],
                value="gold",
                label=tr("experiments.label_mode"),
                info=tr("experiments.label_mode_info"),
            )
            sweep_button = gr.Button("Run the sweep", variant="primary")
        sweep_plot = gr.Plot(label="Accuracy vs shots")
        with gr.Accordion("JSON (what /icl_sweep returns)", open=False):
            sweep_json = gr.JSON()

    editable = [template, verbalizers, instruction, custom_examples]
    run.click(
        icl,
        [task, shots, query, model, seed, chat, *editable, calibrate],
        [figure, summary, prompt, result_json],
        api_name="icl",
        **SHORT_WORK,
    )
    sweep_button.click(
        icl_sweep,
        [task, model, shots_list, repeats, max_items, seed, chat, *editable, label_mode],
        [sweep_plot, sweep_json],
        api_name="icl_sweep",
        **LONG_WORK,
    )
    task.change(show_task, task, [template, verbalizers, instruction, query], api_visibility="private")
    edit.click(edit_task_settings, task, [template, verbalizers, instruction], api_visibility="private")
