"""BertViz's head and model views as a self-contained, offline page in an iframe.

BertViz writes a page that loads require.js, d3 and jQuery from CDNs and carries every weight as
JSON. Here that page is rewritten once, in one place: the libraries inlined from `vendor/`, its CDN
tag and its duplicate copy of the weights removed, user text kept from ending its script early, and
the whole served in an iframe whose Content-Security-Policy allows no network at all.
"""

from __future__ import annotations

import functools
import html
from pathlib import Path

import bertviz

from ..attention.forward import Forward
from .attention_figures import token_label
from .common import t

MAX_VALUES = 400_000  # weights sent to the browser per BertViz view (~2.5 MB of JSON)
MAX_HEIGHT = 820  # px; taller views scroll inside their frame
CDN_REQUIRE = '<script src="https://cdnjs.cloudflare.com/ajax/libs/require.js/2.3.6/require.min.js"></script>'
VENDOR = Path(__file__).with_name("vendor")


@functools.cache
def libraries() -> str:
    """require.js, d3 and jQuery inlined (BertViz would fetch them from a CDN: the app must work offline),
    with d3 and jQuery registered as the modules BertViz's script asks require.js for."""
    scripts = [(VENDOR / name).read_text(encoding="utf-8") for name in ("d3.min.js", "jquery.min.js", "require.js")]
    register = "define('d3', [], function () { return window.d3; }); define('jquery', [], function () { return window.jQuery; });"
    return "".join(f"<script>{script}</script>" for script in [*scripts, register])


def layers(run: Forward, layer: int) -> list[int]:
    """The layers BertViz gets: all when they fit the budget, else a window around `layer`."""
    n = run.num_tokens
    fit = max(1, min(run.num_layers, MAX_VALUES // (run.num_heads * n * n)))
    start = min(max(0, layer - fit // 2), run.num_layers - fit)
    return list(range(start, start + fit))


def frame(run: Forward, view: str, layer: int) -> str:
    """BertViz's own head or model view, as a self-contained page in an iframe (Gradio's HTML
    component does not run scripts; an iframe's srcdoc does). Its Content-Security-Policy allows
    no network at all. Not `sandbox`ed: Chromium then draws the frame in another process, which
    headless screenshots miss for the model view, so the drawing could not be verified."""
    shown = layers(run, layer)
    # BertViz sends every weight as JSON and draws it as an opacity: 2 decimals are plenty and keep the
    # page small. Only the included layers are read; the others stay zero-copy views.
    weights = [run.attentions[i][None] for i in range(run.num_layers)]
    for i in shown:
        weights[i] = weights[i].double().round(decimals=2)
    tokens = [token_label(label) for label in run.labels]  # readable: a piece of a character is '·', never "�"
    if view == "head":
        page = bertviz.head_view(weights, tokens, layer=layer, include_layers=shown, html_action="return").data
        page = page.replace("Layer: <select", t("attention.bertviz.layer") + " <select", 1)
        height = 22.5 * len(tokens) + 90
    else:
        page = bertviz.model_view(
            weights, tokens, include_layers=shown, display_mode="light", html_action="return"
        ).data
        thumbnail = len(tokens) * 7 * 12 / run.num_heads + 10
        height = max(len(shown) * thumbnail + 38, len(tokens) * 18 + 55) + 50
    document = (
        '<!doctype html><html><head><meta charset="utf-8">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'\">"
        f'{libraries()}</head><body style="margin:4px;background:#fff">{_script(page)}</body></html>'
    )
    title = t("attention.bertviz.head_view") if view == "head" else t("attention.bertviz.model_view")
    return (
        f'<iframe title="{html.escape(title)}" srcdoc="{html.escape(document, quote=True)}" '
        f'style="width:100%;height:{min(MAX_HEIGHT, int(height))}px;border:1px solid #e5e7eb;border-radius:6px"></iframe>'
    )


def _script(page: str) -> str:
    """BertViz's page without its CDN script tag, its data once, and safe for any token."""
    page = page.replace(CDN_REQUIRE, "")
    # BertViz 1.4 substitutes its params for both "PYTHON_PARAMS" in `const params = PYTHON_PARAMS; // HACK:
    # PYTHON_PARAMS is a template marker…`: the comment would carry every weight a second time.
    comment = page.find("; // HACK: ")
    if comment != -1:
        page = page[: comment + 1] + page[page.find("\n", comment) :]
    marker = '<script type="text/javascript">'
    before, found, script = page.partition(marker)
    if not found:
        return page
    # Tokens are user text: a '</script>' in one must not end BertViz's script early.
    body, _, after = script.rpartition("</script>")
    return before + marker + body.replace("</", "<\\/") + "</script>" + after


def note(run: Forward, layer: int) -> str:
    """Which layers BertViz got, and how to read its two views."""
    shown = layers(run, layer)
    if len(shown) == run.num_layers:
        which = t("attention.bertviz.all_layers", layers=run.num_layers)
    else:
        which = t("attention.bertviz.some_layers", first=shown[0], last=shown[-1], layers=run.num_layers)
    return t("attention.bertviz.note", which=which)
