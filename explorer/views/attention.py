"""The Attention tab: who attends to whom, per layer and head; BertViz's views; a logit lens.

Handlers and layout only: compute lives in `explorer/attention/`, heatmaps in `attention_figures.py`,
the all-heads mosaic in `attention_mosaic.py`, the logit-lens table in `attention_lens.py`, the notes
in `attention_notes.py`, BertViz's page in `bertviz_frame.py`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import gradio as gr
import plotly.graph_objects as go

from .. import models
from ..attention import forward, patterns
from ..attention.logit_lens import MAX_TOP_K
from ..attention.logit_lens import logit_lens as read_lens
from ..models import GEMMA_NAME
from . import attention_figures as figures
from . import attention_lens, attention_mosaic, attention_notes, bertviz_frame, export, links
from . import focus as token_focus
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
from .show_code import code_panel

DEFAULT_TEXT = "The quick brown fox jumps over the lazy dog. The quick brown fox"  # the API's default (English)
INDUCTION_HEADS = {"SmolLM2-135M-Instruct": (18, 6), "Gemma-3-270M": (5, 1)}  # measured on the example's text


class Shown(NamedTuple):
    """/attention's outputs, in the API's order (the payload last). The handler fills it with values,
    the layout with the components they go to: the order is written here only."""

    heatmap: Any
    heads: Any
    mosaic: Any
    patterns: Any
    heads_note: Any  # key/value sharing, and what the chosen layer may read
    bertviz_info: Any
    head_view: Any
    model_view: Any
    causal_plot: Any
    compare_plot: Any
    compare_note: Any
    layer: Any
    head: Any
    state: Any  # what the layer/head sliders re-read: {"text", "model", "num_layers", "num_heads"}
    result_json: Any


def heads_note(run: forward.Forward, layer: int) -> str:
    return "\n\n".join(note for note in (attention_notes.gqa_note(run), attention_notes.layer_note(run, layer)) if note)


def comparison(view: patterns.AttentionView) -> tuple[go.Figure | None, str]:
    """The other kind of model's mean attention on the same text, and a line saying which it is."""
    other = view.other
    if other is None:
        return None, t("attention.no_masked")
    kind = t("attention.kind.causal_short") if other.causal else t("attention.kind.bidirectional_short")
    title = t("attention.other_title", model=other.model, layer=view.other_layer, heads=other.num_heads, kind=kind)
    figure = figures.heatmap_figure(other, view.other_layer, -1, title, height=480)
    return figure, t("attention.beside", model=other.model)


def draw(view: patterns.AttentionView, text: str, model: str) -> Shown:
    """Every picture of one text, from the compute result."""
    run, layer, head = view.run, view.matrix.layer, view.matrix.head
    compare_plot, compare_note = comparison(view)
    return Shown(
        heatmap=figures.heatmap_figure(run, layer, head),
        heads=figures.heads_figure(run, layer, head),
        mosaic=attention_mosaic.mosaic_image(run),
        patterns=figures.patterns_figure(run),
        heads_note=heads_note(run, layer),
        bertviz_info=bertviz_frame.note(run, layer),
        head_view=bertviz_frame.frame(run, "head", layer),
        model_view=bertviz_frame.frame(run, "model", layer),
        causal_plot=figures.heatmap_figure(run, layer, -1, height=480),
        compare_plot=gr.Plot(value=compare_plot, visible=compare_plot is not None),
        compare_note=compare_note,
        layer=Slider(maximum=run.num_layers - 1, value=layer),
        head=Slider(maximum=run.num_heads - 1, value=head),
        state={"text": text, "model": model, "num_layers": run.num_layers, "num_heads": run.num_heads},
        result_json=payload(view.matrix),
    )


# ---------------------------------------------------------------- handlers


@user_errors
def show_attention(text: str = DEFAULT_TEXT, model: str = "", layer: int = 0, head: int = -1, progress=gr.Progress()):
    """One layer's attention (one head, or the mean for head = -1), and every other view of the same forward."""
    report = gradio_progress(progress)
    loaded = models.get(model, attn="eager", progress=report)
    return draw(patterns.show(loaded, text, layer, head, report), text, model)


@user_errors
def switch(state: dict | None, layer: int = 0, head: int = -1):
    """Another layer or head of the text already shown: re-read from the cached forward. A value its
    model lacks (a lecture example set the sliders for another model) waits for *Show attention*."""
    fits = state and 0 <= int(layer) < state["num_layers"] and -1 <= int(head) < state["num_heads"]
    if not fits:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    loaded = models.get(state["model"], attn="eager")
    result = patterns.attention(loaded, state["text"], layer, head)
    run = forward.forward(loaded, state["text"])
    return (
        figures.heatmap_figure(run, result.layer, result.head),
        figures.heads_figure(run, result.layer, result.head),
        heads_note(run, result.layer),
        payload(result),
    )


def pick_tile(state: dict | None, event: gr.SelectData):
    """A click on the mosaic selects that layer and head (the sliders' change redraws)."""
    cell = state and attention_mosaic.mosaic_cell(*event.index, state["num_layers"], state["num_heads"])
    if not cell:
        return gr.skip(), gr.skip()
    return cell


@user_errors
def logit_lens(text: str = DEFAULT_TEXT, model: str = "", top_k: int = 5, progress=gr.Progress()):
    """Each layer's top-k next-token predictions at each position (final norm + LM head on its hidden state)."""
    report = gradio_progress(progress)
    loaded = models.get(model, "causal", attn="eager", progress=report)
    lens = read_lens(loaded, text, top_k, report)
    return attention_lens.lens_html(lens), payload(lens)


