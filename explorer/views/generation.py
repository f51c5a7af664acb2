"""The Generation tab: next-token prediction step by step, with the sampling controls visible."""

from __future__ import annotations

import html
from dataclasses import dataclass, replace

import gradio as gr
import plotly.graph_objects as go

from .. import checks, generation, models
from ..generation import GenerationRequest, GenerationResult, SamplingSettings
from . import sequence
from .common import (
    SHORT_WORK,
    Number,
    Slider,
    gradio_progress,
    json_panel,
    model_dropdown,
    payload,
    user_errors,
)

STAGE_COLOURS = ["#9ca3af", "#f59e0b", "#ef4444", "#8b5cf6", "#10b981"]
EXPLAINER = """Generate token by token. For every step the model gives a probability for each of its
49,152 tokens (**raw**); the controls then reshape that distribution, in `transformers`' order:
**repetition penalty** (tokens already used are made less likely), **temperature** (divides the
logits: < 1 sharpens, > 1 flattens), **top-k** (keeps the k most likely), **top-p** (keeps the
smallest set whose probability reaches p). Greedy decoding takes the most likely token; sampling
draws from the final distribution with the seed. Pick any step and any alternative to **branch**."""


# ---------------------------------------------------------------- rendering


def _token_html(text: str, title: str, prob: float | None, forced: bool = False) -> str:
    style = "color:#6b7280" if prob is None else f"background:hsl({120 * prob:.0f},75%,82%);color:#111"
    if forced:
        style += ";text-decoration:underline;font-weight:600"
    shown = html.escape(text).replace("\n", "↵<br>") or "∅"
    return f'<span style="{style};border-radius:3px;white-space:pre-wrap" title="{html.escape(title)}">{shown}</span>'


def text_html(result: GenerationResult) -> str:
    """The prompt in grey, then each generated token coloured by the probability it was sampled with."""
    prompt = _token_html(result.prompt, "prompt", None)
    generated = "".join(
        _token_html(
            s.token,
            f"step {i}: {s.piece!r} (id {s.token_id}) p={s.prob:.3f}, raw p={s.raw_prob:.3f}"
            + (" — chosen by you (branch)" if s.forced else ""),
            s.prob,
            s.forced,
        )
        for i, s in enumerate(result.steps)
    )
    legend = (
        '<div style="font-size:0.8em;color:#6b7280;margin-top:6px">colour = probability of the chosen token '
        '(<span style="background:hsl(0,75%,82%)">low</span> → <span style="background:hsl(120,75%,82%)">high</span>); '
        "underlined = chosen by you; hover a token for details. "
        f"{len(result.steps)} tokens, {result.tokens_per_second:.1f} tok/s, finished by {result.finish_reason}.</div>"
    )
    return f'<div style="font-family:monospace;line-height:1.9">{prompt}{generated}</div>{legend}'


def stage_figure(candidates, stages: list[str], title: str, chosen_id: int | None = None) -> go.Figure:
    """Grouped bars: each candidate's probability before and after each control."""
    labels = [f"{c.token!r}" + (" ◀" if c.token_id == chosen_id else "") for c in candidates]
    figure = go.Figure()
    for index, stage in enumerate(stages):
        figure.add_bar(
            name=stage,
            x=labels,
            y=[c.stage_probs[index] for c in candidates],
            marker_color=STAGE_COLOURS[index % len(STAGE_COLOURS)],
            hovertemplate="%{x}<br>" + stage + ": %{y:.4f}<extra></extra>",
        )
    figure.update_layout(
        title=title,
        barmode="group",
        yaxis_title="probability",
        yaxis_range=[0, 1],
        height=360,
        margin=dict(l=40, r=10, t=50, b=40),
        legend_orientation="h",
    )
    return figure


def entropy_figure(result: GenerationResult) -> go.Figure:
    steps = list(range(len(result.steps)))
    tokens = [repr(s.token) for s in result.steps]
    figure = go.Figure()
    figure.add_scatter(x=steps, y=[s.entropy_raw for s in result.steps], name="raw", text=tokens, mode="lines+markers")
    figure.add_scatter(  # dashed: under plain greedy it equals raw, and both must stay visible
        x=steps,
        y=[s.entropy for s in result.steps],
        name="after controls",
        text=tokens,
        mode="lines+markers",
        line_dash="dash",
    )
    figure.update_layout(
        title="Uncertainty per step (entropy, nats)",
        xaxis_title="step",
        yaxis_title="entropy",
        height=280,
        margin=dict(l=40, r=10, t=50, b=40),
        legend_orientation="h",
    )
    return figure


def step_figure(result: GenerationResult | None, step: int) -> go.Figure | None:
    if not result or not result.steps:
        return None
    step = max(0, min(int(step), len(result.steps) - 1))
    chosen = result.steps[step]
    return stage_figure(
        chosen.top, result.stages, f"Step {step}: chose {chosen.token!r} (p={chosen.prob:.3f})", chosen.token_id
    )


def alternatives(result: GenerationResult | None, step: int) -> gr.Dropdown:
    if not result or not result.steps:
        return gr.Dropdown(choices=[], value=None)
    step = max(0, min(int(step), len(result.steps) - 1))
    choices = [(f"{c.token!r}  p={c.prob:.3f}  raw={c.raw_prob:.3f}", c.token_id) for c in result.steps[step].top]
    return gr.Dropdown(choices=choices, value=choices[0][1])


# ---------------------------------------------------------------- handlers


@dataclass
class Session:
    """What a branch continues from: the model, the request and its result (one per browser session)."""

    model: str
    request: GenerationRequest
    result: GenerationResult


