"""The Masked-LM tab: fill in [MASK] blanks, GPT's left-only guess beside a prediction that
reads both sides, and BERT's 80/10/10 training corruption."""

from __future__ import annotations

import html

import gradio as gr
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .. import masked_lm, models
from ..masked_lm import CorruptionResult, Filler, FillMaskResult
from .common import SHORT_WORK, Number, Slider, gradio_progress, model_choices, payload, user_errors

EXPLAINER = """**BERT's cloze objective.** Write a sentence with one or more `[MASK]` (always type `[MASK]`; the
app uses the model's own mask token, e.g. `<mask>` for RoBERTa). A *masked* LM (BERT) reads the whole sentence,
left **and** right of each blank, and predicts every blank in one forward pass, **each blank independently of the
others**. A *causal* LM (GPT) reads left to right: for a blank it can only use the words before it.

Offline there is no masked LM, only the bundled causal SmolLM2. The tab then fills blanks by **causal rescoring**:
it proposes words (from the left context, and from the instruct model asked to fill the blank), and ranks each
complete sentence by the causal model's likelihood, so the words after the blank count too. The 135M model is
weak when the blank *starts* the sentence (nothing to its left, and the instruct model rarely proposes the word):
try "[MASK] is the largest planet in the solar system." with a masked LM when one is available."""
DEFAULT_TEXT = "He wrote a letter with a [MASK] and paper."
DEMO_TEXT = "The quick brown fox jumps over the lazy dog because it wants to reach the river before night falls."

DEMO_EXPLAINER = """**How BERT is trained.** BERT picks ~15% of the tokens; of those, 80% become the mask token,
10% a random token, 10% stay themselves — the model must predict the original at every picked position,
so it cannot trust that an unmasked token is right. Same seed, same corruption."""

LEFT_COLOUR = "#f59e0b"
BOTH_COLOUR = "#2563eb"
ACTION_COLOURS = {"mask": "#fca5a5", "random": "#fcd34d", "keep": "#86efac"}
ACTION_LABELS = {
    "mask": "replaced by the mask token (80%)",
    "random": "replaced by a random token (10%)",
    "keep": "picked but kept as is (10%)",
}


# ---------------------------------------------------------------- rendering


def method_banner(result: FillMaskResult) -> str:
    if result.method == "masked-lm":
        headline = f"Method: masked-lm — {html.escape(result.model)} predicted every blank in one forward pass, each independently."
        colour = "#dbeafe"
    else:
        headline = (
            f"Method: causal-rescoring — no masked LM here; {html.escape(result.model)} ranked complete sentences."
        )
        colour = "#fef3c7"
    return (
        f'<div style="background:{colour};padding:8px 12px;border-radius:6px">'
        f"<b>{headline}</b><br><span style='font-size:0.9em'>{html.escape(result.note)}</span>"
        f"<br><span style='font-size:0.85em;color:#4b5563'>{result.seconds:.2f} s</span></div>"
    )


def _bar_rows(fillers: list[Filler], colour: str, best: str | None, n: int = 5) -> str:
    rows = []
    for filler in fillers[:n]:
        width = max(1.0, 100 * filler.prob)
        mark = "font-weight:700" if filler.token == best else ""
        rows.append(
            f'<div style="display:flex;align-items:center;gap:6px;{mark}" title="source: {html.escape(filler.source)}">'
            f'<span style="min-width:8em;text-align:right">{html.escape(filler.token)}</span>'
            f'<span style="display:inline-block;height:0.9em;width:{width:.1f}%;max-width:60%;background:{colour};border-radius:2px"></span>'
            f"<span>{filler.prob:.3f}</span></div>"
        )
    return "".join(rows) or "<i>no word proposed</i>"


