"""The API contract, read from docs/API.md: the payload fields each endpoint promises.

Each `## /endpoint` section's `→ {…}` payload names its fields in quotes; alternatives of a value
("length"|"eos") are values, not fields. A payload keeps the contract when every promised field is a
key somewhere in it (top level or nested, as the contract nests them).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

API = Path(__file__).resolve().parents[1] / "docs" / "API.md"
SECTION = re.compile(r"^## (/[a-z_]+)\s*$(.*?)(?=^## |^---|\Z)", re.M | re.S)
VALUE_ALTERNATIVES = re.compile(r'"[^"]*"(\s*\|\s*"[^"]*")+')


@cache
def promised_fields() -> dict[str, frozenset[str]]:
    """endpoint -> the field names its payload promises (from the first section naming it)."""
    promised: dict[str, frozenset[str]] = {}
    for endpoint, body in SECTION.findall(API.read_text(encoding="utf-8")):
        payload = body.split("→", 1)[1] if "→" in body else ""
        payload = VALUE_ALTERNATIVES.sub("", payload.split("\n\n")[0])
        promised.setdefault(endpoint, frozenset(re.findall(r'"([A-Za-z_]+)"', payload)))
    return promised


def keys(value) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys(v)}
    return set()


def missing(endpoint: str, payload) -> set[str]:
    """The promised fields the payload lacks (empty when it keeps the contract)."""
    return set(promised_fields().get(endpoint, ())) - keys(payload)