# ---------------------------------------------------------------- lecture examples


def _example(text_key: str, model: str, layer: int, head: int) -> tuple:
    """A text, a model and a layer and head (the sliders sized for that model: loading it is needed anyway)."""
    config = models.get(model, attn="eager").model.config
    return (
        t(text_key),
        model,
        Slider(maximum=config.num_hidden_layers - 1, value=layer),
        Slider(maximum=config.num_attention_heads - 1, value=head),
    )


def causal_example() -> tuple:
    """The causal mask: a short text, the mean over the first layer's heads (and the *Causal vs bidirectional* tab)."""
    return _example("attention.example_text.causal", "", 0, -1)


def induction_example() -> tuple:
    """A repeated random sequence: the second copy reads the token after its first occurrence."""
    layer, head = INDUCTION_HEADS.get(models.default_model("causal"), (0, -1))
    return _example("attention.example_text.induction", "", layer, head)


def gemma_example() -> tuple:
    """Gemma 3's single key/value head: its 4 query heads read the same keys through different queries."""
    return _example("attention.example_text.gemma", GEMMA_NAME, 0, 0)


EXAMPLES = {"causal": causal_example, "induction": induction_example, "gemma": gemma_example}


# ---------------------------------------------------------------- layout


def build() -> None:
    gr.Markdown(tr("attention.explainer"))
    state = gr.State(None)
    with gr.Row():
        with gr.Column(scale=2):
            text = gr.Textbox(
                t("attention.default_text"), label=tr("attention.text"), lines=3, info=tr("attention.text_info")
            )
            localized_defaults([(text, "attention.default_text")])
            model = model_dropdown("causal")
            run = gr.Button(tr("attention.run"), variant="primary")
            links.copy_button("attention", "attention")
            layer = Slider(0, 29, 0, step=1, label=tr("attention.layer_slider"))
            head = Slider(-1, 8, -1, step=1, label=tr("attention.head_slider"))
            examples_menu("attention", EXAMPLES, [text, model, layer, head])
            note = gr.Markdown()
        with gr.Column(scale=3):
            heatmap = gr.Plot(label=tr("attention.heatmap"))
            result_json = json_panel()
            code_panel("attention", text=text, model=model, layer=layer, head=head)
    with gr.Tab(tr("attention.tab.heads")):
        heads = gr.Plot(label=tr("attention.heads"))
    with gr.Tab(tr("attention.tab.mosaic")):
        gr.Markdown(tr("attention.mosaic_hint"))
        with gr.Row():
            mosaic = gr.Image(label=tr("attention.mosaic"), type="pil", interactive=False, scale=1)
            head_patterns = gr.Plot(label=tr("attention.patterns"), scale=2)
    with gr.Tab(tr("attention.tab.bertviz")):
        bertviz_info = gr.Markdown()
        with gr.Tab(tr("attention.bertviz.head_view")):
            head_view = gr.HTML()
        with gr.Tab(tr("attention.bertviz.model_view")):
            model_view = gr.HTML()
    with gr.Tab(tr("attention.tab.causal")):
        gr.Markdown(tr("attention_causal.explainer"))
        compare_note = gr.Markdown()
        with gr.Row():
            causal_plot = gr.Plot(label=tr("attention.causal_plot"))
            compare_plot = gr.Plot(label=tr("attention.compare_plot"), visible=False)
    with gr.Tab(tr("attention.tab.lens")):
        gr.Markdown(tr("attention_lens.explainer"))
        with gr.Row():
            top_k = Slider(1, MAX_TOP_K, 5, step=1, label=tr("attention.top_k"))
            lens_button = gr.Button(tr("attention.lens_run"))
        lens_table = gr.HTML()
        lens_json = json_panel()
    with gr.Tab(tr("focus.tab")):
        with gr.Row():
            position = Number(-1, label=tr("focus.position"), precision=0)
            token_id = Number(-1, label=tr("focus.token_id"), precision=0)
            focus_button = gr.Button(tr("focus.run"))
        focus_panel = token_focus.panel()

    outputs = Shown(
        heatmap=heatmap,
        heads=heads,
        mosaic=mosaic,
        patterns=head_patterns,
        heads_note=note,
        bertviz_info=bertviz_info,
        head_view=head_view,
        model_view=model_view,
        causal_plot=causal_plot,
        compare_plot=compare_plot,
        compare_note=compare_note,
        layer=layer,
        head=head,
        state=state,
        result_json=result_json,
    )
    run.click(show_attention, [text, model, layer, head], list(outputs), api_name="attention", **SHORT_WORK)
    for slider in (layer, head):
        slider.change(
            switch,
            [state, layer, head],
            [heatmap, heads, note, result_json],
            api_visibility="private",
            trigger_mode="always_last",
            show_progress="hidden",
        )
    mosaic.select(pick_tile, state, [layer, head], api_visibility="private")
    lens_button.click(logit_lens, [text, model, top_k], [lens_table, lens_json], api_name="logit_lens", **SHORT_WORK)
    focus_button.click(
        token_focus.token_focus,
        [text, model, position, token_id],
        list(focus_panel),
        api_name="token_focus",
        **SHORT_WORK,
    )
    export.equip("attention")
