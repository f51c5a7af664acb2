"""Permalinks and projector mode in a real browser (Chromium, as tests/test_browser.py drives it).

For each tab, on the home page and on the tab's lecture page: a link with non-default inputs opens that
tab, fills them, runs the tab's main action and shows its result; the tab's "Copy link" button writes
the same inputs back as the lecture page's link (and the address bar as the page's own). A link with a script,
unknown parameters and bad values opens with a note and runs nothing of it; projector mode switches on
from a link and off from its toggle, the plots following.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from test_browser import RESULT_PROBE, browser, open_page, wait_until_done  # noqa: F401

from explorer.permalinks import lecture_link, link

# One link per tab (values the tab's defaults do not have), and an input that must show the link's value.
LINKS = {
    "generation": (dict(prompt="Once upon a time", max_new_tokens=4, top_k=5), "Once upon a time"),
    "masked_lm": (dict(text="Paris is the [MASK] of France.", top_k=3), "Paris is the [MASK] of France."),
    "icl": (dict(task="topic", shots=1, query="The striker scored twice in the final."), "The striker scored"),
    "attention": (dict(text="The cat sat on the mat.", layer=2, head=1), "The cat sat on the mat."),
    "inside": (dict(text="Hello there, world.", layer=1, head=2), "Hello there, world."),
    "tokenisation": (dict(text="unbelievably tokenised", compare_with=""), "unbelievably tokenised"),
    "tuning": (dict(lora_r=4, num_labels=3), None),
}
TEXTS = "() => [...document.querySelectorAll('textarea, input')].map(e => e.value)"
RAN = "() => performance.getEntriesByName('plm-link-run').length > 0"  # the link clicked the tab's button


def opened(browser, app_url: str, query: str, locale: str = "en-US"):  # noqa: F811
    page = next(open_page(browser, app_url + query, locale))
    page.wait_for_selector("[id^=plm-run-]", state="attached", timeout=60_000)
    return page


@pytest.mark.parametrize("lecture", [False, True], ids=["home", "lecture"])
@pytest.mark.parametrize("tab", list(LINKS))
def test_a_link_opens_its_tab_fills_the_inputs_and_runs_the_action(browser, app_url, tab, lecture):  # noqa: F811
    """On the home page (`?tab=<tab>&…`, every tab) and on the tab's lecture page (`<tab>?…`, the tab alone)."""
    values, shown = LINKS[tab]
    page = opened(browser, app_url, (lecture_link if lecture else link)(tab, **values))
    button = page.locator(f"#plm-run-{tab}")
    button.wait_for(state="visible", timeout=60_000)  # the link's tab is the one shown
    if lecture:
        assert page.locator("[id^=plm-run-]").count() == 1, "a lecture page holds its tab alone"
    page.wait_for_function(RAN, timeout=120_000)
    panel = page.locator("[role=tabpanel]:visible").first
    wait_until_done(panel)
    errors = [e.inner_text() for e in page.locator(".toast-body.error").all()]
    assert not errors, f"{tab}: error toast {errors}"
    assert any(panel.evaluate(RESULT_PROBE).values()), f"{tab}: no result shown"
    if shown:
        assert any(shown in text for text in page.evaluate(TEXTS)), f"{tab}: the link's text is not in the inputs"

    panel.get_by_role("button", name="Copy link").click()  # the same inputs give the lecture page's link back
    copied = f"/{tab}?"
    page.wait_for_function(
        f"() => [...document.querySelectorAll('textarea, input')].some(e => e.value.includes({copied!r}))"
    )
    url = next(text for text in page.evaluate(TEXTS) if copied in text)
    assert urlparse(url).path == urlparse(app_url).path + tab
    query = parse_qs(urlparse(url).query)
    for name, value in values.items():
        assert query.get(name, [""]) == [str(value)], (name, query.get(name))
    # the address bar holds the same link, for the page it shows
    here = parse_qs(urlparse(page.url).query)
    assert here == ({**query} if lecture else {"tab": [tab], **query}), here
    if lecture:  # "All tabs" opens the same link on the home page
        page.get_by_role("button", name="All tabs").click()
        page.wait_for_function("() => new URLSearchParams(location.search).get('tab') !== null", timeout=60_000)
        assert urlparse(page.url).path == urlparse(app_url).path
        assert parse_qs(urlparse(page.url).query) == {"tab": [tab], **query}
    page.context.close()


