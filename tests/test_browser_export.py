"""Downloads and "Show the code" in a real browser: a plot saved as PNG and SVG, a table as CSV, a
result's payload as a JSON file, and the code panel following the inputs (see tests/test_browser.py
for the Chromium it drives; skips as it does)."""

from __future__ import annotations

import csv
import io
import json
import time

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from test_browser import browser, open_page, wait_until_done  # noqa: F401 (fixtures shared with test_browser)

from explorer import i18n, tokenisation
from explorer.views.tokenisation_html import TABLE_COLUMNS

EN = i18n.labels("en")


@pytest.fixture(scope="module")
def page(browser, app_url):  # noqa: F811 - `browser` is test_browser's fixture
    yield from open_page(browser, app_url, "en-US")


def show_tab(page, key: str):
    page.locator("[role=tablist]").first.get_by_role("tab", name=EN[f"app.tab.{key}"], exact=True).click()
    return page.locator("[role=tabpanel]:visible").first


def download(page, button, timeout: float = 60_000) -> tuple[str, bytes]:
    """Click `button`; the file the browser saves: its name and bytes."""
    with page.expect_download(timeout=timeout) as saved:
        button.click()
    return saved.value.suggested_filename, saved.value.path().read_bytes()


def test_a_plot_downloads_as_png_and_svg(page):
    panel = show_tab(page, "tokenisation")  # the toy BPE's vocabulary plot is drawn at once, without a model
    panel.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
    name, data = download(page, panel.get_by_role("button", name=EN["export.png"], exact=True).first)
    assert name == "tokenisation-vocab_plot.png"
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5_000  # a PNG, with a picture in it
    name, data = download(page, panel.get_by_role("button", name=EN["export.svg"], exact=True).first)
    assert name == "tokenisation-vocab_plot.svg" and data.startswith(b"<svg") and b"</svg>" in data


def test_a_table_downloads_as_csv(page):
    panel = show_tab(page, "tokenisation")
    name, data = download(page, panel.get_by_role("button", name=EN["export.csv"], exact=True).first)
    assert name == "tokenisation-table.csv"
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == [EN[f"tokenisation.col.{column}"] for column in TABLE_COLUMNS]  # in the page's language
    assert len(rows) == 1 + len(tokenisation.train_bpe().merges)  # the header, then one row per merge


def test_a_result_downloads_as_json_and_the_code_follows_the_inputs(page):
    panel = show_tab(page, "generation")
    panel.get_by_role("textbox", name=EN["generation.prompt"], exact=True).fill("The capital of Italy is")
    panel.get_by_role("button", name=EN["generation.peek"], exact=True).click()
    wait_until_done(panel)
    # The tab has several JSON panels (the token focus has its own); open them all and save the filled ones.
    for label in panel.locator("button.label-wrap", has_text=EN["common.json"]).all():
        if label.is_visible():
            label.click()
    time.sleep(1.0)  # the opened panels draw their toolbars
    saved = {}
    for button in panel.get_by_role("button", name=EN["export.json"], exact=True).all():
        if button.is_visible():
            try:
                name, data = download(page, button, timeout=5_000)
            except PlaywrightTimeout:  # an empty panel saves nothing
                continue
            saved[name] = json.loads(data)
    result = saved["generation-result.json"]
    assert result["prompt"] == "The capital of Italy is" and result["candidates"]
    panel.get_by_text(EN["code.panel"], exact=True).first.click()
    code = panel.locator(".cm-content").first
    code.wait_for(timeout=30_000)
    assert "AutoModelForCausalLM.from_pretrained" in code.inner_text()
    assert "The capital of Italy is" in code.inner_text()


def test_the_download_buttons_speak_the_page_language(browser, app_url):  # noqa: F811
    zh = i18n.labels("zh-CN")
    page = next(open_page(browser, app_url + "?tab=tokenisation", "zh-CN"))
    panel = page.locator("[role=tabpanel]:visible").first
    panel.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
    for key in ("export.png", "export.svg", "export.csv"):
        button = panel.get_by_role("button", name=zh[key], exact=True).first
        button.wait_for(timeout=10_000)
        assert button.get_attribute("title") == zh[key + "_tip"], key
    page.context.close()