def contrast_html(result: FillMaskResult) -> str:
    """Per blank, side by side: the left-only guess and the guess that reads both sides."""
    both = "masked LM (both sides)" if result.method == "masked-lm" else "causal rescoring (both sides)"
    both_probability = (
        "p = the masked LM's probability"
        if result.method == "masked-lm"
        else "p renormalised over the sentences scored"
    )
    blocks = []
    for mask in result.masks:
        left_best = mask.left_only[0].token if mask.left_only else "…"
        both_best = mask.candidates[0].token if mask.candidates else "…"
        agree = left_best.lower() == both_best.lower()
        verdict = "they agree" if agree else "the right context changed the answer"
        blocks.append(
            f'<div style="margin-bottom:10px"><b>Blank {mask.index + 1}</b> — {verdict}'
            '<div style="display:grid;grid-template-columns:1fr 1fr;gap:12px">'
            f'<div style="border-left:4px solid {LEFT_COLOUR};padding-left:8px">'
            f"<div>GPT-style, <b>left context only</b> ({html.escape(result.left_only_model)}): "
            f"<code>{html.escape(mask.left_context or '(nothing)')}▁</code></div>"
            f'<div style="font-size:1.3em">{html.escape(left_best)}</div>{_bar_rows(mask.left_only, LEFT_COLOUR, left_best)}'
            '<div style="font-size:0.8em;color:#6b7280">p = probability of the next word</div></div>'
            f'<div style="border-left:4px solid {BOTH_COLOUR};padding-left:8px">'
            f"<div>{both}: reads the words after the blank too</div>"
            f'<div style="font-size:1.3em">{html.escape(both_best)}</div>{_bar_rows(mask.candidates, BOTH_COLOUR, both_best)}'
            f'<div style="font-size:0.8em;color:#6b7280">{both_probability}</div></div>'
            "</div></div>"
        )
    sentences = (
        f'<div style="margin-top:6px"><span style="color:{LEFT_COLOUR}">■</span> left only: '
        f"<b>{html.escape(result.left_only_filled)}</b><br>"
        f'<span style="color:{BOTH_COLOUR}">■</span> both sides: <b>{html.escape(result.filled)}</b></div>'
    )
    return "".join(blocks) + sentences


def candidates_figure(result: FillMaskResult) -> go.Figure:
    """One panel of bars per blank: its candidates and their probabilities."""
    n = len(result.masks)
    figure = make_subplots(
        rows=1, cols=n, subplot_titles=[f"Blank {m.index + 1}" for m in result.masks], horizontal_spacing=0.08
    )
    for column, mask in enumerate(result.masks, start=1):
        fillers = list(reversed(mask.candidates))  # the most likely on top
        figure.add_bar(
            x=[f.prob for f in fillers],
            y=[f"{f.token} " for f in fillers],
            orientation="h",
            marker_color=BOTH_COLOUR,
            customdata=[[f.source, f.logprob] for f in fillers],
            hovertemplate="%{y}: p=%{x:.4f}<br>source: %{customdata[0]}<br>log-prob %{customdata[1]:.2f}<extra></extra>",
            showlegend=False,
            row=1,
            col=column,
        )
        figure.update_xaxes(range=[0, 1], title_text="probability", row=1, col=column)
    rows = max(len(m.candidates) for m in result.masks)
    probability = "p (the model's)" if result.method == "masked-lm" else "p (renormalised over the words scored)"
    figure.update_layout(
        title=f"Candidates per blank — {result.method}, {probability}",
        height=max(260, 90 + 22 * rows),
        margin=dict(l=10, r=10, t=70, b=40),
    )
    return figure


def corruption_html(result: CorruptionResult) -> str:
    """The tokens before and after corruption, the picked ones coloured by what happened to them."""
    action_at = dict(zip(result.positions, result.actions))

    def cell(text: str, position: int) -> str:
        action = action_at.get(position)
        style = f"background:{ACTION_COLOURS[action]};" if action else ""
        title = f"token {position}" + (f": {action}" if action else "")
        shown = html.escape(text).replace(" ", "␣") or "∅"
        return f'<span style="{style}border:1px solid #e5e7eb;border-radius:3px;padding:1px 3px;margin:1px;display:inline-block" title="{title}">{shown}</span>'

    original = "".join(cell(t, i) for i, t in enumerate(result.tokens))
    corrupted = "".join(cell(t, i) for i, t in enumerate(result.corrupted))
    legend = " ".join(
        f'<span style="background:{ACTION_COLOURS[a]};padding:1px 6px;border-radius:3px">{a}</span> {ACTION_LABELS[a]}'
        for a in ("mask", "random", "keep")
    )
    counts = ", ".join(f"{result.actions.count(a)} {a}" for a in ("mask", "random", "keep"))
    return (
        f'<div style="font-family:monospace;line-height:2"><b>original</b><br>{original}<br><b>what BERT sees</b><br>{corrupted}</div>'
        f'<div style="margin-top:6px;font-size:0.9em">{legend}</div>'
        f'<div style="font-size:0.85em;color:#4b5563">{len(result.positions)} of {len(result.tokens)} tokens picked '
        f"({counts}); seed {result.seed}. {html.escape(result.note)}</div>"
    )


