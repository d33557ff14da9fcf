"""Attach standard codes to local diagnosis and procedure codes.

This is the run-time side of the terminology service: a local code that is a code of the
loaded national list (exactly, or after harmless normalisation such as full-width characters,
case of the ``x`` extension, or a dagger code written without its star partner) gets that
code; a row with no local code whose name is exactly one national name gets that code; the rest stay
``unmapped`` and go to the coders' queue (``unmapped.csv``). Nothing is guessed here.
"""

from __future__ import annotations

import unicodedata

import pandas as pd

from hutong.terminologies.codesystem import CodeSystem

EXACT, NORMALISED, BY_NAME, UNMAPPED = "exact", "normalised", "name", "unmapped"


def normalise_code(code: str) -> str:
    """Full-width → half-width, no spaces, upper-case letters but a lower-case ``x``."""
    text = unicodedata.normalize("NFKC", code).replace(" ", "").upper()
    if not text:
        return text
    head, tail = text[:1], text[1:].replace("X", "x")
    return head + tail


class CodeIndex:
    """Look-ups of one code system by code, by normalised code and by name."""

    def __init__(self, system: CodeSystem):
        self.system = system
        self.names = system.names
        self.by_norm: dict[str, str] = {}
        for code in self.names:
            self.by_norm.setdefault(normalise_code(code), code)
            dagger = code.split("+", 1)[0]
            if dagger != code:
                self.by_norm.setdefault(normalise_code(dagger), code)
        counts: dict[str, int] = {}
        for name in self.names.values():
            counts[name] = counts.get(name, 0) + 1
        self.by_name = {n: c for c, n in self.names.items() if counts[n] == 1}

    def lookup(self, local_code: str | None, local_name: str | None) -> tuple[str | None, str]:
        if local_code:
            if local_code in self.names:
                return local_code, EXACT
            hit = self.by_norm.get(normalise_code(local_code))
            if hit is not None:
                return hit, NORMALISED
        # A name alone decides only when no code was sent: a wrong code with a right name
        # is a coder's question (the queue), not something to fix silently.
        elif local_name and local_name in self.by_name:
            return self.by_name[local_name], BY_NAME
        return None, UNMAPPED


def apply_codes(frame: pd.DataFrame, system: CodeSystem) -> pd.DataFrame:
    """Fill ``code``, ``code_system``, ``name`` and ``map_status`` of diagnosis/procedure rows."""
    index = CodeIndex(system)
    out = frame.copy()
    pairs = [
        index.lookup(c if isinstance(c, str) else None, n if isinstance(n, str) else None)
        for c, n in zip(out["local_code"], out["local_name"], strict=True)
    ]
    out["code"] = [code for code, _ in pairs]
    out["map_status"] = [status for _, status in pairs]
    out["code_system"] = [system.id if code else None for code, _ in pairs]
    out["name"] = [index.names.get(code) if code else None for code, _ in pairs]
    return out


def unmapped(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The coders' queue: each unmapped local code/name, how often it occurs, and one example."""
    parts = []
    for table, target in (("diagnosis", "icd10-yb-2.0"), ("procedure", "icd9cm3-yb-2.0")):
        frame = frames.get(table)
        if frame is None or frame.empty:
            continue
        rows = frame[frame["map_status"] == UNMAPPED]
        if rows.empty:
            continue
        grouped = rows.groupby(["local_code", "local_name"], dropna=False, sort=True).agg(
            count=("mdtrt_id", "size"), example=("locator", "min"), vendor=("vendor", "min")
        )
        grouped = grouped.reset_index()
        grouped.insert(0, "table", table)
        grouped.insert(1, "target_system", target)
        parts.append(grouped)
    columns = ["table", "target_system", "local_code", "local_name", "count", "example", "vendor"]
    if not parts:
        return pd.DataFrame(columns=columns)
    out = pd.concat(parts, ignore_index=True)[columns]
    return out.sort_values(
        ["table", "count", "local_code"], ascending=[True, False, True], kind="mergesort"
    )
