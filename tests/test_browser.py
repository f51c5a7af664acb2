"""End to end in a real browser: every tab of the app, its main action with the defaults, a screenshot.

Playwright drives Debian's Chromium (/usr/bin/chromium; Playwright's own browser download cannot
work offline). For each top-level tab (read from the app as app.py assembles it, so tabs wired in
later are covered), the test clicks the tab, clicks its first primary button, waits until the
outputs stop pending, and checks that no error toast appeared and that a plot with data, a table
with cells or an HTML result with text is shown. Screenshots go to screenshots/ (not in git).
Skips with the reason when Playwright or Chromium cannot be had.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest

from explorer import i18n, models

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "screenshots"
ACTION_TIMEOUT = 240.0  # the slowest default action on a busy 2-core machine; a hang detector, not a target
# Gradio's status trackers (one per output) lose the class "hide" while a request queues or runs.
PENDING_PROBE = """panel => [...panel.querySelectorAll('[data-testid="status-tracker"]')]
  .filter(t => !t.classList.contains('hide') && t.offsetParent !== null).length"""

# A tab's results: a plotly figure with at least one trace, a table with a cell, or HTML with text.
RESULT_PROBE = """panel => ({
  plots: [...panel.querySelectorAll('.js-plotly-plot')].filter(p => p.data && p.data.length > 0).length,
  cells: [...panel.querySelectorAll('[data-testid^="cell-"], table td')].filter(c => c.innerText.trim()).length,
  html: [...panel.querySelectorAll('.prose, .html-container')].filter(h => h.innerText.trim().length > 20).length,
})"""


def top_level_tabs() -> list[str]:
    """The labels of the home page's top-level tabs, in order (nested tabs belong to their tab)."""
    import gradio as gr

    import app

    labels = []

    def walk(block) -> None:
        for child in getattr(block, "children", []):
            if child.page:  # a tab's lecture page (the tab again, alone)
                continue
            if isinstance(child, gr.Tab):  # its label is a translation key: the English text is shown here
                label = child.label
                labels.append(i18n.labels("en")[label.key] if hasattr(label, "key") else label)
            else:
                walk(child)

    walk(app.build_app())
    return labels


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module (Playwright's sync API allows one instance per thread)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements-dev.txt)")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (make test does where it can)")
    with sync_api.sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        except sync_api.Error as error:
            pytest.skip(f"Chromium at {CHROMIUM} did not start: {str(error)[:300]}")
        SCREENSHOTS.mkdir(exist_ok=True)
        yield browser
        browser.close()


def open_page(browser, app_url: str, locale: str):
    """The app in a browser context whose language is `locale`."""
    context = browser.new_context(locale=locale, viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(app_url, wait_until="load")
    page.get_by_role("tab").first.wait_for(timeout=60_000)
    yield page
    context.close()


@pytest.fixture(scope="module")
def page(browser, app_url):
    yield from open_page(browser, app_url, "en-US")


@pytest.fixture(scope="module")
def chinese_page(browser, app_url):
    yield from open_page(browser, app_url, "zh-CN")


def wait_until_done(panel) -> None:
    """Outputs show a pending tracker while the request queues and runs; wait until none is left."""
    time.sleep(1.0)  # the click's request is queued and the trackers appear
    deadline = time.monotonic() + ACTION_TIMEOUT
    while panel.evaluate(PENDING_PROBE) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not panel.evaluate(PENDING_PROBE), f"still pending after {ACTION_TIMEOUT:.0f} s"
    time.sleep(1.0)  # plotly draws the figures after the last update


@pytest.mark.parametrize("tab", top_level_tabs())
def test_tab_runs_its_main_action_with_the_defaults(page, tab):
    for close in page.locator(".toast-close").all():  # toasts of an earlier tab
        close.click()
    page.locator("[role=tablist]").first.get_by_role("tab", name=tab, exact=True).click()
    panel = page.locator("[role=tabpanel]:visible").first
    shot = SCREENSHOTS / f"{top_level_tabs().index(tab) + 1}-{re.sub(r'[^a-z0-9]+', '-', tab.lower())}.png"
    button = panel.locator("button.primary:visible").first
    if not button.count():
        page.screenshot(path=shot, full_page=True)
        assert "coming soon" in panel.inner_text().lower(), f"{tab}: no main (primary) button and not 'coming soon'"
        pytest.skip(f"{tab} is not wired yet (coming soon)")
    action = button.inner_text()
    button.click()
    wait_until_done(panel)
    page.screenshot(path=shot, full_page=True)

    errors = [e.inner_text() for e in page.locator(".toast-body.error").all()]
    assert not errors, f"{tab} / {action!r}: error toast {errors}"
    found = panel.evaluate(RESULT_PROBE)
    assert any(found.values()), f"{tab} / {action!r}: no plot, table or HTML result appeared ({found})"


# Visible texts of a tab that must be translated: component labels, info lines, buttons, tab titles.
LABEL_PROBE = """panel => [...panel.querySelectorAll('[data-testid="block-info"], [data-testid="block-label"], button, .label-wrap span')]
  .filter(e => e.offsetParent !== null).map(e => e.innerText.trim()).filter(t => t.length > 1)"""
CJK = re.compile(r"[\u4e00-\u9fff]")


def test_a_chinese_browser_sees_every_tab_in_chinese(chinese_page):
    """A zh-CN browser: every tab's title, labels and buttons are in Chinese (or are a Chinese label
    without Han characters, such as 'Top-k（0 = 关闭）' or a model name in a menu)."""
    import app

    chinese = i18n.labels("zh-CN")
    allowed = set(chinese.values()) | set(models.REGISTRY) | {"✕", "×"}
    assert CJK.search(chinese_page.locator("h1").first.inner_text())
    untranslated, raw_keys = {}, {}
    for key, _ in app.TABS:
        title = chinese[f"app.tab.{key}"]
        chinese_page.locator("[role=tablist]").first.get_by_role("tab", name=title, exact=True).click()
        time.sleep(0.5)
        panel = chinese_page.locator("[role=tabpanel]:visible").first
        chinese_page.screenshot(path=SCREENSHOTS / f"zh-{key}.png", full_page=True)
        english = [text for text in panel.evaluate(LABEL_PROBE) if not CJK.search(text) and text not in allowed]
        if english:
            untranslated[title] = english[:8]
        if "__i18n__" in panel.inner_text():  # a component that shows a translation key raw
            raw_keys[title] = panel.inner_text().split("__i18n__")[1][:80]
    assert not untranslated, f"untranslated labels: {untranslated}"
    assert not raw_keys, f"translation keys shown raw: {raw_keys}"
