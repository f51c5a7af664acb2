"""The interface's languages: short labels, explanations and messages, one folder per language.

`locales/<language>/labels/*.json` map keys ("generation.prompt") to short texts (one file per
tab); each `locales/<language>/<tab>.md` is a tab's explanation (key "<tab>.explainer");
`messages/*.json` map each English message template (as written in the code) to its translation.
A third language is a folder of these files and no code change. English is the fallback.

The views hand the frontend every label at once (Gradio's `gr.I18n`: it picks the browser's
language and lets the page switch it); what the server draws (plots, tables, messages) follows the
language of the request being served (`request_language`: the language the page shows, sent in a
cookie, else the browser's), held in a context variable for the request's duration.
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Mapping
from contextlib import contextmanager, suppress
from functools import cache
from http.cookies import CookieError, SimpleCookie
from pathlib import Path

LOCALES = Path(__file__).parent / "locales"
DEFAULT = "en"
# The language the page shows, which the user may switch in Gradio's settings: the page writes it in
# this cookie (views/common.py `language_marker`), so every request it sends says it.
CHOSEN_COOKIE = "plm_language"
_current = contextvars.ContextVar("language", default=DEFAULT)


@cache
def languages() -> tuple[str, ...]:
    """Every language with a folder, English first."""
    found = sorted(p.name for p in LOCALES.iterdir() if (p / "labels").is_dir())
    return (DEFAULT, *[name for name in found if name != DEFAULT])


@cache
def labels(language: str) -> dict[str, str]:
    """The language's labels and explanations (keys of the explanations: '<tab>.explainer')."""
    folder = LOCALES / language
    table = _merged(folder / "labels")
    for page in sorted(folder.glob("*.md")):
        table[f"{page.stem}.explainer"] = page.read_text(encoding="utf-8").strip()
    return table


@cache
def messages(language: str) -> dict[str, str]:
    return _merged(LOCALES / language / "messages")


def _merged(folder: Path) -> dict[str, str]:
    """Every JSON table in `folder`, merged (one file per tab or area, so that they never collide)."""
    table: dict[str, str] = {}
    for path in sorted(folder.glob("*.json")):
        table.update(json.loads(path.read_text(encoding="utf-8")))
    return table


def negotiate(accept_language: str | None) -> str:
    """The best language we have for an HTTP Accept-Language header ('zh-CN,zh;q=0.9,en;q=0.8')."""
    ranked = []
    for part in (accept_language or "").split(","):
        tag, _, quality = part.strip().partition(";q=")
        try:
            ranked.append((float(quality or 1), tag.strip().lower()))
        except ValueError:
            continue
    for _, tag in sorted(ranked, key=lambda item: -item[0]):
        for language in languages():
            if tag == language.lower() or tag.split("-")[0] == language.lower().split("-")[0]:
                return language
    return DEFAULT


def request_language(headers: Mapping[str, str]) -> str:
    """The language to serve a request in: the one its page shows (the CHOSEN_COOKIE), else the best
    for its Accept-Language (an API client sends neither: English)."""
    cookie = SimpleCookie()
    with suppress(CookieError):  # a malformed cookie header is no choice
        cookie.load(headers.get("cookie") or "")
    chosen = cookie[CHOSEN_COOKIE].value if CHOSEN_COOKIE in cookie else ""
    return chosen if chosen in languages() else negotiate(headers.get("accept-language"))


def current() -> str:
    return _current.get()


@contextmanager
def speaking(language: str):
    """Serve one request in `language` (plots, tables and messages drawn meanwhile use it)."""
    token = _current.set(language if language in languages() else DEFAULT)
    try:
        yield
    finally:
        _current.reset(token)


def t(key: str, **params) -> str:
    """The label `key` in the current language (English if it has none), formatted with `params`."""
    text = labels(current()).get(key) or labels(DEFAULT)[key]
    return text.format(**params) if params else text


def message(template: str, params: dict) -> str:
    """An English message template from the code, in the current language, formatted."""
    text = messages(current()).get(template, template)
    return text.format(**params) if params else text
