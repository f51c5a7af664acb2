"""Each tab's link parameters are its main endpoint's, read from the built app (no browser)."""

from __future__ import annotations

import re

import contract
import pytest

from explorer import generation, models
from explorer.views import links

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
