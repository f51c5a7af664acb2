"""In a real browser: clicking a generated token shows its step, its trajectory through the layers and
its attention row, and a link that opens the Attention tab on exactly the generation's text."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest
from test_browser import browser, open_page, wait_until_done  # noqa: F401 (the shared Chromium fixtures)

from explorer import i18n

PLOTS_PROBE = """panel => [...panel.querySelectorAll('.js-plotly-plot')].filter(p => p.data && p.data.length > 0)
  .map(p => (p.layout.title && p.layout.title.text) || '')"""


@pytest.fixture(scope="module")
def page(browser, app_url):  # noqa: F811 (the fixture imported above)
    yield from open_page(browser, app_url, "en-US")


def test_clicking_a_generated_token_shows_its_focus_and_links_to_the_attention_tab(page):
    english = i18n.labels("en")
    page.locator("[role=tablist]").first.get_by_role("tab", name=english["app.tab.generation"], exact=True).click()
    panel = page.locator("[role=tabpanel]:visible").first
    panel.get_by_role("button", name=english["generation.run"], exact=True).click()
    wait_until_done(panel)
    tokens = panel.locator("[data-step]")
    assert tokens.count() > 2, "the generated text has no clickable tokens"
    tokens.nth(2).click()
    wait_until_done(panel)
    errors = [e.inner_text() for e in page.locator(".toast-body.error").all()]
    assert not errors, f"error toast {errors}"
    titles = panel.evaluate(PLOTS_PROBE)
    assert any(title.startswith("Step 2:") for title in titles), titles  # the step view follows the click
    assert any("probability and rank per layer" in title for title in titles), titles
    assert any(title.startswith("What position") for title in titles), titles
    link = panel.locator('a[href^="?tab=attention"]').first
    query = parse_qs(link.get_attribute("href")[1:])
    assert query["text"][0].startswith("<|endoftext|>The capital of France is"), query  # the tokens read, exactly
    assert query["model"] == ["SmolLM2-135M-Instruct"]
