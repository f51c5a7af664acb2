"""Each tab's link parameters are its main endpoint's, read from the built app (no browser)."""

from __future__ import annotations

import http.client
import json
import re
from pathlib import Path

import contract
import gradio as gr
import pytest

from explorer import generation, models
from explorer.permalinks import link
from explorer.views import links

from builders import launched

MAIN_ENDPOINTS = {
    "generation": "/generate",
    "masked_lm": "/fill_mask",
    "icl": "/icl",
    "attention": "/attention",
    "inside": "/attention_steps",
    "tokenisation": "/tokenize",
    "tuning": "/tuning_table",
}


@pytest.fixture(scope="module")
def linked():
    import app

    demo = app.build_app()
    return demo, {entry.tab: entry for entry in links._LINKED[demo]}


def documented_parameters(endpoint: str) -> list[str]:
    """The parameters docs/API.md lists for the endpoint, in order ("in: `a, b, c`")."""
    section = re.search(rf"^## {endpoint}\s*$(.*?)(?=^## |\Z)", contract.API.read_text(encoding="utf-8"), re.M | re.S)
    return [name.strip() for name in re.search(r"in: `([^`]*)`", section.group(1)).group(1).split(",")]


def test_every_tab_has_a_link_named_as_its_endpoint_documents_it(linked):
    import app

    demo, entries = linked
    assert list(entries) == [key for key, _ in app.TABS] == list(MAIN_ENDPOINTS)
    for tab, endpoint in MAIN_ENDPOINTS.items():
        names = [parameter.name for parameter in entries[tab].parameters]
        documented = documented_parameters(endpoint)
        assert names[: len(documented)] == documented, (tab, names, documented)
        button = next(block for block in demo.blocks.values() if getattr(block, "elem_id", None) == f"plm-run-{tab}")
        assert isinstance(button, links.gr.Button)


def test_parameters_take_their_components_kinds_and_ranges(linked):
    _, entries = linked
    generate = {parameter.name: parameter for parameter in entries["generation"].parameters}
    assert generate["max_new_tokens"] == links.Parameter("max_new_tokens", "integer", 1, generation.MAX_NEW_TOKENS)
    assert (generate["temperature"].kind, generate["temperature"].minimum) == ("number", 0.05)
    assert generate["do_sample"].kind == "boolean" and generate["prompt"].kind == "text"
    causal = {info.name for info in models.list_models() if info.kind == "causal"}
    assert set(generate["model"].choices) == {"", *causal} and generate["model"].kind == "choice"
    tokenize = {parameter.name: parameter for parameter in entries["tokenisation"].parameters}
    assert tokenize["compare_with"].kind == "choices" and "Gemma-3-270M" in tokenize["compare_with"].choices


def request(port: int, method: str, target: str, body: dict | None = None) -> tuple[int, str]:
    """One plain HTTP request (http.client: clients such as httpx refuse URLs over 64 kB themselves)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        connection.request(method, target, json.dumps(body) if body is not None else None, headers)
        reply = connection.getresponse()
        return reply.status, reply.read().decode("utf-8", "replace")
    finally:
        connection.close()


def test_long_links_open_with_a_note_and_longer_ones_get_a_page_saying_so(linked):
    """Past 16 kB, uvicorn alone refuses a request with a bare 400; past 64 kB, Gradio fails on it."""

    demo, _ = linked
    port = launched(demo)
    try:
        # 40 kB: the page opens, and the link's opening step (sent with the page's query, as the browser
        # sends it) notes what was too long and keeps the rest
        query = link("generation", prompt="x" * 40_000, max_new_tokens=8)
        assert request(port, "GET", "/" + query)[0] == 200
        index = next(i for i, fn in demo.fns.items() if fn.name == "open_link")
        body = {"fn_index": index, "data": [], "session_hash": "long-link"}
        status, shown = request(port, "POST", "/gradio_api/run/predict" + query, body)
        assert status == 200, shown[:300]
        assert "40,000 characters long; the limit is 20,000" in shown and "'max_new_tokens'" not in shown

        # 200 kB: a page that says so, in the reader's language, linking to the link without the long text
        status, page = request(port, "GET", "/" + link("generation", prompt="<b>" * 70_000, max_new_tokens=8))
        assert status == 414 and "<b><b>" not in page
        assert "its longest parameter, 'prompt', holds 210,000 characters" in page.lower()
        assert 'href="/?tab=generation&amp;max_new_tokens=8"' in page
        assert request(port, "GET", "/?tab=generation&max_new_tokens=8")[0] == 200
    finally:
        demo.close()


def test_the_plotly_script_imported_early_is_the_one_gradios_plot_imports():
    assets = Path(gr.__file__).parent / "templates/frontend/assets"
    assert links.PLOTLY_CHUNK.startswith("PlotlyPlot-")
    plot = next(assets.glob("Plot-*.js")).read_text()
    assert f"./{links.PLOTLY_CHUNK}" in plot  # the same URL: the browser evaluates it once
