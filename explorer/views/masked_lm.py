"""The Masked-LM tab: fill in [MASK] blanks, GPT's left-only guess beside a prediction that
reads both sides, and BERT's 80/10/10 training corruption."""

from __future__ import annotations

import html

import gradio as gr
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .. import masked_lm, models
from ..masked_lm import CorruptionResult, Filler, FillMaskResult
from .common import (
    SHORT_WORK,
    Number,
    Slider,
    examples_menu,
    gradio_progress,
    json_panel,
    localized_defaults,
    model_choices,
    payload,
    t,
    tr,
    user_errors,
)

DEFAULT_TEXT = "He wrote a letter with a [MASK] and paper."  # the API's defaults; the page shows its language's
DEMO_TEXT = "The quick brown fox jumps over the lazy dog because it wants to reach the river before night falls."

LEFT_COLOUR = "#f59e0b"
BOTH_COLOUR = "#2563eb"
ACTION_COLOURS = {"mask": "#fca5a5", "random": "#fcd34d", "keep": "#86efac"}


# ---------------------------------------------------------------- rendering


def method_banner(result: FillMaskResult) -> str:
    masked = result.method == "masked-lm"
    headline = t("masked_lm.banner.masked" if masked else "masked_lm.banner.causal", model=html.escape(result.model))
    return (
        f'<div style="background:{"#dbeafe" if masked else "#fef3c7"};padding:8px 12px;border-radius:6px">'
        f"<b>{headline}</b><br><span style='font-size:0.9em'>{html.escape(result.note)}</span>"
        f"<br><span style='font-size:0.85em;color:#4b5563'>{result.seconds:.2f} s</span></div>"
    )


def _bar_rows(fillers: list[Filler], colour: str, best: str | None, n: int = 5) -> str:
    rows = []
    for filler in fillers[:n]:
        width = max(1.0, 100 * filler.prob)
        mark = "font-weight:700" if filler.token == best else ""
        source = html.escape(t("masked_lm.source", source=filler.source))
        rows.append(
            f'<div style="display:flex;align-items:center;gap:6px;{mark}" title="{source}">'
            f'<span style="min-width:8em;text-align:right">{html.escape(filler.token)}</span>'
            f'<span style="display:inline-block;height:0.9em;width:{width:.1f}%;max-width:60%;background:{colour};border-radius:2px"></span>'
            f"<span>{filler.prob:.3f}</span></div>"
        )
    return "".join(rows) or f"<i>{t('masked_lm.no_word')}</i>"


def contrast_html(result: FillMaskResult) -> str:
    """Per blank, side by side: the left-only guess and the guess that reads both sides."""
    method = "masked" if result.method == "masked-lm" else "causal"
    blocks = []
    for mask in result.masks:
        left_best = mask.left_only[0].token if mask.left_only else "…"
        both_best = mask.candidates[0].token if mask.candidates else "…"
        verdict = t("masked_lm.agree" if left_best.lower() == both_best.lower() else "masked_lm.disagree")
        left_head = t("masked_lm.left_head", model=html.escape(result.left_only_model))
        context = html.escape(mask.left_context or t("masked_lm.nothing"))
        blocks.append(
            f'<div style="margin-bottom:10px"><b>{t("masked_lm.blank", n=mask.index + 1)}</b> — {verdict}'
            '<div style="display:grid;grid-template-columns:1fr 1fr;gap:12px">'
            f'<div style="border-left:4px solid {LEFT_COLOUR};padding-left:8px">'
            f"<div>{left_head}: <code>{context}▁</code></div>"
            f'<div style="font-size:1.3em">{html.escape(left_best)}</div>{_bar_rows(mask.left_only, LEFT_COLOUR, left_best)}'
            f'<div style="font-size:0.8em;color:#6b7280">{t("masked_lm.left_probability")}</div></div>'
            f'<div style="border-left:4px solid {BOTH_COLOUR};padding-left:8px">'
            f"<div>{t(f'masked_lm.both_head.{method}')}</div>"
            f'<div style="font-size:1.3em">{html.escape(both_best)}</div>{_bar_rows(mask.candidates, BOTH_COLOUR, both_best)}'
            f'<div style="font-size:0.8em;color:#6b7280">{t(f"masked_lm.both_probability.{method}")}</div></div>'
            "</div></div>"
        )
    sentences = (
        f'<div style="margin-top:6px"><span style="color:{LEFT_COLOUR}">■</span> {t("masked_lm.left_filled")}: '
        f"<b>{html.escape(result.left_only_filled)}</b><br>"
        f'<span style="color:{BOTH_COLOUR}">■</span> {t("masked_lm.both_filled")}: <b>{html.escape(result.filled)}</b></div>'
    )
    return "".join(blocks) + sentences