# ---------------------------------------------------------------- handlers


@user_errors
def fill_mask(
    text: str = DEFAULT_TEXT,
    model: str = "",
    top_k: int = 10,
    method: str = "auto",
    progress=gr.Progress(),
):
    """Fill every [MASK]: the top-k words per blank, the filled sentence, and the left-only contrast."""
    report = gradio_progress(progress)
    lm = models.get(models.resolve_for(method, model).name, progress=report)
    causal = lm if lm.spec.kind == "causal" else models.get("", "causal", progress=report)  # for the left-only view
    result = masked_lm.fill_mask(lm, causal, text, top_k, progress=report)
    return method_banner(result), contrast_html(result), candidates_figure(result), payload(result)


@user_errors
def mask_demo(
    text: str = DEMO_TEXT,
    model: str = "",
    seed: int = 0,
    progress=gr.Progress(),
):
    """BERT's training corruption: ~15% of the tokens, 80% masked / 10% random / 10% kept, seeded."""
    lm = models.get(models.resolve_for("auto", model).name, progress=gradio_progress(progress))
    result = masked_lm.corrupt(lm, text, seed)
    return corruption_html(result), payload(result)


# ---------------------------------------------------------------- layout


def _model_dropdown() -> gr.Dropdown:
    return gr.Dropdown(
        choices=[("(best available)", "")] + model_choices("masked") + model_choices("causal"),
        value="",
        label="Model",
        allow_custom_value=True,  # unknown names reach the registry, which explains
        info="Best available = a masked LM if one is reachable, else the bundled SmolLM2 (causal rescoring).",
    )


def build() -> None:
    gr.Markdown(EXPLAINER)
    with gr.Row():
        with gr.Column(scale=2):
            text = gr.Textbox(DEFAULT_TEXT, label="Text with [MASK] (up to 5)", lines=3)
            model = _model_dropdown()
            method = gr.Radio(
                list(models.METHOD_KINDS),
                value="auto",
                label="Method",
                info="auto: masked-lm with a masked LM, causal-rescoring with a causal model",
            )
            top_k = Slider(1, masked_lm.MAX_TOP_K, 10, step=1, label="Top-k words per blank")
            run = gr.Button("Fill the blanks", variant="primary")
            gr.Examples(
                [
                    [DEFAULT_TEXT],
                    ["[MASK] is the largest planet in the solar system."],
                    ["The capital of France is [MASK]."],
                    ["The [MASK] barked at the [MASK] all night."],
                    ["Ice is cold but fire is [MASK]."],
                ],
                inputs=[text],
                api_visibility="private",
            )
        with gr.Column(scale=3):
            banner = gr.HTML()
            contrast = gr.HTML(label="GPT (left only) vs both sides")
            plot = gr.Plot(label="Candidates per blank")
            with gr.Accordion("JSON (what the API returns)", open=False):
                fill_json = gr.JSON()
    gr.Markdown(DEMO_EXPLAINER)
    with gr.Row():
        with gr.Column(scale=2):
            demo_text = gr.Textbox(DEMO_TEXT, label="Text to corrupt", lines=3)
            demo_model = _model_dropdown()
            seed = Number(0, label="Seed", precision=0, minimum=0)
            corrupt = gr.Button("Corrupt like BERT")
        with gr.Column(scale=3):
            corrupted = gr.HTML()
            with gr.Accordion("JSON (what the API returns)", open=False):
                demo_json = gr.JSON()

    run.click(
        fill_mask,
        [text, model, top_k, method],
        [banner, contrast, plot, fill_json],
        api_name="fill_mask",
        **SHORT_WORK,
    )
    corrupt.click(mask_demo, [demo_text, demo_model, seed], [corrupted, demo_json], api_name="mask_demo")
