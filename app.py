"""PLM Explorer: assembles the tabs' views into one Gradio app and launches it."""

from __future__ import annotations

import os

import gradio as gr
import torch

from explorer import models
from explorer.views import attention, generation, inside, masked_lm, prompting, tokenisation, tuning

INTRO = """# PLM Explorer
See how a pre-trained language model works, on a real model ({default}, bundled, offline):
how it predicts the next token, fills a blank, learns in context, attends, tokenises, and is tuned."""


def build_app() -> gr.Blocks:
    with gr.Blocks(title="PLM Explorer") as demo:
        gr.Markdown(INTRO.format(default=models.BUNDLED_NAME))
        with gr.Tab("Generation"):
            generation.build()
        with gr.Tab("Masked LM"):
            masked_lm.build()
        with gr.Tab("In-context learning"):
            prompting.build()
        with gr.Tab("Attention"):
            attention.build()
        with gr.Tab("Inside the Transformer"):
            inside.build()
        with gr.Tab("Tokenisation"):
            tokenisation.build()
        with gr.Tab("Tuning"):
            tuning.build()
    # Two requests at a time keep both CPU cores busy without starving either.
    demo.queue(default_concurrency_limit=int(os.environ.get("PLM_EXPLORER_CONCURRENCY", "2")))
    return demo


def main() -> None:
    # One torch thread per request, two requests at a time: a 135M model decodes as fast on one
    # thread as on two (16.6 vs 16.9 tok/s here), and two requests with two threads each would
    # fight over the 2 cores.
    torch.set_num_threads(int(os.environ.get("PLM_EXPLORER_THREADS", "1")))
    models.warm_up()  # in the background: the page is served at once
    build_app().launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
    )


if __name__ == "__main__":
    main()
