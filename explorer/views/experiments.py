"""The notes' tuning experiments, runnable inside the Tuning tab: forgetting and its remedies,
prompt-based fine-tuning vs a new head, and how few parameters suffice.

Each handler streams: it yields the chart after every finished run, so the runs appear as they end
and the Stop button cancels the experiment at the next run (Gradio cancels a generator between yields).
Handlers and layout only: compute lives in `explorer/tuning/`, charts in `experiments_figures.py`.
"""

from __future__ import annotations

import gradio as gr

from .. import models
from ..tuning import budget, few_shot, remedies
from ..tuning.budget import BudgetConfig
from ..tuning.few_shot import PromptVsHeadConfig
from ..tuning.remedies import RemediesConfig
from .common import LONG_WORK, Number, Slider, gradio_progress, json_panel, model_dropdown, payload, tr, user_errors
from .experiments_figures import budget_figure, placement_figure, prompt_vs_head_figure, remedies_figure

# The list-valued defaults as the text boxes show them.
PromptVsHeadConfig.sizes, BudgetConfig.ranks, BudgetConfig.prompt_lengths = (
    ", ".join(map(str, values))
    for values in (PromptVsHeadConfig.sizes, BudgetConfig.ranks, BudgetConfig.prompt_lengths)
)


# ---------------------------------------------------------------- handlers (streaming: cancellable between runs)


def streamed(model: str, progress, run, config, *charts):
    """What every experiment's handler does: load the model, then after each finished run (`run` yields
    the result so far) yield the result's charts and its payload."""
    report = gradio_progress(progress)
    lm = models.get(model, progress=report)
    for result in run(lm, config, report):
        yield *(chart(result) for chart in charts), payload(result)


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
    config = RemediesConfig(steps, learning_rate, replay_ratio, l2sp_strength, ewc, lora_r, lora_learning_rate, seed)
    yield from streamed(model, progress, remedies.iter_remedies, config, remedies_figure)


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
    config = PromptVsHeadConfig(sizes, repeats, steps, learning_rate, seed)
    yield from streamed(model, progress, few_shot.iter_prompt_vs_head, config, prompt_vs_head_figure)


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
    config = BudgetConfig(ranks, prompt_lengths, steps, learning_rate, prompt_learning_rate, seed)
    yield from streamed(model, progress, budget.iter_budget, config, budget_figure, placement_figure)


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
