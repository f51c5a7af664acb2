"""PLM Explorer: assembles the tabs' views into one Gradio app and launches it."""

from __future__ import annotations

import os

import gradio as gr
import torch

from explorer import cores, malloc, models
from explorer.generation.scheduler import MAX_BATCH
from explorer.views import (
    attention,
    generation,
    icl,
    inside,
    links,
    long_links,
    masked_lm,
    models_panel,
    poll,
    tokenisation,
    traffic,
    tuning,
)
from explorer.views.common import I18N, language_marker, tr

# (tab key, view module): each view's build() lays out its tab and wires its endpoints; the tab's
# title is the label "app.tab.<key>" in explorer/locales.
TABS = [
    ("generation", generation),
    ("masked_lm", masked_lm),
    ("icl", icl),
    ("attention", attention),
    ("inside", inside),
    ("tokenisation", tokenisation),
    ("tuning", tuning),
]


def build_app() -> gr.Blocks:
    with gr.Blocks(title="PLM Explorer") as demo:
        gr.Markdown(tr("app.title"))
        page = links.page_controls()
        with gr.Tabs() as tabs:
            for key, view in TABS:
                with gr.Tab(tr(f"app.tab.{key}"), id=key):
                    view.build()
        models_panel.build()
        language_marker()
        links.wire(page, tabs)
        poll.student_page()  # a `?poll=<CODE>` link shows only the poll's question
    for key, view in TABS:  # each tab also alone on its own page, for links
        lecture_page(demo, key, view)
    # Two requests at a time keep both CPU cores busy without starving either (generation has its own
    # limit: its requests share forwards, see explorer/generation/scheduler.py). Past QUEUE_SIZE waiting
    # requests, a newcomer is told at once that the app is busy ("Queue is full! Please try again.")
    # rather than waiting minutes.
    demo.queue(
        default_concurrency_limit=int(os.environ.get("PLM_EXPLORER_CONCURRENCY", "2")),
        max_size=int(os.environ.get("PLM_EXPLORER_QUEUE_SIZE", "64")),
    )
    return demo


def lecture_page(demo: gr.Blocks, key: str, view) -> None:
    """The tab alone on a page of its own, `/<key>` (its link: permalinks.lecture_link). A browser builds
    one tab's components and events there, not every tab's, so a link opens several times faster (issue
    #16, bench/permalinks.py). Its events serve the page only: the API is the home page's (docs/API.md)."""
    with demo.route(key, key, show_in_navbar=False):
        gr.Markdown(tr("app.title"))
        page = links.page_controls()
        links.all_tabs_button(key)
        with gr.Tabs(), gr.Tab(tr(f"app.tab.{key}"), id=key):
            view.build()
        language_marker()
        links.wire(page, None)
    for event in demo.fns.values():
        if event.page == key:
            event.api_visibility = "private"  # not in the API (its names would be `<name>_1`)


def main() -> None:
    # One torch thread per request beside others (a 135M model decodes as fast on one thread as on
    # two, 16.6 vs 16.9 tok/s here, and two requests with two threads each would fight over the 2
    # cores); a request alone may take more (explorer/cores.py).
    torch.set_num_threads(cores.REQUEST_THREADS)
    malloc.keep_large_blocks()  # a hall's vocabulary-wide tensors from the heaps, not fresh mappings each round
    models.warm_up()  # in the background: the page is served at once
    launch(
        build_app(),
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
    )


def launch(demo: gr.Blocks, prevent_thread_lock: bool = False, **options) -> None:
    """Launch with every language's labels (the page picks the browser's language)."""
    # The lecture pages are reached by links: no bar of pages (Gradio 6.31 draws one for routes even
    # with gr.Navbar(visible=False)).
    options.setdefault("css", ".nav-holder { display: none !important; }")
    # Each running stream holds one of the server's worker threads: a full batch of generations, and
    # room for the other tabs beside it (Gradio's default, 40, would hold a batch of 64 to 40 rows).
    options.setdefault("max_threads", MAX_BATCH + 8)
    middleware = [traffic.MIDDLEWARE, long_links.MIDDLEWARE]  # page visits counted; long links answered
    demo.launch(i18n=I18N, prevent_thread_lock=True, app_kwargs={"middleware": middleware}, **options)
    long_links.accept(demo)  # a link with a long text opens with a note, never the server's bare error
    if not prevent_thread_lock:
        demo.block_thread()


if __name__ == "__main__":
    main()