def candidates_figure(result: FillMaskResult) -> go.Figure:
    """One panel of bars per blank: its candidates and their probabilities."""
    n = len(result.masks)
    titles = [t("masked_lm.blank", n=m.index + 1) for m in result.masks]
    figure = make_subplots(rows=1, cols=n, subplot_titles=titles, horizontal_spacing=0.08)
    hover = "%{y}: p=%{x:.4f}<br>" + t("masked_lm.hover") + "<extra></extra>"
    for column, mask in enumerate(result.masks, start=1):
        fillers = list(reversed(mask.candidates))  # the most likely on top
        figure.add_bar(
            x=[f.prob for f in fillers],
            y=[f"{f.token} " for f in fillers],
            orientation="h",
            marker_color=BOTH_COLOUR,
            customdata=[[f.source, f.logprob] for f in fillers],
            hovertemplate=hover,
            showlegend=False,
            row=1,
            col=column,
        )
        figure.update_xaxes(range=[0, 1], title_text=t("masked_lm.probability"), row=1, col=column)
    rows = max(len(m.candidates) for m in result.masks)
    method = "masked" if result.method == "masked-lm" else "causal"
    figure.update_layout(
        title=t(f"masked_lm.candidates_title.{method}", method=result.method),
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
        title = t("masked_lm.token_hover", n=position) + (f": {t(f'masked_lm.action.{action}')}" if action else "")
        shown = html.escape(text).replace(" ", "␣") or "∅"
        return f'<span style="{style}border:1px solid #e5e7eb;border-radius:3px;padding:1px 3px;margin:1px;display:inline-block" title="{html.escape(title)}">{shown}</span>'

    original = "".join(cell(text, i) for i, text in enumerate(result.tokens))
    corrupted = "".join(cell(text, i) for i, text in enumerate(result.corrupted))
    legend = " ".join(
        f'<span style="background:{ACTION_COLOURS[a]};padding:1px 6px;border-radius:3px">{a}</span> {t(f"masked_lm.action.{a}")}'
        for a in ("mask", "random", "keep")
    )
    counts = ", ".join(f"{result.actions.count(a)} {a}" for a in ("mask", "random", "keep"))
    summary = t(
        "masked_lm.corruption_summary",
        picked=len(result.positions),
        n=len(result.tokens),
        counts=counts,
        seed=result.seed,
    )
    return (
        f'<div style="font-family:monospace;line-height:2"><b>{t("masked_lm.original")}</b><br>{original}<br>'
        f"<b>{t('masked_lm.what_bert_sees')}</b><br>{corrupted}</div>"
        f'<div style="margin-top:6px;font-size:0.9em">{legend}</div>'
        f'<div style="font-size:0.85em;color:#4b5563">{summary} {html.escape(result.note)}</div>'
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


# ---------------------------------------------------------------- lecture examples


def _fill_example(text: str, top_k: int = 10):
    """Fill the blank-filling controls: the sentence in the page's language, the default model."""
    return lambda: (t(f"masked_lm.example_text.{text}"), "", top_k, "auto")


def _corruption_example(seed: int):
    """BERT's 15 % / 80-10-10 on a sentence in the page's language, with a seed that shows all three."""
    return lambda: (t("masked_lm.example_text.corrupt"), "", seed)


FILL_EXAMPLES = {
    "cloze": _fill_example("cloze"),  # 台湾大学: the cloze objective on the lecture's own example
    "contrast": _fill_example("contrast"),  # GPT vs BERT: a blank at the start, the left side says nothing
    "two_blanks": _fill_example("two_blanks", 5),  # several blanks, each predicted independently
}
CORRUPTION_EXAMPLES = {"corrupt": _corruption_example(3)}


# ---------------------------------------------------------------- layout


def _model_dropdown() -> gr.Dropdown:
    return gr.Dropdown(
        choices=[(tr("masked_lm.best_available"), "")] + model_choices("masked") + model_choices("causal"),
        value="",
        label=tr("common.model"),
        allow_custom_value=True,  # unknown names reach the registry, which explains
        info=tr("masked_lm.model_info"),
    )


def build() -> None:
    gr.Markdown(tr("masked_lm.explainer"))
    with gr.Row():
        with gr.Column(scale=2):
            text = gr.Textbox(t("masked_lm.default_text"), label=tr("masked_lm.text"), lines=3)
            localized_defaults([(text, "masked_lm.default_text")])
            model = _model_dropdown()
            method = gr.Radio(
                list(models.METHOD_KINDS), value="auto", label=tr("masked_lm.method"), info=tr("masked_lm.method_info")
            )
            top_k = Slider(1, masked_lm.MAX_TOP_K, 10, step=1, label=tr("masked_lm.top_k"))
            examples_menu("masked_lm", FILL_EXAMPLES, [text, model, top_k, method])
            run = gr.Button(tr("masked_lm.run"), variant="primary")
        with gr.Column(scale=3):
            banner = gr.HTML()
            contrast = gr.HTML(label=tr("masked_lm.contrast"))
            plot = gr.Plot(label=tr("masked_lm.plot"))
            fill_json = json_panel()
    gr.Markdown(tr("masked_lm_demo.explainer"))
    with gr.Row():
        with gr.Column(scale=2):
            demo_text = gr.Textbox(t("masked_lm.demo_text"), label=tr("masked_lm.demo_label"), lines=3)
            localized_defaults([(demo_text, "masked_lm.demo_text")])
            demo_model = _model_dropdown()
            seed = Number(0, label=tr("masked_lm.seed"), precision=0, minimum=0)
            examples_menu("masked_lm", CORRUPTION_EXAMPLES, [demo_text, demo_model, seed])
            corrupt = gr.Button(tr("masked_lm.corrupt"))
        with gr.Column(scale=3):
            corrupted = gr.HTML()
            demo_json = json_panel()

    run.click(
        fill_mask,
        [text, model, top_k, method],
        [banner, contrast, plot, fill_json],
        api_name="fill_mask",
        **SHORT_WORK,
    )
    corrupt.click(mask_demo, [demo_text, demo_model, seed], [corrupted, demo_json], api_name="mask_demo")
