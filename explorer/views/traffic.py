"""Page traffic for background work: every request the web server gets (a page, its scripts, its config,
an event) tells `cores.RUNNING` someone is using the app, so compiling waits until the app has been
quiet a few seconds. A lecture link opens in about 3 s; compiling beside it, it took 4.3 s.

An ASGI middleware because Gradio serves its pages, assets and config itself: no handler of the
app's sees them (the handlers' own computing is counted in `common.user_errors`).
"""

from __future__ import annotations

from starlette.middleware import Middleware

from .. import cores


class Traffic:
    """ASGI middleware: mark each HTTP request as activity, then serve it as usual."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            cores.RUNNING.seen()
        return await self.app(scope, receive, send)


MIDDLEWARE = Middleware(Traffic)
