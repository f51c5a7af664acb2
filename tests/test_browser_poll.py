"""End to end in a real browser: one class poll from the lecturer's Tokenisation tab, a student's
phone (390 px wide) voting once, the live tally and the reveal; script typed into the question is shown
as text and never run. Skips like tests/test_browser.py when Playwright or Chromium cannot be had."""

from __future__ import annotations

import time

import pytest
from test_browser import SCREENSHOTS, browser, open_page  # noqa: F401 (the fixtures: one Chromium for the module)

from explorer.poll import STORE

PHONE = {"width": 390, "height": 844}
# A corpus whose words are markup: the question quotes it and the options are its characters' pairs.
HOSTILE_CORPUS = '<img src=x onerror="window.pwned=1">×3 <b>bold</b>×2 low×5'
WAIT = 60_000  # ms: a hang detector on a busy 2-core machine


@pytest.fixture(scope="module")
def lecturer(browser, app_url):  # noqa: F811 (the fixture imported above)
    yield from open_page(browser, app_url, "en-US")


def student(browser, app_url: str, code: str):  # noqa: F811
    """A phone-sized browser of its own (its own storage: its own voter id) on the poll's link."""
    context = browser.new_context(locale="en-US", viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(f"{app_url}?poll={code}", wait_until="load")
    page.locator("#poll-student").wait_for(timeout=WAIT)
    page.locator(".poll-question, .poll-message").first.wait_for(timeout=WAIT)
    return context, page


def options(page):
    return page.locator("#poll-student button:visible")


def test_one_poll_from_the_lecturer_to_a_phone_and_back(browser, lecturer, app_url):  # noqa: F811
    lecturer.locator("[role=tablist]").first.get_by_role("tab", name="Tokenisation", exact=True).click()
    panel = lecturer.locator("[role=tabpanel]:visible").first
    panel.get_by_label("Corpus").fill(HOSTILE_CORPUS)
    panel.get_by_text("Ask the class (a poll", exact=False).click()
    panel.get_by_role("button", name="Ask the class", exact=True).click()
    code_box = panel.locator(".poll-code")
    code_box.wait_for(timeout=WAIT)
    code = code_box.inner_text().strip()
    assert len(code) == 6
    assert f"?poll={code}" in panel.locator("a.poll-link").get_attribute("href")

    context, phone = student(browser, app_url, code)
    try:
        question = phone.locator(".poll-question").inner_text()
        assert "<b>bold</b>" in question and "onerror" in question  # shown as text
        assert phone.evaluate("() => window.pwned") is None  # never run
        assert phone.locator("[role=tablist]:visible").count() == 0  # the tabs are hidden
        assert phone.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
        choices = options(phone)
        assert choices.count() == 4
        phone.screenshot(path=SCREENSHOTS / "poll-phone.png", full_page=True)
        choices.nth(1).click()
        phone.get_by_text("Vote counted.").wait_for(timeout=WAIT)
        assert options(phone).count() == 0  # "vote counted" only

        phone.reload(wait_until="load")  # the same browser again: its vote is already in
        phone.get_by_text("You have already voted in this poll.").wait_for(timeout=WAIT)
        assert options(phone).count() == 0
    finally:
        context.close()

    tally = panel.locator(".poll-tally")
    deadline = time.monotonic() + 30
    while "1 vote(s)" not in tally.inner_text() and time.monotonic() < deadline:
        time.sleep(0.5)  # the lecturer's timer reads the tally every 2 s
    assert "1 vote(s)" in tally.inner_text()
    assert [c.inner_text() for c in tally.locator(".poll-count").all()] == ["0", "1", "0", "0"]

    panel.get_by_role("button", name="Reveal", exact=True).click()
    deadline = time.monotonic() + 30
    while not panel.evaluate(
        "p => [...p.querySelectorAll('.js-plotly-plot')].some(f => f.data && f.data.length === 2)"
    ):
        assert time.monotonic() < deadline, "no reveal figure with the class and the model"
        time.sleep(0.5)
    assert "closed" in tally.inner_text()
    panel.screenshot(path=SCREENSHOTS / "poll-lecturer.png")
    assert STORE.ballot(code).open is False

    context, late = student(browser, app_url, code)  # another phone after the reveal: no vote possible
    try:
        late.get_by_text("This poll is closed", exact=False).wait_for(timeout=WAIT)
        assert options(late).count() == 0
    finally:
        context.close()
    assert [c.inner_text() for c in tally.locator(".poll-count").all()] == ["0", "1", "0", "0"]


def test_an_unknown_code_says_so_on_the_phone(browser, app_url):  # noqa: F811
    context, phone = student(browser, app_url, "K7QX2M")
    try:
        assert "No poll has the code K7QX2M" in phone.locator(".poll-message").inner_text()
        assert options(phone).count() == 0
    finally:
        context.close()
