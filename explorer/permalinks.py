"""Permalinks: a tab and its inputs written into the page's URL, `?tab=<key>&<parameter>=<value>…` on the
home page (every tab), or `<key>?<parameter>=<value>…` on the tab's own lecture page (the tab alone,
which a browser opens faster).

The keys are the tab keys of app.TABS; the parameters are named as the tab's endpoint names them in
docs/API.md, so a link reads like the API call it reproduces. `&projector=1` asks for projector mode.

Writing a link is `link(tab, **values)`. Reading one is `read(query, schemas)`: every value is checked
against its parameter (kind, range, allowed choices, length) with the same checks the compute modules
use; whatever does not fit (an unknown tab or parameter, a bad value) is left out and explained in a
note, so that a mistyped link still opens the app, with the rest of its inputs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode

from . import checks, i18n
from .checks import ExplorerError

MAX_LINK_CHARS = 8_000  # the longest query a link may have: chat apps, proxies and servers cut longer URLs
# The longest query the app can open (Gradio parses each request's URL with httpx, which refuses URLs
# over 65,536 characters); a longer link gets a page saying so (views/long_links.py).
MAX_QUERY_CHARS = 60_000
MAX_NAME_CHARS = 40  # an unknown parameter's name is quoted in a note up to this length
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
# Parameters of the page itself (read by the app, or by Gradio: its theme and API page).
PAGE_PARAMETERS = ("tab", "projector", "poll", "__theme", "view")


@dataclass(frozen=True)
class Parameter:
    """One input a link may set, named as the tab's endpoint names it."""

    name: str
    kind: str  # "text" | "integer" | "number" | "boolean" | "choice" (one of `choices`) | "choices" (a list)
    minimum: float | None = None  # a number's range (None: unbounded on that side)
    maximum: float | None = None
    choices: tuple[str, ...] = ()  # the values a choice (or each item of a list of choices) may take
    max_chars: int = checks.MAX_TEXT_CHARS  # a text's longest value


@dataclass
class Opened:
    """What a link asks for, after checking: only valid values, and a note for everything left out."""

    tab: str | None  # the tab to show (None: the link names none, or one the app lacks)
    values: dict[str, object] = field(default_factory=dict)  # parameter name → value, in the parameter's type
    projector: bool = False
    notes: list[str] = field(default_factory=list)  # in the language being served


def link(tab: str, **values) -> str:
    """The query string that opens `tab` on the home page with these inputs, e.g. `?tab=attention&text=…`.
    Booleans are written 1/0, lists comma-separated; None values are left out."""
    return "?" + urlencode({"tab": tab, **_written_values(values)})


def lecture_link(tab: str, **values) -> str:
    """The link, relative to the app's address, that opens the tab's own lecture page with these
    inputs, e.g. `attention?text=…`: the same parameters, the tab named by the page."""
    return f"{tab}?{urlencode(_written_values(values))}"


def _written_values(values: dict) -> dict[str, str]:
    return {name: _written(value) for name, value in values.items() if value is not None}


def _written(value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (list, tuple)):
        return ",".join(str(item) for item in value)
    return str(value)


def checked_link(tab: str, lecture: bool = False, **values) -> str:
    """`link(...)` (`lecture_link(...)` if `lecture`), refused when longer than a link can safely be (a
    message saying what to shorten)."""
    query = (lecture_link if lecture else link)(tab, **values)
    if len(query) > MAX_LINK_CHARS:
        longest = max(values, key=lambda name: len(_written(values[name])))
        raise ExplorerError(
            "This link would be {length:,} characters long; links hold at most {limit:,}. Shorten {name} "
            "(its text is {chars:,} characters).",
            length=len(query), limit=MAX_LINK_CHARS, name=longest, chars=len(_written(values[longest])),
        )  # fmt: skip
    return query


@dataclass
class TooLong:
    """A link too long to open: what to tell the person, and the same link without its longest values."""

    message: str  # in the language being served
    shorter: str  # the query without the values left out (it fits)


