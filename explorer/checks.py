"""Input checks shared by every compute module.

Each check raises `ExplorerError` with a message a person can act on: what was wrong
and what is allowed. The views turn it into `gr.Error`; the compute modules stay free
of Gradio.
"""

from __future__ import annotations

import math

from . import i18n

MAX_TEXT_CHARS = 20_000
MAX_SEED = 2**32 - 1


class ExplorerError(ValueError):
    """Bad input or an unavailable resource, explained for the user.

    Raised with an English template and its values, `ExplorerError("{name} is empty.", name=...)`;
    the message is written in the language of the request being served (`explorer/locales/*/
    messages.json` translates the template; English outside a request and where none exists).
    """

    def __init__(self, template: str, **params):
        self.template, self.params = template, params
        super().__init__(i18n.message(template, params))


def text(value, name: str = "text", max_chars: int = MAX_TEXT_CHARS, *, allow_blank: bool = False) -> str:
    """A non-empty string of at most `max_chars` characters (checked before tokenising).
    `allow_blank` where whitespace is data too (tokenisation): then None and '' are ''."""
    if value is None and allow_blank:
        return ""
    if not isinstance(value, str):
        raise ExplorerError("{name} must be text, got {kind}.", name=name, kind=type(value).__name__)
    if not allow_blank and not value.strip():
        raise ExplorerError("{name} is empty: type some text first.", name=name)
    surrogate = next((c for c in value if "\ud800" <= c <= "\udfff"), None)
    if surrogate is not None:
        raise ExplorerError(
            "{name} holds a lone surrogate (U+{code:04X}), half of a character that cannot be shown or encoded; "
            "remove it (it must be text of whole characters).",
            name=name, code=ord(surrogate),
        )  # fmt: skip
    if len(value) > max_chars:
        raise ExplorerError(
            "{name} is {length:,} characters long; the limit is {limit:,}. Shorten it.",
            name=name, length=len(value), limit=max_chars,
        )  # fmt: skip
    return value


def number(
    value,
    name: str,
    low: float | None = None,
    high: float | None = None,
    *,
    integer: bool = False,
    low_open: bool = False,
    allowed: str | None = None,
) -> float | int:
    """A finite number in [low, high] (or (low, high] with `low_open`)."""
    allowed = allowed or describe_range(low, high, low_open, integer)
    if isinstance(value, bool) or value is None:
        raise ExplorerError("{name} is missing; allowed: {allowed}.", name=name, allowed=allowed)
    try:
        as_float = float(value)
    except (TypeError, ValueError):
        raise ExplorerError(
            "{name} must be a number, got {value!r}; allowed: {allowed}.", name=name, value=value, allowed=allowed
        ) from None
    if not math.isfinite(as_float):
        raise ExplorerError(
            "{name} must be a finite number, got {value!r}; allowed: {allowed}.",
            name=name,
            value=value,
            allowed=allowed,
        )
    if integer and as_float != int(as_float):
        raise ExplorerError(
            "{name} must be a whole number, got {value!r}; allowed: {allowed}.", name=name, value=value, allowed=allowed
        )
    too_low = low is not None and (as_float <= low if low_open else as_float < low)
    too_high = high is not None and as_float > high
    if too_low or too_high:
        raise ExplorerError(
            "{name} = {value!r} is out of range; allowed: {allowed}.", name=name, value=value, allowed=allowed
        )
    return int(as_float) if integer else as_float


def seed(value) -> int:
    return number(value, "seed", 0, MAX_SEED, integer=True)


def describe_range(low, high, low_open: bool = False, integer: bool = False) -> str:
    """What a range allows, in words (in the language being served)."""
    kind = i18n.message("a whole number" if integer else "a number", {})
    if low is not None and high is not None:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}]"
        return i18n.message("{kind} in {interval}", {"kind": kind, "interval": interval})
    if low is not None:
        return f"{kind} {'>' if low_open else '≥'} {low:g}"
    if high is not None:
        return f"{kind} ≤ {high:g}"
    return kind
