"""One token, every view: the panel that Generation (a clicked token), Masked LM (a blank) and ICL (the
label word) show under their own results, and /token_focus, its API endpoint (in the Attention tab).

Compute lives in `explorer/attention/focus.py`; pictures in `focus_figures.py`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import gradio as gr

from .. import models
from ..attention import focus
from ..models import LoadedModel
from .common import gradio_progress, json_panel, payload, tr, user_errors
from .focus_figures import attention_figure, summary_html, trajectory_figure

DEFAULT_TEXT = "The quick brown fox jumps over the lazy dog. The quick brown fox"  # /attention's default


class Panel(NamedTuple):
    """The panel's outputs, in the API's order (the payload last)."""

    summary: Any  # what the position predicts, and the link to the Attention tab
    trajectory: Any
    attention: Any
    result_json: Any


def panel() -> Panel:
    """The components, under an accordion titled "One token, every view"."""
    with gr.Accordion(tr("focus.title"), open=True):
        gr.Markdown(tr("focus.explainer"))
        summary = gr.HTML()
        with gr.Row():
            trajectory = gr.Plot(label=tr("focus.trajectory_plot"))
            attention = gr.Plot(label=tr("focus.attention_plot"))
        return Panel(summary, trajectory, attention, json_panel())


def draw(result: focus.TokenFocus) -> Panel:
    return Panel(summary_html(result), trajectory_figure(result), attention_figure(result), payload(result))


def unchanged() -> Panel:
    return Panel(gr.skip(), gr.skip(), gr.skip(), gr.skip())


def eager(model: str, progress=None) -> LoadedModel:
    """The causal model's eager copy: the one that returns attention weights (and the Attention tab's)."""
    return models.get(model, "causal", attn="eager", progress=progress)


def on_ids(model: str, ids: list[int], position: int, token_id: int = -1) -> Panel:
    """The panel for position `position` of tokens a tab fed `model` (its own handlers call this)."""
    return draw(focus.focus_on_ids(eager(model), ids, position, token_id))


@user_errors
def token_focus(
    text: str = DEFAULT_TEXT, model: str = "", position: int = -1, token_id: int = -1, progress=gr.Progress()
):
    """One position of a text: its next-token prediction layer by layer (for `token_id`; -1: the
    text's next token, or the model's guess at the end) and what it read, per layer and head."""
    report = gradio_progress(progress)
    return draw(focus.token_focus(eager(model, report), text, position, token_id, report))