def too_long(query: str) -> TooLong | None:
    """None when the query (as in the URL, percent-encoded) can be opened; else the message and the
    query without its longest parameters, left out longest first until the rest fits."""
    if len(query) <= MAX_QUERY_CHARS:
        return None
    pairs = parse_qsl(query, keep_blank_values=True)
    sizes = [len(urlencode([pair])) + 1 for pair in pairs]  # each as written, with its "&"
    longest_first = sorted(range(len(pairs)), key=lambda i: -sizes[i])
    length, dropped = sum(sizes), []
    for i in longest_first:
        if length <= MAX_QUERY_CHARS:
            break
        dropped.append(i)
        length -= sizes[i]
    name, value = pairs[dropped[0]] if dropped else ("?", "")
    names = [_quoted(pairs[i][0]) for i in dropped[:5]] + (["…"] if len(dropped) > 5 else [])
    message = i18n.message(
        "This link is {length:,} characters long; the app opens links up to {limit:,} characters. Its longest "
        "parameter, {name}, holds {chars:,} characters: open the link without {names}, then paste the text in.",
        {"length": len(query), "limit": MAX_QUERY_CHARS, "name": _quoted(name), "chars": len(value),
         "names": ", ".join(names) or _quoted(name)},
    )  # fmt: skip
    left_out = set(dropped)
    kept = [pair for i, pair in enumerate(pairs) if i not in left_out]
    return TooLong(message, "?" + urlencode(kept))


def read(query: Mapping[str, str], schemas: Mapping[str, Sequence[Parameter]]) -> Opened:
    """Check a page's query parameters against the tabs' parameters (`schemas`: tab key → parameters)."""
    opened = Opened(tab=None, projector=_flag(query.get("projector")))
    if query.get("projector") is not None and query["projector"].strip().lower() not in TRUE + FALSE:
        opened.notes.append(_ignored("projector", i18n.message("allowed: 1 or 0.", {})))
    tab = query.get("tab")
    if tab is None:
        return opened
    if tab not in schemas:
        opened.notes.append(
            i18n.message(
                "The link names the tab {tab}, which this app does not have (tabs: {tabs}); it was ignored.",
                {"tab": _quoted(tab), "tabs": ", ".join(schemas)},
            )
        )
        return opened
    opened.tab = tab
    parameters = {parameter.name: parameter for parameter in schemas[tab]}
    for name, raw in query.items():
        if name in PAGE_PARAMETERS:
            continue
        if name not in parameters:
            opened.notes.append(
                i18n.message(
                    "The link's parameter {name} is not an input of this tab (its inputs: {names}); it was ignored.",
                    {"name": _quoted(name), "names": ", ".join(parameters)},
                )
            )
            continue
        try:
            opened.values[name] = value(parameters[name], raw)
        except ExplorerError as error:
            opened.notes.append(_ignored(name, str(error)))
    return opened


def value(parameter: Parameter, raw: str):
    """The value `raw` (a URL parameter, always text) stands for, or ExplorerError saying what is allowed."""
    name, kind = parameter.name, parameter.kind
    if kind == "text":
        return checks.text(raw, name, parameter.max_chars, allow_blank=True)
    if kind in ("integer", "number"):  # no number is longer than a name: a longer value is cut, then refused
        number = raw.strip() if len(raw.strip()) <= MAX_NAME_CHARS else raw.strip()[:MAX_NAME_CHARS] + "…"
        return checks.number(number, name, parameter.minimum, parameter.maximum, integer=kind == "integer")
    if kind == "boolean":
        if raw.strip().lower() not in TRUE + FALSE:
            raise ExplorerError("{name} must be 1 or 0 (true or false), got {value!r}.", name=name, value=raw[:40])
        return _flag(raw)
    items = [item.strip() for item in raw.split(",") if item.strip()] if kind == "choices" else [raw]
    unknown = [item for item in items if item not in parameter.choices]
    if unknown:
        raise ExplorerError(
            "{name} = {value!r} is not one of the allowed values: {allowed}.",
            name=name, value=unknown[0][:MAX_NAME_CHARS], allowed=", ".join(repr(c) for c in parameter.choices),
        )  # fmt: skip
    return items if kind == "choices" else raw


def _flag(raw: str | None) -> bool:
    return raw is not None and raw.strip().lower() in TRUE


def _quoted(name: str) -> str:
    """A name from the link, quoted and cut short (it is shown to people, never run)."""
    return repr(name if len(name) <= MAX_NAME_CHARS else name[:MAX_NAME_CHARS] + "…")


def _ignored(name: str, why: str) -> str:
    return i18n.message("The link's {name} was ignored: {why}", {"name": _quoted(name), "why": why})
