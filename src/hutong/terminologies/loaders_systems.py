"""The catalogue of known code-system names (``data/systems.toml``).

A name decides how a file is read (chapters, crosswalk, value-set entry) and which version is
assumed; refusing unknown names keeps a typo from becoming a silent new system.
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

from hutong.terminologies.codesystem import CodeListError

CUSTOM_PREFIX = "custom:"
KINDS = ("diagnosis", "procedure", "valueset", "crosswalk")


@dataclass(frozen=True)
class SystemInfo:
    """What hutong knows about one code-system name."""

    name: str
    title: str
    kind: str  # diagnosis | procedure | valueset | crosswalk | custom
    version: str
    source: str
    codes: str | None = None  # icd10 | icd9cm3: the chapter rule
    format: str | None = None  # fixed loader; None = detected from the file
    entry: tuple[str, str] | None = None  # value sets: block and key in valuesets.json
    field: str | None = None  # value sets: the member holding the codes, when not ``codes``
    source_system: str | None = None  # crosswalks: 国临 system
    target_system: str | None = None  # crosswalks: 医保 system

    @property
    def custom(self) -> bool:
        return self.kind == "custom"


@cache
def _catalogue() -> dict[str, SystemInfo]:
    text = resources.files("hutong.terminologies").joinpath("data/systems.toml").read_text("utf-8")
    out = {}
    for name, block in tomllib.loads(text)["systems"].items():
        if block["kind"] not in KINDS:
            raise ValueError(f"systems.toml: {name}: unknown kind {block['kind']!r}")
        out[name] = SystemInfo(
            name=name,
            title=block["title"],
            kind=block["kind"],
            version=str(block["version"]),
            source=block["source"],
            codes=block.get("codes"),
            format=block.get("format"),
            entry=tuple(block["entry"]) if "entry" in block else None,
            field=block.get("field"),
            source_system=block.get("from"),
            target_system=block.get("to"),
        )
    return out


def known_systems(kind: str | None = None) -> list[str]:
    """The names ``load()`` accepts, in catalogue order; ``kind`` filters (e.g. ``valueset``)."""
    return [n for n, info in _catalogue().items() if kind is None or info.kind == kind]


def system_info(name: str, allow_custom: bool = False) -> SystemInfo:
    """The catalogue entry for ``name``.

    An unknown name is an error listing the known ones. With ``allow_custom=True`` a local system
    may be named ``custom:<name>``: it gets version ``local`` and chapters from the code shape.
    """
    catalogue = _catalogue()
    if name in catalogue:
        return catalogue[name]
    if allow_custom and name.startswith(CUSTOM_PREFIX) and len(name) > len(CUSTOM_PREFIX):
        return SystemInfo(name, name, "custom", "local", "user file")
    close = difflib.get_close_matches(name, list(catalogue), n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    custom = f" Local systems need allow_custom=True and a name starting with {CUSTOM_PREFIX!r}."
    raise CodeListError(
        f"unknown code system {name!r} / 未知编码体系.{hint}{custom} Known: {', '.join(catalogue)}"
    )
