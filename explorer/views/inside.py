"""The Inside the Transformer tab: one head step by step, why √d_k, score variants, positions, the block."""

from __future__ import annotations

import gradio as gr

from .. import models
from ..inside import block as block_compute
from ..inside import positions as positions_compute
from ..inside import scaling, scores, steps
from ..models import GEMMA_NAME
from . import inside_diagrams as diagrams
from . import inside_figures as figures
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

DEFAULT_TEXT = "The quick brown fox jumps over the lazy dog. The quick brown fox"  # the API's default (English)


@user_errors
def attention_steps(text: str = DEFAULT_TEXT, model: str = "", layer: int = 0, head: int = 0, progress=gr.Progress()):
    """Every intermediate of one head for the text: hidden, Q, K, V, scores, scaled, mask, weights, output."""
    lm = models.get(model, attn="eager", progress=gradio_progress(progress))
    result = steps.attention_steps(lm, text, layer, head)
    return (
        figures.steps_note(result),
        *figures.step_figures(result),
        Slider(maximum=result.num_layers - 1, value=result.layer),
        Slider(maximum=result.num_heads - 1, value=result.head),
        payload(result),
    )


@user_errors
def sqrt_dk(d: int = 64, seed: int = 0, text: str = DEFAULT_TEXT, model: str = "", progress=gr.Progress()):
    """Score spread and softmax entropy against d, scaled or not, on random vectors and on the model's heads."""
    lm = models.get(model, attn="eager", progress=gradio_progress(progress))
    result = scaling.sqrt_dk(lm, text, d, seed)
    return (
        figures.spread_figure(result.random),
        figures.example_figure(result.random),
        figures.model_spread_figure(result.model, result.layers),
        payload(result),
    )


@user_errors
def redraw_random(d: int = 64, seed: int = 0):
    """The slider's redraw: the random part only (no model)."""
    random = scaling.random_spread(d, seed)
    return figures.spread_figure(random), figures.example_figure(random)


@user_errors
def score_variants(
    decoder_state: str = scores.DEFAULT_S,
    encoder_states: str = scores.DEFAULT_H,
    W: str = "",
    W1: str = "",
    W2: str = "",
    v: str = "",
    seed: int = 0,
):
    """Dot-product, scaled, multiplicative and additive scores, their weights and context vectors."""
    result = scores.score_variants(decoder_state, encoder_states, W, W1, W2, v, seed)
    return figures.variants_table(result), figures.variants_figure(result), payload(result)


@user_errors
def positions(model: str = "", positions: int = 64, dim: int = 128, seed: int = 0, progress=gr.Progress()):
    """The sinusoidal encoding and the model's rotary one (from its config), and which the model uses."""
    lm = models.get(model, attn="eager", progress=gradio_progress(progress))  # the copy the other views load
    result = positions_compute.positions(lm, positions, dim, seed)
    return (
        diagrams.positions_note(result),
        diagrams.sinusoid_figure(result),
        diagrams.rotary_figure(result),
        payload(result),
    )


@user_errors
def block(text: str = DEFAULT_TEXT, model: str = "", progress=gr.Progress()):
    """The notes' block beside the model's, the parameters per component, the residual stream's norm."""
    lm = models.get(model, attn="eager", progress=gradio_progress(progress))
    result = block_compute.block(lm, text)
    return (
        diagrams.block_html(result),
        diagrams.parameters_table(result),
        diagrams.residual_figure(result),
        payload(result),
    )


# ---------------------------------------------------------------- lecture examples

# The menu fills these inputs (in this order); an example leaves the others as they are.
EXAMPLE_INPUTS = (
    *("text", "model", "layer", "head"),  # shared, and one head step by step
    *("d", "seed"),  # why √d_k
    *("s", "h", "w", "w1", "w2", "v", "variant_seed"),  # score variants
    *("count", "dim", "position_seed"),  # positions
)


def _filled(**values) -> tuple:
    """The example's values for EXAMPLE_INPUTS, gr.skip() for the inputs it leaves alone."""
    return tuple(values.get(name, gr.skip()) for name in EXAMPLE_INPUTS)


def scores_example() -> tuple:
    """The notes' toy example: s and h₁ … h₄, every learned matrix drawn from seed 0."""
    return _filled(s=scores.DEFAULT_S, h=scores.DEFAULT_H, w="", w1="", w2="", v="", variant_seed=0)


def sqrt_64_example() -> tuple:
    """√d_k at d = 64 (SmolLM2's d_k): the unscaled scores already spread over ±8."""
    return _filled(d=64, seed=0)


def sqrt_1024_example() -> tuple:
    """√d_k at d = 1024: without the scale the softmax is one-hot."""
    return _filled(d=1024, seed=0)


def positions_example() -> tuple:
    """Sinusoids beside RoPE on Gemma 3, whose local and global layers turn at two bases."""
    return _filled(model=GEMMA_NAME, count=128, dim=64, position_seed=0)


def gemma_steps_example() -> tuple:
    """台湾大学 step by step on Gemma 3: its query heads share one key/value head; q_norm and k_norm."""
    return _filled(text=t("inside.example_text.gemma_steps"), model=GEMMA_NAME, layer=0, head=0)


EXAMPLES = {
    "scores": scores_example,
    "sqrt_64": sqrt_64_example,
    "sqrt_1024": sqrt_1024_example,
    "positions": positions_example,
    "gemma_steps": gemma_steps_example,
}


# ---------------------------------------------------------------- layout


