"""The Models panel under every tab: what is registered, where it loads from, its licence (`/models`)."""

from __future__ import annotations

import gradio as gr

from .. import models
from .common import payload, tr, user_errors


@user_errors
def list_models():
    """Every registered model: kind, where it would load from, whether it is available, size."""
    return {
        "models": payload(models.list_models()),
        "default_causal": models.default_model("causal"),
        "default_masked": models.default_model("masked"),
    }


def build() -> None:
    with gr.Accordion(tr("models.panel"), open=False):
        refresh = gr.Button(tr("models.list"))
        models_json = gr.JSON()
    refresh.click(list_models, None, models_json, api_name="models")
