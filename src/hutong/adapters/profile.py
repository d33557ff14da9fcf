"""Vendor profiles: the declarative description of one vendor's table exports.

A profile (TOML) says which input file is which (by name pattern or header), which source
column feeds which canonical field, how dates are written, which encoding the files use, and
how local values map to national codes. Integrators write profiles; no Python needed.
"""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from hutong.model import SCHEMAS


class ProfileError(ValueError):
    """A profile file that is not usable (unknown table, field or file kind)."""


@dataclass(frozen=True)
class FileKind:
    """One kind of input file of a vendor (e.g. the visit workbook, the fee lines)."""

    name: str
    match: tuple[str, ...]
    header: tuple[str, ...]
    required: tuple[str, ...]
    writer: dict = field(default_factory=dict)

    def matches_name(self, path: Path) -> bool:
        return any(fnmatch.fnmatch(path.name, pattern) for pattern in self.match)

    def matches_header(self, columns: list[str]) -> bool:
        return bool(self.header) and set(self.header) <= set(columns)


@dataclass(frozen=True)
class Group:
    """A set of source columns that yields canonical rows; repeated for wide layouts.

    ``repeat`` is ``None`` (one row per record), a count (``{n}`` = 1..count in column names)
    or a list of keys (``{n}`` = each key, e.g. the fee columns of a wide export).
    """

    file: str
    columns: dict[str, str]
    set: dict[str, str] = field(default_factory=dict)
    repeat: int | tuple[str, ...] | None = None
    required: tuple[str, ...] = ()

    def instances(self) -> list[str | None]:
        if self.repeat is None:
            return [None]
        if isinstance(self.repeat, int):
            return [str(n) for n in range(1, self.repeat + 1)]
        return list(self.repeat)

    @staticmethod
    def fill(template: str, n: str | None) -> str:
        return template if n is None else template.replace("{n}", n)


@dataclass(frozen=True)
class Profile:
    """A vendor profile, loaded and checked against the canonical model."""

    name: str
    version: str
    description: str
    source: str
    path: str
    encoding: str | None
    datetime_formats: tuple[str, ...]
    date_formats: tuple[str, ...]
    files: dict[str, FileKind]
    tables: dict[str, list[Group]]
    values: dict[str, dict[str, str]]

    def kind_of(self, path: Path, header: list[str] | None = None) -> FileKind | None:
        """The file kind an input belongs to: by name pattern first, then by header."""
        for kind in self.files.values():
            if kind.matches_name(path):
                return kind
        if header is not None:
            for kind in self.files.values():
                if kind.matches_header(header):
                    return kind
        return None

    def groups_for(self, kind: str) -> list[tuple[str, Group]]:
        """(canonical table, group) pairs that read from files of ``kind``."""
        return [(t, g) for t, groups in self.tables.items() for g in groups if g.file == kind]


def builtin_profiles() -> list[str]:
    """Names of the profiles shipped with hutong."""
    folder = resources.files("hutong.adapters").joinpath("profiles")
    return sorted(
        p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml")
    )


def load_profile(name_or_path: str | Path) -> Profile:
    """Load a built-in profile by name (``vendor-a``) or a profile file by path."""
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.exists():
        text, where = path.read_text("utf-8"), str(path)
    else:
        res = resources.files("hutong.adapters").joinpath(f"profiles/{name_or_path}.toml")
        if not res.is_file():
            known = ", ".join(builtin_profiles())
            raise ProfileError(f"no profile {name_or_path!r} / 找不到配置 (built-in: {known})")
        text, where = res.read_text("utf-8"), f"builtin:{name_or_path}"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{where}: not valid TOML: {exc}") from exc
    return _parse(data, where)


def _parse(data: dict, where: str) -> Profile:
    vendor = data.get("vendor", {})
    if "name" not in vendor:
        raise ProfileError(f"{where}: [vendor] needs a name")
    files = {
        key: FileKind(
            name=key,
            match=tuple(_list(spec.get("match", []))),
            header=tuple(spec.get("header", [])),
            required=tuple(spec.get("required", [])),
            writer=dict(spec.get("writer", {})),
        )
        for key, spec in data.get("files", {}).items()
    }
    if not files:
        raise ProfileError(f"{where}: no [files.*] declared")
    tables: dict[str, list[Group]] = {}
    for table, spec in data.get("tables", {}).items():
        if table not in SCHEMAS:
            raise ProfileError(f"{where}: unknown canonical table [tables.{table}]")
        specs = spec.get("groups", [spec])
        tables[table] = [_group(table, g, files, where) for g in specs]
    if "patient" not in tables:
        raise ProfileError(
            f"{where}: a profile must map the patient table (who the rows are about)"
        )
    return Profile(
        name=vendor["name"],
        version=str(vendor.get("version", "0")),
        description=vendor.get("description", ""),
        source=vendor.get("source", ""),
        path=where,
        encoding=vendor.get("encoding"),
        datetime_formats=tuple(vendor.get("datetime", ["%Y-%m-%d %H:%M:%S"])),
        date_formats=tuple(vendor.get("date", ["%Y-%m-%d"])),
        files=files,
        tables=tables,
        values={
            k: {str(a): str(b) for a, b in v.items()} for k, v in data.get("values", {}).items()
        },
    )


def _group(table: str, spec: dict, files: dict[str, FileKind], where: str) -> Group:
    names = set(SCHEMAS[table].names)
    for key in [*spec.get("columns", {}), *spec.get("set", {})]:
        if key not in names:
            raise ProfileError(f"{where}: [tables.{table}] maps unknown field {key!r}")
    if spec.get("file") not in files:
        raise ProfileError(
            f"{where}: [tables.{table}] reads unknown file kind {spec.get('file')!r}"
        )
    repeat = spec.get("repeat")
    return Group(
        file=spec["file"],
        columns=dict(spec.get("columns", {})),
        set=dict(spec.get("set", {})),
        repeat=tuple(repeat) if isinstance(repeat, list) else repeat,
        required=tuple(spec.get("required", [])),
    )


def _list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)
