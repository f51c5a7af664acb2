"""The Generation tab: next-token prediction step by step, with the sampling controls visible."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace

import gradio as gr

from .. import checks, generation, models
from ..generation import GenerationRequest, GenerationResult, SamplingSettings
from . import export, focus, links, poll, sequence
from .common import (
    SHORT_WORK,
    Number,
    Slider,
    examples_menu,
    gradio_progress,
    json_panel,
    localized_defaults,
    model_dropdown,
    payload,
    t,
    tr,
    user_errors,
)
from .generation_figures import entropy_figure, stage_figure, step_figure, text_html
from .show_code import code_panel

# Generations, branches and peeks share forwards (explorer/generation/scheduler.py): as many run at once
# as one forward holds, the rest wait in Gradio's queue, which shows each its place.
BATCHED_WORK = (
    dict(concurrency_id="generation", concurrency_limit=generation.MAX_BATCH)
    if generation.MAX_BATCH > 1
    else SHORT_WORK
)
# Every streamed update costs the server's one event loop a few milliseconds (Gradio rebuilds each
# skipped output's component) and its reader as much again, so the streams share a budget: alone, a
# stream shows its text 10 times a second; among 32, each about every 3 s (bench/load.py).
UPDATES_PER_SECOND = 10


class _Streams:
    """How many generations stream now: each waits `running / UPDATES_PER_SECOND` s between updates."""

    def __init__(self):
        self.running = 0
        self._lock = threading.Lock()

    @contextmanager
    def one_more(self):
        with self._lock:
            self.running += 1
        try:
            yield
        finally:
            with self._lock:
                self.running -= 1


_STREAMS = _Streams()


def alternatives(result: GenerationResult | None, step: int) -> gr.Dropdown:
    if not result or not result.steps:
        return gr.Dropdown(choices=[], value=None)
    step = max(0, min(int(step), len(result.steps) - 1))
    choices = [(f"{c.label!r}  p={c.prob:.3f}  raw={c.raw_prob:.3f}", c.token_id) for c in result.steps[step].top]
    return gr.Dropdown(choices=choices, value=choices[0][1])


# ---------------------------------------------------------------- handlers


@dataclass
class Session:
    """What a branch continues from: the model, the request and its result (one per browser session)."""

    model: str
    request: GenerationRequest
    result: GenerationResult


def _stream(model: str, request: GenerationRequest, progress):
    """Stream the text while generating (paced: see `UPDATES_PER_SECOND`); draw the plots and the JSON once at the end."""
    lm = models.get(model, "causal", progress=gradio_progress(progress))
    result, shown = None, 0.0
    with _STREAMS.one_more():
        for result in generation.stream_generation(lm, request):
            if time.monotonic() - shown >= _STREAMS.running / UPDATES_PER_SECOND:
                shown = time.monotonic()
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
        raise gr.Error(t("generation.nothing_to_branch"))
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
    title = t(
        "generation.next_title", token=repr(result.prompt_tokens[-1]), raw=result.entropy_raw, final=result.entropy
    )
    return stage_figure(result.candidates[:15], result.stages, title), payload(result)


def focus_step(state: Session | None, step: int) -> focus.Panel:
    """The focus on a step's token: the position before it, in the whole generation's text (one
    cached forward for every step)."""
    if not state or not state.result.steps:
        return focus.unchanged()
    result = state.result
    step = max(0, min(int(step), len(result.steps) - 1))
    ids = result.prompt_token_ids + [s.token_id for s in result.steps]
    return focus.on_ids(result.model, ids, len(result.prompt_token_ids) + step - 1, result.steps[step].token_id)


def step_view(state: Session | None, step: int) -> tuple:
    """A step's distribution before and after each control, its alternatives, and its token's focus."""
    result = state and state.result
    return step_figure(result, step), alternatives(result, step), *focus_step(state, step)


show_step = user_errors(step_view)


@user_errors
def click_token(state: Session | None, event: gr.EventData):
    """A click on a generated token (its span carries its step): that step, as the slider would show it."""
    step = (getattr(event, "_data", None) or {}).get("step")
    if not state or not isinstance(step, int) or not 0 <= step < len(state.result.steps):
        return gr.skip(), gr.skip(), gr.skip(), *focus.unchanged()
    return Slider(value=step), *step_view(state, step)


# A click on the generated text reports the step of the token under the pointer (its data-step).
CLICK_TOKEN_JS = """
element.addEventListener('click', (event) => {
  const span = event.target.closest('[data-step]');
  if (span) trigger('click', {step: Number(span.dataset.step)});
});
"""


# ---------------------------------------------------------------- lecture examples


def _example(text: str, max_new_tokens=24, sample=False, temperature=1.0, top_k=0, top_p=1.0, penalty=1.0, seed=0):
    """Fill the controls; the prompt in the page's language; '' = the language's default model."""
    return lambda: (
        t(f"generation.example_text.{text}"),
        "",
        max_new_tokens,
        sample,
        temperature,
        top_k,
        top_p,
        penalty,
        seed,
    )


EXAMPLES = {
    "walk": _example("walk", 16),  # GPT's next-token walk-through: greedy, one token at a time
    "loop": _example("attention", 48),  # a base model repeats itself under greedy decoding …
    "penalty": _example("attention", 48, penalty=1.3),  # … and the repetition penalty breaks the loop
    "hot": _example("story", 32, True, 1.5, seed=1),  # temperature > 1: flatter, more surprising
    "nucleus": _example("story", 32, True, 0.8, 0, 0.9, seed=1),  # top-p: sample from the nucleus
}


# ---------------------------------------------------------------- layout


def build() -> None:
    gr.Markdown(tr("generation.explainer"))
    state = gr.State(None)
    with gr.Row():
        with gr.Column(scale=2):
            prompt = gr.Textbox(t("generation.default_prompt"), label=tr("generation.prompt"), lines=3)
            model = model_dropdown("causal")
            chat = gr.Checkbox(False, label=tr("generation.chat"))
            max_new_tokens = Slider(1, generation.MAX_NEW_TOKENS, 32, step=1, label=tr("generation.max_new_tokens"))
            do_sample = gr.Checkbox(False, label=tr("generation.do_sample"))
            temperature = Slider(0.05, 3.0, 1.0, step=0.05, label=tr("generation.temperature"))
            top_k = Slider(0, 200, 0, step=1, label=tr("generation.top_k"))
            top_p = Slider(0.01, 1.0, 1.0, step=0.01, label=tr("generation.top_p"))
            repetition_penalty = Slider(0.5, 3.0, 1.0, step=0.05, label=tr("generation.repetition_penalty"))
            seed = Number(0, label=tr("generation.seed"), precision=0, minimum=0)
            examples = gr.Column()  # the menu is placed here, once the controls it fills exist
            with gr.Row():
                run = gr.Button(tr("generation.run"), variant="primary")
                peek = gr.Button(tr("generation.peek"))
                links.copy_button("generation", "generate")
        with gr.Column(scale=3):
            text = gr.HTML(label=tr("generation.text"), js_on_load=CLICK_TOKEN_JS)
            gr.Markdown(tr("focus.click_hint"))
            step_plot = gr.Plot(label=tr("generation.step_plot"))
            with gr.Row():
                step = Slider(0, 1, 0, step=1, label=tr("generation.step"), interactive=False)
                alternative = gr.Dropdown(
                    choices=[],
                    label=tr("generation.alternative"),
                    allow_custom_value=True,
                    info=tr("generation.alternative_info"),
                )
            with gr.Row():
                branch_button = gr.Button(tr("generation.branch"))
            focus_panel = focus.panel()
            entropy_plot = gr.Plot(label=tr("generation.entropy_plot"))
            result_json = json_panel()
            code_panel(
                "generation",
                prompt=prompt,
                model=model,
                temperature=temperature,
                top_k=top_k,
                top_p=top_p,
                repetition_penalty=repetition_penalty,
                use_chat_template=chat,
            )
    sequence.build()
    poll.ask_the_class(poll.next_token_question, [prompt, model, chat])
    export.equip("generation")

    outputs = [text, step_plot, entropy_plot, step, alternative, state, result_json]
    controls = [do_sample, temperature, top_k, top_p, repetition_penalty]
    with examples:
        examples_menu("generation", EXAMPLES, [prompt, model, max_new_tokens, *controls, seed])
    localized_defaults([(prompt, "generation.default_prompt")])
    run.click(
        generate,
        [prompt, model, max_new_tokens, *controls, seed, chat],
        outputs,
        api_name="generate",
        **BATCHED_WORK,
    )
    branch_button.click(
        branch,
        [state, step, alternative, max_new_tokens],
        outputs,
        api_name="branch",
        **BATCHED_WORK,
    )
    peek.click(
        next_token,
        [prompt, model, temperature, top_k, top_p, repetition_penalty, chat],
        [step_plot, result_json],
        api_name="next_token",
        **BATCHED_WORK,
    )
    # Both may run the focus's forward (once per generation: later steps re-read it from the cache).
    step.release(
        show_step, [state, step], [step_plot, alternative, *focus_panel], api_visibility="private", **SHORT_WORK
    )
    text.click(click_token, state, [step, step_plot, alternative, *focus_panel], api_visibility="private", **SHORT_WORK)
