"""Every English string has its Chinese one; the code uses only labels that exist; languages are negotiated."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from explorer import checks, i18n

ROOT = Path(__file__).resolve().parents[1]
CODE = sorted((ROOT / "explorer").rglob("*.py")) + [ROOT / "app.py"]


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("language", [lang for lang in i18n.languages() if lang != i18n.DEFAULT])
def test_every_label_and_explanation_is_translated_with_the_same_placeholders(language):
    english, translated = i18n.labels("en"), i18n.labels(language)
    missing = sorted(set(english) - set(translated))
    assert not missing, f"{language} lacks {missing}"
    for key, text in english.items():
        assert translated[key].strip(), key
        assert placeholders(translated[key]) == placeholders(text), key


@pytest.mark.parametrize("language", [lang for lang in i18n.languages() if lang != i18n.DEFAULT])
def test_every_message_template_is_translated_with_the_same_placeholders(language):
    translated = i18n.messages(language)
    untranslated = sorted(t for t in error_templates() if t not in translated)
    assert not untranslated, f"{len(untranslated)} messages lack a {language} translation: {untranslated[:5]}"
    for template, text in translated.items():
        assert placeholders(text) == placeholders(template), template


def label_keys_used() -> set[str]:
    """Every literal key passed to tr(...) or t(...) in the code; f-string keys become patterns."""
    used = set()
    for path in CODE:
        for match in re.finditer(r"\b(?:tr|t)\(\s*(f?)\"([a-z_][\w.\- {}]*)\"", path.read_text(encoding="utf-8")):
            used.add(match.group(2))
    return used


def test_the_code_uses_only_labels_that_exist():
    english = i18n.labels("en")
    for key in label_keys_used():
        if "{" in key:
            pattern = re.escape(key.split("{")[0])
            assert any(re.match(pattern, k) for k in english), key
        else:
            assert key in english, f"label {key!r} is used in the code but not in locales/en/labels.json"


def error_templates() -> set[str]:
    """The first argument of every ExplorerError(...) in the code (it must be a plain string template),
    and every literal template given to i18n.message(...)."""
    templates = set()
    for path in CODE:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            called = (
                getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if isinstance(node, ast.Call)
                else None
            )
            if called == "message" and node.args and isinstance(node.args[0], ast.Constant):
                templates.add(node.args[0].value)  # i18n.message("template", {...}): a part of a message
            if called == "ExplorerError" and node.args:
                first = node.args[0]
                assert isinstance(first, ast.Constant) and isinstance(first.value, str), (
                    f"{path.name}:{node.lineno}: ExplorerError needs a template string and its values as keywords"
                )
                templates.add(first.value)
    return templates


@pytest.mark.parametrize(
    "header, language",
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
        ("zh", "zh-CN"),
        ("en-US,en;q=0.9", "en"),
        ("fr-FR,fr;q=0.9", "en"),
        ("en;q=0.5,zh-TW;q=0.8", "zh-CN"),
        (None, "en"),
        ("garbage;q=x", "en"),
    ],
)
def test_the_browsers_language_is_negotiated(header, language):
    assert i18n.negotiate(header) == language


@pytest.mark.parametrize(
    "headers, language",
    [
        ({"cookie": "plm_language=en", "accept-language": "zh-CN,zh;q=0.9"}, "en"),  # switched in the page
        ({"cookie": "a=1; plm_language=zh-CN; b=2", "accept-language": "en-US"}, "zh-CN"),
        ({"cookie": "plm_language=fr", "accept-language": "zh-CN"}, "zh-CN"),  # no such language: the browser's
        ({"cookie": 'plm_language=en"; x', "accept-language": "zh"}, "zh-CN"),  # a malformed cookie
        ({"cookie": "other=en", "accept-language": "zh"}, "zh-CN"),
        ({"accept-language": "zh-CN"}, "zh-CN"),
        ({}, "en"),  # an API client
    ],
)
def test_the_language_chosen_in_the_page_wins_over_the_browsers(headers, language):
    assert i18n.request_language(headers) == language


def test_a_handler_serves_the_language_of_the_cookie(monkeypatch):
    from gradio.route_utils import Request

    from explorer.views.common import user_errors

    @user_errors
    def handler(text):
        return i18n.current()

    def request(**headers):
        return Request(headers=headers)

    assert handler("x", request(cookie="plm_language=zh-CN")) == "zh-CN"
    assert handler("x", request(cookie="plm_language=en", **{"accept-language": "zh-CN"})) == "en"
    assert handler("x", request(**{"accept-language": "zh-CN"})) == "zh-CN"


def test_messages_are_written_in_the_language_being_served():
    with i18n.speaking("zh-CN"), pytest.raises(checks.ExplorerError) as chinese:
        checks.text("  ", "prompt")
    with pytest.raises(checks.ExplorerError) as english:
        checks.text("  ", "prompt")
    assert "empty" in str(english.value) and "empty" not in str(chinese.value)
    assert re.search(r"[\u4e00-\u9fff]", str(chinese.value))
