"""Permalink restore time: from opening a link in a browser to its result on screen.

    .venv/bin/python bench/permalinks.py [--repeats 3]

Starts the app on a free port, then in headless Chromium opens a Generation link (16 new tokens, greedy)
and an Attention link (a 64-token text), each to the tab's lecture page (`/<tab>?…`: the tab alone) and to
the home page (`/?tab=<tab>&…`: every tab), and times each from navigation to result: the link's inputs
filled, the action run and its plots drawn (the Generation tab's step plot and its 16 steps, the
Attention tab's heatmap). Each link is opened in a fresh page; the first opening (cold: the browser
fetches the page's scripts, the model's first forward) is reported apart from the median of the rest.
Target: < 3 s per link. The machine is shared (2 cores, several users): the table also shows load,
and whether SmolLM2's decoding step was still compiling in the background when each row ended (the first
minutes after start: run with a fresh `TORCHINDUCTOR_CACHE_DIR` for a cold compile, or with
`PLM_EXPLORER_COMPILE=0` to compare without one).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import torch  # noqa: E402

from explorer import models  # noqa: E402
from explorer.generation import compiled_step  # noqa: E402
from explorer.permalinks import lecture_link, link  # noqa: E402

ATTENTION_TEXT = (
    "Attention lets every token look back at the tokens before it. A head that copies the previous token, "
    "a head that finds the first token, and a head that repeats a pattern all live in the same layer of this "
    "model, and each of them writes what it found into the residual stream for the next layer to read."
)
INPUTS = {
    "generation": dict(prompt="The capital of France is", max_new_tokens=16, do_sample=False),
    "attention": dict(text=ATTENTION_TEXT, layer=3, head=-1),
}
# Each tab's link to its lecture page (the tab alone) and to the home page (every tab).
LINKS = [
    (tab, page, make(tab, **values))
    for tab, values in INPUTS.items()
    for page, make in (("lecture", lecture_link), ("home", link))
]
# The result of a link on screen: the tab's first plot drawn with data (the Generation tab's step plot,
# drawn when the last token is in; the Attention tab's heatmap). `tab` is the link's tab.
PLOT = "tab => document.getElementById('plm-run-' + tab)?.closest('[role=tabpanel]')?.querySelector('.js-plotly-plot')"
DONE = f"tab => {{ const plot = ({PLOT})(tab); return !!(plot && plot.data && plot.data.length) }}"
# The same action clicked on the page already open (the same figure comes back, so the end is when the
# tab's outputs stop pending).
PENDING = """tab => [...document.getElementById('plm-run-' + tab).closest('[role=tabpanel]')
  .querySelectorAll('[data-testid="status-tracker"]')].some(s => !s.classList.contains('hide') && s.offsetParent)"""


# When the page was interactive, when the link's values were in (marked only where a tab's inputs
# reset others: on the home page, and on the ICL tab's lecture page; else nan), and when its action started (its
# button clicked), in seconds from navigation.
MARKS = """() => ({
  ready: performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd / 1000,
  filled: (performance.getEntriesByName('plm-link-filled')[0]?.startTime ?? NaN) / 1000,
  run: (performance.getEntriesByName('plm-link-run')[0]?.startTime ?? NaN) / 1000 })"""


def start_app() -> str:
    import app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app.launch(app.build_app(), server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    return f"http://127.0.0.1:{port}/"


def open_link(browser, url: str, tab: str) -> dict:
    """Seconds from navigation to the result; when the page was ready and the action started; and,
    for comparison, the same action clicked again on the open page."""
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 720})
    page = context.new_page()
    start = time.perf_counter()
    page.goto(url, wait_until="commit")
    page.wait_for_function(DONE, arg=tab, timeout=120_000, polling=50)
    times = {"link": time.perf_counter() - start, **page.evaluate(MARKS)}
    start = time.perf_counter()
    page.click(f"#plm-run-{tab}")
    page.wait_for_function(PENDING, arg=tab, timeout=10_000, polling=20)
    page.wait_for_function(f"tab => !({PENDING})(tab)", arg=tab, timeout=120_000, polling=50)
    times["click"] = time.perf_counter() - start
    context.close()
    return times


def compiling(lm: models.LoadedModel) -> str:
    """Whether the model's decoding step is still being compiled: "yes", "no" (done) or "off"."""
    if not compiled_step.ENABLED:
        return "off"
    return "no" if compiled_step.ready(lm) else "yes"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright
    from test_browser import CHROMIUM, CHROMIUM_ARGS

    torch.set_num_threads(1)  # as app.main() serves
    lm = models.get()  # the bundled model loaded, as in a running lecture (its step starts compiling)
    tokens = len(lm.tokenizer(ATTENTION_TEXT)["input_ids"])
    url = start_app()
    print(
        f"app at {url}; attention text: {tokens} tokens; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    print(
        f"{'link':<11} {'page':<8} {'first':>6} {'median':>7} {'page ready':>11} {'filled':>7} {'action starts':>14} {'clicked again':>14} {'load':>5} compiling"
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        for name, page, query in LINKS:
            first, *rest = [open_link(browser, url + query, name) for _ in range(args.repeats + 1)]
            median = {key: statistics.median(times[key] for times in rest) for key in first}
            print(
                f"{name:<11} {page:<8} {first['link']:>6.2f} {median['link']:>7.2f} {median['ready']:>11.2f} {median['filled']:>7.2f} "
                f"{median['run']:>14.2f} {median['click']:>14.2f} {os.getloadavg()[0]:>5.1f} {compiling(lm)}"
            )
        print(f"seconds (median of {args.repeats} after the first); target: link to result < 3 s")
        browser.close()


if __name__ == "__main__":
    main()
