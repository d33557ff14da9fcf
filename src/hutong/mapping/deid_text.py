"""Scrub free text (report conclusions, result text, notes): identity numbers, phone numbers,
street addresses and the names known from the tables become ``[已删除]``.

The patterns are the PII scanner's (:mod:`hutong.quality.pii`), so a scrubbed text passes the
scan; identity numbers are removed whether or not their check digit is valid.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pandas as pd

from hutong.quality.pii import ADDRESS, CERTNO_15, CERTNO_18, LANDLINE, MOBILE, names_pattern

REMOVED = "[已删除]"


def scrubber(names: Iterable[str]):
    """A function that scrubs one text, knowing ``names`` (two characters or more)."""
    patterns: list[re.Pattern[str]] = [CERTNO_18, CERTNO_15, MOBILE, LANDLINE, ADDRESS]
    named = names_pattern(names)
    if named is not None:
        patterns.append(named)

    def scrub(text: str) -> str:
        for pattern in patterns:
            text = pattern.sub(REMOVED, text)
        return text

    return scrub


def scrub_column(values: pd.Series, scrub) -> tuple[pd.Series, int]:
    """The column scrubbed, and how many values changed."""
    present = values.map(lambda v: isinstance(v, str) and v != "")
    out = values.astype(object).copy()
    out[present] = values[present].map(scrub)
    changed = int((out[present] != values[present]).sum())
    return out, changed
