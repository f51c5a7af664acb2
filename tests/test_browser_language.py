"""In a real browser: the language picked in Gradio's settings panel also rules what the server draws.

A zh-CN browser opens the app in Chinese and its requests carry the cookie `plm_language=zh-CN`;
switching the page to English in the settings panel rewrites the cookie, and the server's next
message (an error toast from the Masked LM tab) comes in English. A tab's lecture page speaks the
browser's language too. Reuses test_browser's Chromium.
"""

from __future__ import annotations

import time

from test_browser import browser, open_page, wait_until_done  # noqa: F401

from explorer import i18n


def language_cookie(page) -> str:
    return next((c["value"] for c in page.context.cookies() if c["name"] == i18n.CHOSEN_COOKIE), "")


def error_toast_for_a_text_without_a_blank(page, tab_title: str) -> str:
    for close in page.locator(".toast-close").all():
        close.click()
    if page.locator(".toast-body").count():  # an earlier toast fades out before the new one is read
        page.locator(".toast-body").first.wait_for(state="detached", timeout=10_000)
    page.locator("[role=tablist]").first.get_by_role("tab", name=tab_title, exact=True).click()
    panel = page.locator("[role=tabpanel]:visible").first
    panel.locator("textarea:visible").first.fill("no blank here")
    panel.locator("button.primary:visible").first.click()
    toast = page.locator(".toast-body.error").first
    toast.wait_for(timeout=60_000)
    return toast.inner_text()


def test_the_language_switched_in_the_page_rules_server_messages(browser, app_url):  # noqa: F811
    page = next(open_page(browser, app_url, "zh-CN"))
    time.sleep(1.0)
    assert language_cookie(page) == "zh-CN"
    chinese_tab = i18n.labels("zh-CN")["app.tab.masked_lm"]
    assert "[MASK]" in (message := error_toast_for_a_text_without_a_blank(page, chinese_tab))
    assert "文本里没有 [MASK]" in message

    page.get_by_role("button", name="设置").first.click()  # Gradio's footer: settings (in Chinese)
    language = page.get_by_label("Language").or_(page.locator("[aria-label='Language']")).first
    language.click()
    page.get_by_role("option", name="English").first.click()
    deadline = time.monotonic() + 10
    while language_cookie(page) != "en" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert language_cookie(page) == "en"
    page.locator(".api-docs .backdrop").first.click(force=True)  # close Gradio's settings
    page.locator(".api-docs").first.wait_for(state="hidden", timeout=10_000)
    english_tab = i18n.labels("en")["app.tab.masked_lm"]
    assert "The text has no [MASK]" in error_toast_for_a_text_without_a_blank(page, english_tab)


def test_a_lecture_page_speaks_the_browsers_language(browser, app_url):  # noqa: F811
    page = next(open_page(browser, app_url + "masked_lm", "zh-CN"))
    chinese = i18n.labels("zh-CN")
    page.get_by_role("button", name=chinese["links.all_tabs"]).wait_for(timeout=60_000)
    assert page.get_by_role("button", name=chinese["links.copy"]).count() == 1
    page.wait_for_function("() => performance.getEntriesByName('plm-link-run').length > 0", timeout=60_000)
    wait_until_done(page.locator("[role=tabpanel]:visible").first)  # the page runs its tab once opened
    assert "文本里没有 [MASK]" in error_toast_for_a_text_without_a_blank(page, chinese["app.tab.masked_lm"])
    page.context.close()
