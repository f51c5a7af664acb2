"""A placeholder for a tab whose issue has not landed yet: says so, shows nothing fake."""

import gradio as gr


def build(what: str) -> None:
    gr.Markdown(f"**Coming soon.** {what}")
