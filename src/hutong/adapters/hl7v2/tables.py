"""The adapter's value tables (``codes.toml``): v2 codes → canonical codes, read once."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources


@cache
def _codes() -> dict:
    text = resources.files("hutong.adapters.hl7v2").joinpath("codes.toml").read_text("utf-8")
    return tomllib.loads(text)


def table(*path: str) -> dict:
    """A section of codes.toml, e.g. ``table("charsets", "codecs")``."""
    node = _codes()
    for key in path:
        node = node[key]
    return node


def code(name: str, value: str) -> str | None:
    """The canonical code for a v2 ``value`` in value table ``name``; None when not listed."""
    if not value:
        return None
    codes = table(name)["codes"]
    return codes.get(value) or codes.get(value.upper())
