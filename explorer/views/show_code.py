"""The "Show the code" panel of a tab: a runnable Python snippet (explorer/snippets) that reproduces the
numbers on screen with transformers / peft / torch directly, drawn when the panel is opened and redrawn
whenever one of its inputs changes (a result among the inputs: when the tab's action has run).

Nothing is drawn when the page loads: a page has a panel per tab, and drawing them all at once would
put as many requests ahead of an opened link's own (views/links.py)."""

from __future__ import annotations

import gradio as gr

from ..checks import ExplorerError
from ..snippets import snippet
from .common import t, tr, user_errors


def code_panel(tab: str, **inputs: gr.components.Component) -> gr.Code:
    """An accordion "Show the code" holding the snippet of `tab` for `inputs` (snippet parameter name ->
    component), drawn when opened (in the page's language: '' models resolve by it) and on every change."""
    with gr.Accordion(tr("code.panel"), open=False) as panel:
        gr.Markdown(tr("code.info"))
        code = gr.Code(language="python", interactive=False, label=tr("code.label"), max_lines=40)

    @user_errors
    def draw(values: dict) -> str:
        try:
            text = snippet(tab, **{name: values[component] for name, component in inputs.items()})
        except ExplorerError as error:  # the inputs cannot run (yet): say why, as a comment
            return "# " + str(error).replace("\n", "\n# ")
        return text or "# " + t("code.run_first")

    watched = set(inputs.values())
    events = [component.change for component in watched] + [panel.expand]
    gr.on(events, draw, watched, code, api_visibility="private", show_progress="hidden", trigger_mode="always_last")
    return code
