"""National value sets (性别, 离院方式, 入院病情, 收费项目类别, ...) loaded from a data file.

Adapters map local values onto these codes, emitters write them, QC checks against them: one
file, so the three can never disagree.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class ValueSet:
    """One national value set: its codes with their Chinese display names."""

    id: str
    name: str
    source: str
    codes: dict[str, str]
    oid: str | None = None
    status: str | None = None
    extra: dict = field(default_factory=dict)

    def display(self, code: str | None) -> str | None:
        return self.codes.get(code) if code is not None else None

    def __contains__(self, code: object) -> bool:
        return code in self.codes


@cache
def valuesets() -> dict[str, ValueSet]:
    """All value sets shipped with hutong, by id (the 4101 field name they code)."""
    text = (
        resources.files("hutong.terminologies").joinpath("data/valuesets.toml").read_text("utf-8")
    )
    data = tomllib.loads(text)
    return {
        key: ValueSet(
            id=key,
            name=block["name"],
            source=block["source"],
            codes={str(k): str(v) for k, v in block["codes"].items()},
            oid=block.get("oid"),
            status=block.get("status"),
        )
        for key, block in data.items()
    }


def valueset(key: str) -> ValueSet:
    """The value set named ``key``; ``KeyError`` lists the known ones."""
    sets = valuesets()
    if key not in sets:
        raise KeyError(f"unknown value set {key!r}; known: {', '.join(sorted(sets))}")
    return sets[key]
