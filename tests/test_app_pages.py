"""Each tab's lecture page (`/<tab>`): only that tab in the page's config, and no change to the API."""

from __future__ import annotations

import json
import re

import contract
import pytest
from test_views_links import request

from explorer.permalinks import lecture_link
from explorer.views import links

from builders import launched


@pytest.fixture(scope="module")
def demo():
    import app

    return app.build_app()


def page_blocks(config: dict, page: str) -> list[dict]:
    ids = set(config["page"][page]["components"])
    return [component for component in config["components"] if component["id"] in ids]


def run_buttons(config: dict, page: str) -> set[str]:
    ids = {c["props"].get("elem_id") for c in page_blocks(config, page)}
    return {elem_id for elem_id in ids if elem_id and elem_id.startswith("plm-run-")}


def test_each_lecture_page_holds_only_its_tab(demo):
    import app

    config = demo.get_config_file()
    home = page_blocks(config, "")
    assert run_buttons(config, "") == {f"plm-run-{key}" for key, _ in app.TABS}
    for key, _ in app.TABS:
        assert run_buttons(config, key) == {f"plm-run-{key}"}, key
        blocks, events = page_blocks(config, key), config["page"][key]["dependencies"]
        assert len(blocks) < len(home) / 3 and len(events) < len(config["page"][""]["dependencies"]) / 3, key
        assert not {c["id"] for c in blocks} & {c["id"] for c in home}, key
        linked = [entry for entry in links._LINKED[demo] if entry.page == key]
        assert [entry.tab for entry in linked] == [key] and linked[0].parameters, key


def comparable(api: dict) -> str:
    """The API description, with the unlabelled outputs' names (`value_<component id>`) made alike."""
    return re.sub(r"value_\d+", "value_N", json.dumps(api, default=str, sort_keys=True))


def test_the_api_is_the_home_pages_alone(demo, monkeypatch):
    """The same endpoints, parameters and payloads as an app without lecture pages; no `<name>_1` copies."""
    import app

    monkeypatch.setattr(app, "lecture_page", lambda *args: None)
    without_pages = app.build_app().get_api_info()
    api = demo.get_api_info()
    assert comparable(api) == comparable(without_pages)
    named = api["named_endpoints"]
    assert not [name for name in named if re.search(r"_\d+$", name)]
    assert set(contract.promised_fields()) <= set(named)


def test_a_lecture_page_opens_and_a_too_long_link_to_it_gets_a_page_saying_so(demo):
    port = launched(demo)
    try:
        query = lecture_link("generation", prompt="x" * 40_000, max_new_tokens=8)
        assert request(port, "GET", "/" + query)[0] == 200
        # the page's opening step reads the link as the generation tab's (the page names the tab)
        index = next(i for i, fn in demo.fns.items() if fn.name == "open_link" and fn.page == "generation")
        body = {"fn_index": index, "data": [], "session_hash": "lecture-link"}
        status, shown = request(port, "POST", "/gradio_api/run/predict?" + query.split("?", 1)[1], body)
        assert status == 200 and "40,000 characters long; the limit is 20,000" in shown, shown[:300]

        status, page = request(port, "GET", "/" + lecture_link("attention", text="<b>" * 70_000, layer=2))
        assert status == 414 and "<b><b>" not in page
        assert 'href="/attention?layer=2"' in page
        assert request(port, "GET", "/attention?layer=2")[0] == 200
    finally:
        demo.close()