def _stream(model: str, request: GenerationRequest, progress):
    """Stream the text while generating; draw the plots and the JSON once at the end."""
    lm = models.get(model, "causal", progress=gradio_progress(progress))
    result = None
    for result in generation.stream_generation(lm, request):
        yield text_html(result), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
    last = len(result.steps) - 1
    yield (
        text_html(result),
        step_figure(result, last),
        entropy_figure(result),
        Slider(minimum=0, maximum=max(last, 1), value=last, step=1, interactive=True),
        alternatives(result, last),
        Session(model, request, result),
        payload(result),
    )


@user_errors
def generate(
    prompt: str = "The capital of France is",
    model: str = "",
    max_new_tokens: int = 32,
    do_sample: bool = False,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    repetition_penalty: float = 1.0,
    seed: int = 0,
    use_chat_template: bool = False,
    progress=gr.Progress(),
):
    """Generate up to `max_new_tokens` tokens, recording every step's distributions."""
    settings = SamplingSettings(do_sample, temperature, top_k, top_p, repetition_penalty)
    request = GenerationRequest(prompt, settings, max_new_tokens, seed, use_chat_template)
    yield from _stream(model, request, progress)


@user_errors
def branch(state: Session | None, step: int, token_id: int, max_new_tokens: int = 32, progress=gr.Progress()):
    """Replace the token at `step` by `token_id` and continue generating from there."""
    if not state:
        raise gr.Error("Generate something first, then pick a step and an alternative to branch from.")
    steps = state.result.steps
    step = checks.number(step, "step", 0, len(steps) - 1, integer=True)
    vocabulary = len(models.get(state.model, "causal").tokenizer)
    token_id = checks.number(token_id, "token_id", 0, vocabulary - 1, integer=True)
    forced = tuple(s.token_id for s in steps[:step]) + (token_id,)
    request = replace(state.request, max_new_tokens=max_new_tokens, forced_ids=forced)
    yield from _stream(state.model, request, progress)


@user_errors
def next_token(
    prompt: str = "The capital of France is",
    model: str = "",
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    repetition_penalty: float = 1.0,
    use_chat_template: bool = False,
    progress=gr.Progress(),
):
    """One forward pass: the candidates for the next token, before and after the controls."""
    lm = models.get(model, "causal", progress=gradio_progress(progress))
    settings = SamplingSettings(True, temperature, top_k, top_p, repetition_penalty)
    result = generation.next_token(lm, prompt, settings, use_chat_template=use_chat_template)
    title = (
        f"Next token after {result.prompt_tokens[-1]!r}: entropy {result.entropy_raw:.2f} → {result.entropy:.2f} nats"
    )
    return stage_figure(result.candidates[:15], result.stages, title), payload(result)


# ---------------------------------------------------------------- layout


def build() -> None:
    gr.Markdown(EXPLAINER)
    state = gr.State(None)
    with gr.Row():
        with gr.Column(scale=2):
            prompt = gr.Textbox("The capital of France is", label="Prompt", lines=3)
            model = model_dropdown("causal")
            chat = gr.Checkbox(False, label="Chat template (wrap the prompt as a user turn for instruct models)")
            max_new_tokens = Slider(1, generation.MAX_NEW_TOKENS, 32, step=1, label="Max new tokens")
            do_sample = gr.Checkbox(False, label="Sample (unticked: greedy, always the most likely token)")
            temperature = Slider(0.05, 3.0, 1.0, step=0.05, label="Temperature")
            top_k = Slider(0, 200, 0, step=1, label="Top-k (0 = off)")
            top_p = Slider(0.01, 1.0, 1.0, step=0.01, label="Top-p (1 = off)")
            repetition_penalty = Slider(0.5, 3.0, 1.0, step=0.05, label="Repetition penalty (1 = off)")
            seed = Number(0, label="Seed", precision=0, minimum=0)
            with gr.Row():
                run = gr.Button("Generate", variant="primary")
                peek = gr.Button("Next token only")
        with gr.Column(scale=3):
            text = gr.HTML(label="Generated text")
            step_plot = gr.Plot(label="The distribution at a step, before and after each control")
            with gr.Row():
                step = Slider(0, 1, 0, step=1, label="Step to inspect", interactive=False)
                alternative = gr.Dropdown(
                    choices=[],
                    label="Alternative token at that step",
                    allow_custom_value=True,
                    info="one of the step's top candidates, or any token id",
                )
            with gr.Row():
                branch_button = gr.Button("Branch: continue with this token")
            entropy_plot = gr.Plot(label="Entropy per step")
            result_json = json_panel()
    sequence.build()

    outputs = [text, step_plot, entropy_plot, step, alternative, state, result_json]
    controls = [do_sample, temperature, top_k, top_p, repetition_penalty]
    run.click(
        generate,
        [prompt, model, max_new_tokens, *controls, seed, chat],
        outputs,
        api_name="generate",
        **SHORT_WORK,
    )
    branch_button.click(
        branch,
        [state, step, alternative, max_new_tokens],
        outputs,
        api_name="branch",
        **SHORT_WORK,
    )
    peek.click(
        next_token,
        [prompt, model, temperature, top_k, top_p, repetition_penalty, chat],
        [step_plot, result_json],
        api_name="next_token",
        **SHORT_WORK,
    )
    step.release(
        lambda s, i: (step_figure(s and s.result, i), alternatives(s and s.result, i)),
        [state, step],
        [step_plot, alternative],
        api_visibility="private",
    )
