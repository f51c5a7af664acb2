"""Links too long for the web server: opened up to the longest URL a browser sends, answered past
what the app can open with a page that says so.

Two limits stand before the app. Uvicorn's HTTP parser (h11) refuses a request whose line and headers
exceed 16 kB with a bare "400 Bad Request"; `accept(demo)` raises that to the longest URL Chromium
sends (2 MiB) plus its headers (Gradio's launch() takes no server settings, but uvicorn reads this one
for every new connection). Then Gradio parses each request's URL with httpx, which fails on URLs over
64 kB: `LongLinks`, a middleware before Gradio's routes, answers such a request with a short page in
the reader's language (explorer/permalinks.py: `too_long`) that links to the same link without its
longest values (on the same page: the home page or a tab's lecture page). Links up to that size open in the app, whose notes say what was too long for a field.
"""

from __future__ import annotations

import html

import gradio as gr
from starlette.middleware import Middleware
from starlette.responses import HTMLResponse, PlainTextResponse

from .. import i18n, permalinks

MAX_REQUEST_BYTES = 2 * 1024 * 1024 + 64 * 1024  # Chromium's longest URL, and room for the headers

PAGE = """<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>PLM Explorer</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font: 18px/1.5 system-ui, sans-serif; max-width: 40em; margin: 3em auto; padding: 0 1em">
<h1 style="font-size: 1.4em">PLM Explorer</h1><p>{message}</p><p><a href="{shorter}">{open}</a></p></body></html>"""


class LongLinks:
    """ASGI middleware: a request whose query is too long for the app gets a page (or, for the API,
    a line of text) saying so, with status 414 (URI Too Long); every other request goes on."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        query = scope.get("query_string", b"").decode("latin-1") if scope["type"] == "http" else ""
        if len(query) <= permalinks.MAX_QUERY_CHARS:
            return await self.app(scope, receive, send)
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        language = i18n.request_language(headers)
        with i18n.speaking(language):
            refused = permalinks.too_long(query)
            page = PAGE.format(
                lang=language,
                message=html.escape(refused.message, quote=False),
                shorter=html.escape(scope.get("root_path", "") + scope["path"] + refused.shorter),
                open=html.escape(i18n.t("links.open_shorter"), quote=False),
            )
        is_page = scope["method"] == "GET" and scope["path"].strip("/") in _pages(scope)
        response = HTMLResponse(page, 414) if is_page else PlainTextResponse(refused.message, 414)
        await response(scope, receive, send)


def _pages(scope) -> set[str]:
    """The app's pages: "" (the home page) and each tab's lecture page (Gradio's routes)."""
    app = scope.get("app")
    return {path for path, *_ in app.get_blocks().pages} if hasattr(app, "get_blocks") else {""}


MIDDLEWARE = Middleware(LongLinks)  # given to demo.launch(): it runs before Gradio's own routes


def accept(demo: gr.Blocks) -> None:
    """Let the launched app's web server take requests up to MAX_REQUEST_BYTES (call after launch)."""
    demo.server.config.h11_max_incomplete_event_size = MAX_REQUEST_BYTES