def build() -> None:
    gr.Markdown(tr("inside.explainer"))
    with gr.Row():
        text = gr.Textbox(
            t("inside.default_text"), label=tr("inside.text"), lines=2, info=tr("inside.text_info"), scale=3
        )
        localized_defaults([(text, "inside.default_text")])
        model = model_dropdown("causal")
    menu_row = gr.Row()
    with gr.Tab(tr("inside.tab.steps")):
        gr.Markdown(tr("inside_steps.explainer"))
        with gr.Row():
            layer = Slider(0, 29, 0, step=1, label=tr("inside.layer_slider"))
            head = Slider(0, 8, 0, step=1, label=tr("inside.head_slider"))
            run_steps = gr.Button(tr("inside.run_steps"), variant="primary")
        steps_note = gr.Markdown()
        step_plots = [gr.Plot(label=tr(f"inside.step_plot.{name}")) for name in ("input", "qkv", "scores", "output")]
        steps_json = json_panel()
    with gr.Tab(tr("inside.tab.sqrt")):
        gr.Markdown(tr("inside_sqrt.explainer"))
        with gr.Row():
            d = Slider(scaling.DIMS[0], scaling.DIMS[-1], 64, step=8, label=tr("inside.d"))
            seed = Number(0, label=tr("inside.seed"), precision=0, minimum=0)
            run_sqrt = gr.Button(tr("inside.run_sqrt"), variant="primary")
        spread_plot, example_plot = gr.Plot(label=tr("inside.spread_plot")), gr.Plot(label=tr("inside.example_plot"))
        model_plot = gr.Plot(label=tr("inside.model_plot"))
        sqrt_json = json_panel()
    with gr.Tab(tr("inside.tab.scores")):
        gr.Markdown(tr("inside_scores.explainer"))
        with gr.Row():
            s = gr.Textbox(scores.DEFAULT_S, label=tr("inside.s"))
            h = gr.Textbox(scores.DEFAULT_H, label=tr("inside.h"), lines=4)
        with gr.Row():
            blank = tr("inside.blank_seeded")
            w = gr.Textbox("", label=tr("inside.w"), lines=3, placeholder=blank)
            w1 = gr.Textbox("", label=tr("inside.w1"), lines=3, placeholder=blank)
            w2 = gr.Textbox("", label=tr("inside.w2"), lines=3, placeholder=blank)
            v = gr.Textbox("", label=tr("inside.v"), placeholder=blank)
            variant_seed = Number(0, label=tr("inside.seed"), precision=0, minimum=0)
        run_scores = gr.Button(tr("inside.run_scores"), variant="primary")
        variants_table = gr.Markdown()
        variants_plot = gr.Plot(label=tr("inside.variants_plot"))
        scores_json = json_panel()
    with gr.Tab(tr("inside.tab.positions")):
        gr.Markdown(tr("inside_positions.explainer"))
        with gr.Row():
            count = Slider(2, positions_compute.MAX_POSITIONS, 64, step=1, label=tr("inside.positions"))
            dim = Slider(2, positions_compute.MAX_DIM, 128, step=2, label=tr("inside.dim"))
            position_seed = Number(0, label=tr("inside.position_seed"), precision=0, minimum=0)
            run_positions = gr.Button(tr("inside.run_positions"), variant="primary")
        positions_note = gr.Markdown()
        sinusoid_plot, rotary_plot = gr.Plot(label=tr("inside.sinusoid_plot")), gr.Plot(label=tr("inside.rotary_plot"))
        positions_json = json_panel()
    with gr.Tab(tr("inside.tab.block")):
        gr.Markdown(tr("inside_block.explainer"))
        run_block = gr.Button(tr("inside.run_block"), variant="primary")
        block_diagram = gr.HTML()
        parameter_table = gr.Markdown()
        residual_plot = gr.Plot(label=tr("inside.residual_plot"))
        block_json = json_panel()
    inputs = dict(text=text, model=model, layer=layer, head=head, d=d, seed=seed, s=s, h=h, w=w, w1=w1, w2=w2, v=v)
    inputs.update(variant_seed=variant_seed, count=count, dim=dim, position_seed=position_seed)
    with menu_row:
        examples_menu("inside", EXAMPLES, [inputs[name] for name in EXAMPLE_INPUTS])

    run_steps.click(
        attention_steps,
        [text, model, layer, head],
        [steps_note, *step_plots, layer, head, steps_json],
        api_name="attention_steps",
        **SHORT_WORK,
    )
    run_sqrt.click(
        sqrt_dk,
        [d, seed, text, model],
        [spread_plot, example_plot, model_plot, sqrt_json],
        api_name="sqrt_dk",
        **SHORT_WORK,
    )
    run_positions.click(
        positions,
        [model, count, dim, position_seed],
        [positions_note, sinusoid_plot, rotary_plot, positions_json],
        api_name="positions",
        **SHORT_WORK,
    )
    run_block.click(
        block,
        [text, model],
        [block_diagram, parameter_table, residual_plot, block_json],
        api_name="block",
        **SHORT_WORK,
    )
    for control in (d, seed):  # the random part redraws at once, without the model
        control.change(
            redraw_random,
            [d, seed],
            [spread_plot, example_plot],
            api_visibility="private",
            trigger_mode="always_last",
            show_progress="hidden",
        )
    run_scores.click(
        score_variants,
        [s, h, w, w1, w2, v, variant_seed],
        [variants_table, variants_plot, scores_json],
        api_name="score_variants",
    )
