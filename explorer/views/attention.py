"""The Attention tab: who attends to whom, per layer and head; BertViz's views; a logit lens.

Handlers and layout only: compute lives in `explorer/attention/`, pictures in `attention_figures.py`,
BertViz's page in `bertviz_frame.py`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import gradio as gr
import plotly.graph_objects as go

from .. import models
from ..attention import forward, patterns
from ..attention.logit_lens import MAX_TOP_K
from ..attention.logit_lens import logit_lens as read_lens
from . import attention_figures as figures
from . import bertviz_frame
from .common import SHORT_WORK, Slider, gradio_progress, model_dropdown, payload, user_errors

DEFAULT_TEXT = "The quick brown fox jumps over the lazy dog. The quick brown fox"
EXPLAINER = """Each layer's attention mixes information between positions: the row of **query** token *i* says
how much of each **key** token *j* it reads (the weights of a row sum to 1). These are the model's own weights
(eager attention, `output_attentions=True`), from one forward pass per text: switching layer or head re-reads it.
**Head −1** is the mean over the layer's heads. The repeated phrase in the default text shows *induction heads*
(the second "quick brown fox" attends to the token after the first one), *previous-token heads* (the diagonal just
below the main one) and the *attention sink* (many heads park their weight on the first token). In SmolLM2 try
layer 17, head 4 (induction), layer 16, head 0 (previous token) and the *All layers × heads* tab. Gemma 3 shares one
key/value head between its 4 query heads, and most of its layers read only a sliding window of recent tokens."""
CAUSAL_EXPLAINER = """**Causal vs bidirectional.** A causal (GPT-style) model predicts the next token, so position *i*
may only read positions ≤ *i*: its attention matrices are **lower-triangular** (everything above the diagonal is
exactly 0, masked before the softmax). A masked (BERT-style) model fills in blanks, so every position reads the
whole text, left *and* right: its matrices are **full**. Compare the triangle on the left with the square on the right."""
NO_MASKED = """*No masked (BERT-style) model is available here: offline only the bundled causal models are.
Run once with a network (bert-base-uncased is then cached) and its full, bidirectional attention appears here
beside the causal triangle.*"""
LENS_EXPLAINER = """**Logit lens:** read every layer's hidden state through the model's final norm and LM head, as if
the model stopped there. Rows are layers (embeddings at the top, the last layer — the model's real prediction — at the
bottom), columns are positions; each cell is that layer's most likely **next** token, coloured by its probability.
Hover a cell for the top-k; a cell is underlined when it predicts the actual next token of the text (the same token
id, not merely the same-looking text)."""


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
    return "\n\n".join(note for note in (figures.gqa_note(run), figures.layer_note(run, layer)) if note)


def comparison(view: patterns.AttentionView) -> tuple[go.Figure | None, str]:
    """The other kind of model's mean attention on the same text, and a line saying which it is."""
    other = view.other
    if other is None:
        return None, NO_MASKED
    kind = "causal" if other.causal else "bidirectional"
    title = f"{other.model} — layer {view.other_layer}, mean of its {other.num_heads} heads ({kind})"
    figure = figures.heatmap_figure(other, view.other_layer, -1, title, height=480)
    return figure, f"Beside it: **{other.model}** on the same text."


def draw(view: patterns.AttentionView, text: str, model: str) -> Shown:
    """Every picture of one text, from the compute result."""
    run, layer, head = view.run, view.matrix.layer, view.matrix.head
    compare_plot, compare_note = comparison(view)
    return Shown(
        heatmap=figures.heatmap_figure(run, layer, head),
        heads=figures.heads_figure(run, layer, head),
        mosaic=figures.mosaic_image(run),
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
    """Another layer or head of the text already shown: re-read from the cached forward."""
    if not state:
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
    cell = state and figures.mosaic_cell(*event.index, state["num_layers"], state["num_heads"])
    if not cell:
        return gr.skip(), gr.skip()
    return cell


@user_errors
def logit_lens(text: str = DEFAULT_TEXT, model: str = "", top_k: int = 5, progress=gr.Progress()):
    """Each layer's top-k next-token predictions at each position (final norm + LM head on its hidden state)."""
    report = gradio_progress(progress)
    loaded = models.get(model, "causal", attn="eager", progress=report)
    lens = read_lens(loaded, text, top_k, report)
    return figures.lens_html(lens), payload(lens)


# ---------------------------------------------------------------- layout


def build() -> None:
    gr.Markdown(EXPLAINER)
    state = gr.State(None)
    with gr.Row():
        with gr.Column(scale=2):
            text = gr.Textbox(DEFAULT_TEXT, label="Text", lines=3, info=f"At most {forward.MAX_TOKENS} tokens.")
            model = model_dropdown("causal")
            run = gr.Button("Show attention", variant="primary")
            layer = Slider(0, 29, 0, step=1, label="Layer")
            head = Slider(-1, 8, -1, step=1, label="Head (−1 = mean over the layer's heads)")
            note = gr.Markdown()
        with gr.Column(scale=3):
            heatmap = gr.Plot(label="Attention weights")
            with gr.Accordion("JSON (what the API returns)", open=False):
                result_json = gr.JSON()
    with gr.Tab("This layer's heads"):
        heads = gr.Plot(label="Every head of the chosen layer")
    with gr.Tab("All layers × heads"):
        gr.Markdown("Every head of every layer (colour = √weight). **Click a tile** to show that layer and head above.")
        with gr.Row():
            mosaic = gr.Image(label="Layers (rows) × heads (columns)", type="pil", interactive=False, scale=1)
            head_patterns = gr.Plot(label="Head patterns", scale=2)
    with gr.Tab("BertViz"):
        bertviz_info = gr.Markdown()
        with gr.Tab("Head view"):
            head_view = gr.HTML()
        with gr.Tab("Model view"):
            model_view = gr.HTML()
    with gr.Tab("Causal vs bidirectional"):
        gr.Markdown(CAUSAL_EXPLAINER)
        compare_note = gr.Markdown()
        with gr.Row():
            causal_plot = gr.Plot(label="This model (mean over heads)")
            compare_plot = gr.Plot(label="The other kind of model", visible=False)
    with gr.Tab("Logit lens"):
        gr.Markdown(LENS_EXPLAINER)
        with gr.Row():
            top_k = Slider(1, MAX_TOP_K, 5, step=1, label="Top-k per cell (hover)")
            lens_button = gr.Button("Run the logit lens")
        lens_table = gr.HTML()
        with gr.Accordion("JSON (what the API returns)", open=False):
            lens_json = gr.JSON()

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
