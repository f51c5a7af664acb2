"""The Inside the Transformer tab: one head step by step, why √d_k, score variants, positions, the block."""

from __future__ import annotations

import gradio as gr

from .. import models
from ..inside import block as block_compute
from ..inside import positions as positions_compute
from ..inside import scaling, scores, steps
from ..inside.trace import MAX_TOKENS
from . import inside_diagrams as diagrams
from . import inside_figures as figures
from .common import SHORT_WORK, Number, Slider, gradio_progress, model_dropdown, payload, user_errors

DEFAULT_TEXT = "The quick brown fox jumps over the lazy dog. The quick brown fox"
INTRO = """The mechanics the notes derive, on a real model: one attention head computed by hand from the model's
own weights (and checked against the model's own softmax), why the scores are divided by √d_k, three ways to
score, how positions enter, and the whole block with its parameters counted. Supported: Llama-style models
(SmolLM2), Gemma 3, GPT-2 and BERT-style encoders. Texts up to {max_tokens} tokens."""
STEPS_INTRO = """The hidden states entering the chosen layer's attention (after its input norm) are captured by a hook
on the real module; everything after is recomputed from the module's weights: **Q = xW_Q, K = xW_K, V = xW_V** (then
Gemma's q_norm/k_norm and RoPE where the model has them), **scores QKᵀ**, **× scale**, the **mask**, the **softmax**
(equal to the model's own weights), **Z = AV** and this head's slice of the output projection **ZW_O^h**.
Hover any cell for its value."""
SQRT_INTRO = """With q and k of d unit-variance entries, q·k has variance d: its spread grows like √d, and the softmax
of such spread-out scores is nearly one-hot (entropy → 0, largest weight → 1; its gradients vanish). Dividing by √d
keeps the spread at 1 whatever d is. Move the slider (seeded random vectors); the last plot measures the same on the
model's heads for the text above, with and without its scale."""
SCORES_INTRO = """The notes' toy example: a decoder state **s** and encoder states **h₁ … h_n** (one per line).
Dot product sᵀh needs s and h of the same size; multiplicative sᵀWh and additive vᵀtanh(W₁s + W₂h) learn parameters.
Leave W, W₁, W₂ or v blank to draw them from the seed (their shapes follow from s and h)."""
POSITIONS_INTRO = """Attention alone ignores order. The notes **add** sinusoids to the embeddings; SmolLM2 and Gemma
instead **rotate** each pair of q and k dimensions by an angle proportional to the position (RoPE), so a score depends
only on how far apart two tokens are. GPT-2 and BERT learn a table of absolute positions."""
BLOCK_INTRO = """The notes' block beside the model's (read from its modules: norm placement and type, the feed-forward,
positions, attention heads), every parameter counted once (tied weights once), and the size of the residual stream
after each block for the text above."""


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


def _json() -> gr.JSON:
    with gr.Accordion("JSON (what the API returns)", open=False):
        return gr.JSON()


def build() -> None:
    gr.Markdown(INTRO.format(max_tokens=MAX_TOKENS))
    with gr.Row():
        text = gr.Textbox(DEFAULT_TEXT, label="Text", lines=2, info=f"At most {MAX_TOKENS} tokens.", scale=3)
        model = model_dropdown("causal")
    with gr.Tab("One head, step by step"):
        gr.Markdown(STEPS_INTRO)
        with gr.Row():
            layer = Slider(0, 29, 0, step=1, label="Layer")
            head = Slider(0, 8, 0, step=1, label="Head (query head)")
            run_steps = gr.Button("Compute the head", variant="primary")
        steps_note = gr.Markdown()
        step_plots = [gr.Plot(label=name) for name in ("Input", "Q, K, V", "Scores", "Output")]
        steps_json = _json()
    with gr.Tab("Why √d_k"):
        gr.Markdown(SQRT_INTRO)
        with gr.Row():
            d = Slider(scaling.DIMS[0], scaling.DIMS[-1], 64, step=8, label="d (entries of q and k)")
            seed = Number(0, label="Seed", precision=0, minimum=0)
            run_sqrt = gr.Button("Measure the model's heads too", variant="primary")
        spread_plot, example_plot = gr.Plot(label="Against d"), gr.Plot(label="One softmax row")
        model_plot = gr.Plot(label="The model's heads")
        sqrt_json = _json()
    with gr.Tab("Score variants"):
        gr.Markdown(SCORES_INTRO)
        with gr.Row():
            s = gr.Textbox(scores.DEFAULT_S, label="decoder state s")
            h = gr.Textbox(scores.DEFAULT_H, label="encoder states h₁ … h_n (one per line)", lines=4)
        with gr.Row():
            w = gr.Textbox("", label="W (d_s × d_h)", lines=3, placeholder="blank: seeded")
            w1 = gr.Textbox("", label="W₁ (d_a × d_s)", lines=3, placeholder="blank: seeded")
            w2 = gr.Textbox("", label="W₂ (d_a × d_h)", lines=3, placeholder="blank: seeded")
            v = gr.Textbox("", label="v (d_a)", placeholder="blank: seeded")
            variant_seed = Number(0, label="Seed", precision=0, minimum=0)
        run_scores = gr.Button("Score", variant="primary")
        variants_table = gr.Markdown()
        variants_plot = gr.Plot(label="Weights")
        scores_json = _json()
    with gr.Tab("Positions"):
        gr.Markdown(POSITIONS_INTRO)
        with gr.Row():
            count = Slider(2, positions_compute.MAX_POSITIONS, 64, step=1, label="Positions")
            dim = Slider(2, positions_compute.MAX_DIM, 128, step=2, label="Sinusoid width d")
            position_seed = Number(0, label="Seed (q, k for the RoPE check)", precision=0, minimum=0)
            run_positions = gr.Button("Show positions", variant="primary")
        positions_note = gr.Markdown()
        sinusoid_plot, rotary_plot = gr.Plot(label="Sinusoidal"), gr.Plot(label="Rotary")
        positions_json = _json()
    with gr.Tab("The block"):
        gr.Markdown(BLOCK_INTRO)
        run_block = gr.Button("Show the block", variant="primary")
        block_diagram = gr.HTML()
        parameter_table = gr.Markdown()
        residual_plot = gr.Plot(label="Residual stream")
        block_json = _json()

    model_endpoints = [
        (run_steps, attention_steps, [text, model, layer, head], [steps_note, *step_plots, layer, head, steps_json]),
        (run_sqrt, sqrt_dk, [d, seed, text, model], [spread_plot, example_plot, model_plot, sqrt_json]),
        (
            run_positions,
            positions,
            [model, count, dim, position_seed],
            [positions_note, sinusoid_plot, rotary_plot, positions_json],
        ),
        (run_block, block, [text, model], [block_diagram, parameter_table, residual_plot, block_json]),
    ]
    for button, handler, inputs, outputs in model_endpoints:
        button.click(handler, inputs, outputs, api_name=handler.__name__, **SHORT_WORK)
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
