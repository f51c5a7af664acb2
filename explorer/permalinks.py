"""Permalinks: a tab and its inputs written into the page's URL, `?tab=<key>&<parameter>=<value>…`.

The keys are the tab keys of app.TABS; the parameters are named as the tab's endpoint names them in
docs/API.md, so a link reads like the API call it reproduces.
"""

from __future__ import annotations

from urllib.parse import urlencode


def link(tab: str, **values) -> str:
    """The query string that opens `tab` with these inputs, e.g. `?tab=attention&text=…`."""
    return "?" + urlencode({"tab": tab, **{name: value for name, value in values.items() if value is not None}})
