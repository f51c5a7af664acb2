"""Teacher forcing, inside the Generation tab: the probability of a whole text, token by token (`/sequence_probs`)."""

from __future__ import annotations

import gradio as gr
import plotly.graph_objects as go

from .. import models
from ..generation.teacher_forcing import SequenceProbs, sequence_probs
from .common import (
    SHORT_WORK,
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

COLUMNS = ["position", "token", "prob", "rank", "top"]


# The notes' walk-through: 台湾大学 on the multilingual base model, token by token (its tokenizer
# has 台湾 and 大学 as tokens; SmolLM2 needs 8 byte tokens for it).
EXAMPLES = {
    "taiwan": lambda: ("台湾大学", models.GEMMA_NAME),
    "sentence": lambda: (t("sequence.example_text.sentence"), ""),
}


def table(result: SequenceProbs) -> list[list]:
    return [
        [j + 1, repr(p.token), round(p.prob, 4), p.rank, ",  ".join(f"{g.token!r} {g.prob:.3f}" for g in p.top)]
        for j, p in enumerate(result.positions)
    ]


def figure(result: SequenceProbs) -> go.Figure:
    labels = [f"{j + 1}: {p.token!r}" for j, p in enumerate(result.positions)]
    fig = go.Figure(go.Bar(x=labels, y=[p.prob for p in result.positions], marker_color="#6366f1"))
    fig.update_layout(
        title=t("sequence.title", logprob=result.total_logprob, ppl=result.perplexity),
        yaxis_title=t("generation.probability"), yaxis_range=[0, 1], height=320, margin=dict(l=40, r=10, t=50, b=80),
    )  # fmt: skip
    return fig


@user_errors
def run_sequence_probs(text: str = "The capital of France is Paris.", model: str = "", progress=gr.Progress()):
    """Each token's probability given the tokens before it, the text's log-probability and perplexity."""
    result = sequence_probs(models.get(model, "causal", progress=gradio_progress(progress)), text)
    return figure(result), table(result), payload(result)


def build() -> None:
    with gr.Accordion(tr("sequence.panel"), open=False):
        gr.Markdown(tr("sequence.explainer"))
        with gr.Row():
            text = gr.Textbox(t("sequence.default_text"), label=tr("sequence.text"), lines=2, scale=3)
            model = model_dropdown("causal")
        examples_menu("sequence", EXAMPLES, [text, model])
        localized_defaults([(text, "sequence.default_text")])
        button = gr.Button(tr("sequence.run"))
        plot = gr.Plot(label=tr("sequence.plot"))
        rows = gr.Dataframe(headers=[tr(f"sequence.col.{c}") for c in COLUMNS], label=tr("sequence.table"), wrap=True)
        result_json = json_panel()
    button.click(run_sequence_probs, [text, model], [plot, rows, result_json], api_name="sequence_probs", **SHORT_WORK)