def test_a_bad_link_opens_with_a_note_and_runs_none_of_it(browser, app_url):  # noqa: F811
    script = "<script>window.pwned = 1</script><img src=x onerror='window.pwned = 2'>"
    values = dict(prompt=script, max_new_tokens="many", top_k=99_999, bogus="1", model="no-such-model")
    page = opened(browser, app_url, link("generation", **values) + "&" + "<b>" * 30 + "=1")
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    notes = page.locator(".prose", has_text="some of it was ignored").first
    notes.wait_for(timeout=60_000)
    for name in ("'bogus'", "'max_new_tokens'", "'top_k'", "'model'", "'<b><b>"):
        assert name in notes.inner_text(), f"no note for {name}: {notes.inner_text()}"
    page.wait_for_function(RAN, timeout=120_000)
    wait_until_done(page.locator("[role=tabpanel]:visible").first)
    assert script in page.evaluate(TEXTS), "the script is not shown as text in the prompt"
    assert page.evaluate("() => window.pwned") is None and not dialogs, "a script from the link ran"
    assert not page.locator(".prose b").count(), "a name from the link was drawn as markup"
    page.context.close()


def test_a_link_over_the_length_limit_is_refused_with_a_note_and_the_app_serves_on(browser, app_url):  # noqa: F811
    # 30,000 characters reach the app, which notes what it left out
    page = opened(browser, app_url, link("attention", text="word " * 6_000, layer=1))
    notes = page.locator(".prose", has_text="some of it was ignored").first
    notes.wait_for(timeout=60_000)
    assert "30,000 characters long; the limit is 20,000" in notes.inner_text()
    page.context.close()
    # 200 kB: a page saying the link is too long, whose link opens the app without the long text
    huge = browser.new_context(locale="en-US").new_page()
    huge.goto(app_url + link("generation", prompt="x" * 200_000, max_new_tokens=3), wait_until="load")
    assert "holds 200,000 characters: open the link without 'prompt'" in huge.inner_text("body")
    huge.get_by_role("link", name="Open the link without them").click()
    huge.wait_for_function(RAN, timeout=120_000)
    assert "max_new_tokens=3" in huge.url and "prompt" not in huge.url
    huge.context.close()


def test_projector_mode_from_a_link_and_its_toggle(browser, app_url):  # noqa: F811
    page = opened(browser, app_url, link("attention", text="The cat sat on the mat.") + "&projector=1")
    page.wait_for_function("() => document.documentElement.classList.contains('projector')", timeout=60_000)
    assert page.evaluate("() => document.body.classList.contains('dark')")
    size = page.evaluate("() => parseFloat(getComputedStyle(document.querySelector('.prose')).fontSize)")
    assert size >= 20, f"projector type is {size}px"
    # the plots follow: large fonts on a dark background
    page.wait_for_function(
        """() => [...document.querySelectorAll('.js-plotly-plot')].some(p => p.data && p.data.length
             && p.layout.font && p.layout.font.size >= 20 && p.layout.paper_bgcolor === '#000000')""",
        timeout=120_000,
    )
    page.screenshot(path="screenshots/projector-attention.png")
    toggle = page.get_by_label("Projector mode")
    toggle.uncheck()
    page.wait_for_function("() => !document.documentElement.classList.contains('projector')")
    assert "projector" not in page.url
    page.wait_for_function(
        "() => [...document.querySelectorAll('.js-plotly-plot')].every(p => !p.layout || !p.layout._plmBefore)"
    )
    page.context.close()
