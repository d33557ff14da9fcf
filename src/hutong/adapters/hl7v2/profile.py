"""HL7 v2 profiles: what a sender does beyond the standard, as data an integrator can write.

A profile can add trigger events to convert, read the visit number from other fields, accept a
sender's non-HL7 date formats, and map any field, Z-segments included, onto a canonical column:

.. code-block:: toml

    [[map]]
    field = "ZDS-1.1"                 # segment-field[.component[.subcomponent]]
    column = "report.study_uid"       # canonical table.column
    sender = "PACS"                   # only messages whose MSH-3 is this (optional)

The built-in ``hl7v2-default.toml`` sits beside this module rather than in ``adapters/profiles``,
which holds table profiles only.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from hutong.model import KEYS, SCHEMAS

_PATH = re.compile(r"([A-Z][A-Z0-9]{2})-(\d{1,3})(?:\.(\d{1,2}))?(?:\.(\d{1,2}))?\Z")
_LOCKED = {"source", "locator", "vendor"}
KINDS = ("visit", "merge", "results", "orders", "charges", "pharmacy")  # the converters


class ProfileError(ValueError):
    """An HL7 v2 profile that cannot be used (bad field path, unknown column)."""


@dataclass(frozen=True)
class FieldMap:
    """One field of a message copied onto a canonical column of the message's rows."""

    segment: str
    field: int
    component: int
    subcomponent: int
    table: str
    column: str
    sender: str | None

    @property
    def path(self) -> str:
        return f"{self.segment}-{self.field}.{self.component}.{self.subcomponent}"


@dataclass(frozen=True)
class Profile:
    """A loaded HL7 v2 profile."""

    name: str
    visit_fields: tuple[tuple[str, int], ...]  # where mdtrt_id is read, first non-empty wins
    datetime_formats: tuple[str, ...]
    messages: dict[str, str]  # extra "type^event" → converter kind
    maps: tuple[FieldMap, ...]


def load(name_or_path: str | Path | None = None) -> Profile:
    """The built-in default profile, or a profile file."""
    if name_or_path is None or str(name_or_path) == "hl7v2-default":
        return _default()
    path = Path(name_or_path)
    return _loads(path.read_text("utf-8"), str(path))


@cache
def _default() -> Profile:
    res = resources.files("hutong.adapters.hl7v2").joinpath("hl7v2-default.toml")
    return _loads(res.read_text("utf-8"), "builtin:hl7v2-default")


def _loads(text: str, where: str) -> Profile:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{where}: not valid TOML: {exc}") from exc
    return _parse(data, where)


def _parse(data: dict, where: str) -> Profile:
    visit = []
    for spec in data.get("ids", {}).get("mdtrt_id", ["PV1-19"]):
        seg, f, _, _ = _field(spec, where)
        visit.append((seg, f))
    maps = []
    for spec in data.get("map", []):
        seg, f, c, s = _field(spec.get("field", ""), where)
        table, _, column = str(spec.get("column", "")).partition(".")
        if table not in SCHEMAS or column not in SCHEMAS[table].names:
            raise ProfileError(
                f"{where}: [[map]] {spec.get('field')}: unknown column {table}.{column}"
            )
        if column in _LOCKED or column in KEYS[table] or column.endswith("_id"):
            raise ProfileError(f"{where}: [[map]] cannot set identifier column {table}.{column}")
        maps.append(FieldMap(seg, f, c, s, table, column, spec.get("sender") or None))
    messages = {str(k).upper(): str(v) for k, v in data.get("messages", {}).items()}
    for event, kind in messages.items():
        if kind not in KINDS:
            raise ProfileError(f"{where}: [messages] {event} = {kind!r}: not one of {KINDS}")
    return Profile(
        name=data.get("vendor", {}).get("name", "hl7v2"),
        visit_fields=tuple(visit),
        datetime_formats=tuple(data.get("datetime", {}).get("formats", [])),
        messages=messages,
        maps=tuple(maps),
    )


def _field(spec: str, where: str) -> tuple[str, int, int, int]:
    m = _PATH.match(str(spec))
    if m is None:
        raise ProfileError(f"{where}: {spec!r} is not a field path like ZDS-1.1 or PV1-19")
    seg, f, c, s = m.groups()
    return seg, int(f), int(c or 1), int(s or 1)
