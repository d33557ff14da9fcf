"""Vendor export files written from synthetic cases, driven entirely by the vendor profile.

The writer is the profile read backwards: column names come from the profile's groups,
national codes go back to the vendor's first local value for them, dates use the profile's
first format, and the encoding and file name come from each file kind's ``writer`` table. So a
profile and its samples cannot drift apart.

A file that holds the patient or encounter table has one row per case (a wide export: repeated
groups fill numbered or named columns); any other file has one row per record (a long export).
A wide file gets the fee totals per category (``charges``), a long one the itemised
``fee_lines``. A record that fits no column group is an error, never silently dropped.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from hutong.adapters.profile import Group, Profile
from hutong.synthetic.xlsx import XlsxSheet

CASE_KEYS = {
    "patient": "patient",
    "encounter": "encounter",
    "diagnosis": "diagnoses",
    "procedure": "procedures",
}  # canonical table -> key of the case dict ("charge": charges or fee_lines, see _records)
SINGLE = ("patient", "encounter")
WINDOWS_ENCODINGS = {"gbk", "gb2312", "gb18030", "cp936"}


def write_vendor(
    cases: list[dict], profile: Profile, out_dir: Path, part: str = "2024"
) -> list[Path]:
    """Write ``cases`` as ``profile``'s export files into ``out_dir``; the paths written.

    ``part`` fills the ``{part}`` of file-name templates (``住院病案首页_{part}.csv``).
    """
    writer = VendorWriter(profile, out_dir, len(cases), part)
    writer.write(cases)
    return writer.close()


class VendorRows:
    """The rows each of ``profile``'s files gets from some cases (no file is touched), so
    they can be worked out apart from the writing, in another process."""

    def __init__(self, profile: Profile) -> None:
        self.files: list[tuple[Layout, list[str], str]] = []
        for kind in profile.files.values():
            template = kind.writer.get("name")
            if not template:
                raise ValueError(f"{profile.name}: file kind {kind.name!r} has no writer.name")
            groups = profile.groups_for(kind.name)
            if groups:
                self.files.append((Layout(profile, groups, kind.name), _header(groups), template))

    def render(self, cases: list[dict]) -> list[list[list[str]]]:
        """Per file, the value lists of its rows for ``cases``."""
        return [
            [
                [row.get(column, "") for column in header]
                for case in cases
                for row in _case_rows(case, layout)
            ]
            for layout, header, _ in self.files
        ]


class VendorWriter:
    """``profile``'s export files, opened once and appended to chunk by chunk.

    ``cases`` is the number of cases that will be written (a wide .xlsx needs its row count
    up front); :meth:`close` checks it and returns the paths. The bytes do not depend on how
    the cases are chunked.
    """

    def __init__(self, profile: Profile, out_dir: Path, cases: int, part: str = "2024") -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        self.rows = VendorRows(profile)
        self.sinks: list[_Sink] = []
        for layout, header, template in self.rows.files:
            path = out_dir / template.replace("{part}", part)
            if path.suffix.lower() == ".xlsx":
                self.sinks.append(XlsxSheet(path, header, cases if layout.wide else None))
                continue
            kind = profile.files[layout.kind]
            encoding = kind.writer.get("encoding", "utf-8")
            newline = kind.writer.get("newline")
            if newline is None:  # Windows HIS write CRLF in their code page
                newline = "\r\n" if encoding.lower() in WINDOWS_ENCODINGS else "\n"
            self.sinks.append(_CsvFile(path, header, encoding, newline))

    def write(self, cases: list[dict]) -> None:
        """Append the rows of ``cases`` to every file."""
        self.append(self.rows.render(cases))

    def append(self, rendered: list[list[list[str]]]) -> None:
        """Append rows from :meth:`VendorRows.render`."""
        for sink, rows in zip(self.sinks, rendered, strict=True):
            for values in rows:
                sink.append(values)

    def close(self) -> list[Path]:
        return [sink.close() for sink in self.sinks]


def itemised(profile: Profile) -> bool:
    """Whether a file of ``profile`` lists fee lines (a long file holding charges)."""
    for kind in profile.files:
        tables = {table for table, _ in profile.groups_for(kind)}
        if "charge" in tables and not tables & set(SINGLE):
            return True
    return False


class _CsvFile:
    """A CSV file written row by row, header first."""

    def __init__(self, path: Path, header: list[str], encoding: str, newline: str) -> None:
        self.path = path
        self.handle = path.open("w", encoding=encoding, newline="")
        self.out = csv.writer(self.handle, lineterminator=newline)
        self.out.writerow(header)

    def append(self, values: list[str]) -> None:
        self.out.writerow(values)

    def close(self) -> Path:
        self.handle.close()
        return self.path


_Sink = _CsvFile | XlsxSheet


@dataclass(frozen=True)
class Clock:
    """How a vendor writes times: its first formats, unpadded when fields are separated.

    Excel-born exports write ``2024/3/5 9:05``, not ``2024/03/05 09:05``; both parse with
    ``%Y/%m/%d %H:%M``. Compact formats (``%Y%m%d%H%M%S``) need their zero padding, and a
    profile can insist on padding with ``writer.pad_dates = true``.
    """

    datetime_format: str
    date_format: str
    pad: bool

    @classmethod
    def of(cls, profile: Profile) -> Clock:
        pad = any(kind.writer.get("pad_dates") for kind in profile.files.values())
        return cls(profile.datetime_formats[0], profile.date_formats[0], pad)

    def text(self, value: date) -> str:
        return _clock_text(self, value)

    def _text(self, value: date) -> str:
        fmt = self.datetime_format if isinstance(value, datetime) else self.date_format
        if self.pad or re.search(r"%[mdH]%", fmt):
            return value.strftime(fmt)
        short = fmt.replace("%m", str(value.month)).replace("%d", str(value.day))
        if isinstance(value, datetime):
            short = short.replace("%H", str(value.hour))
        text = value.strftime(short)
        if datetime.strptime(text, fmt).strftime(fmt) != value.strftime(fmt):
            raise ValueError(f"{text!r} does not read back with {fmt!r}")
        return text


@lru_cache(maxsize=4096)
def _clock_text(clock: Clock, value: date) -> str:
    """Memoised :meth:`Clock.text`: birth dates and admission minutes repeat across cases."""
    return clock._text(value)


def _header(groups: list[tuple[str, Group]]) -> list[str]:
    """Every column of the file's groups, each once, in profile order."""
    return list(
        dict.fromkeys(
            Group.fill(column, n)
            for _, group in groups
            for n in group.instances()
            for column in group.columns.values()
        )
    )


def _records(case: dict, table: str, wide: bool) -> list[dict]:
    if table == "charge":
        return case["charges"] if wide else case["fee_lines"]
    found = case[CASE_KEYS[table]]
    return [found] if table in SINGLE else found


@dataclass(frozen=True)
class Slot:
    """One column slot of a group (``n`` = its instance): the values a record must carry to
    go there (field, expected text) and the cells it fills (field, column)."""

    checks: tuple[tuple[str, str], ...]
    cells: tuple[tuple[str, str], ...]


class Layout:
    """A file kind's groups worked out once: slots per group, and the local text of each
    national value (the first local value listed for it), so rows are cheap to build."""

    def __init__(self, profile: Profile, groups: list[tuple[str, Group]], kind: str) -> None:
        self.profile, self.kind = profile, kind
        self.clock = Clock.of(profile)
        self.wide = any(table in SINGLE for table, _ in groups)
        self.tables = list(dict.fromkeys(t for t, _ in groups))
        self.groups: list[tuple[str, tuple[Slot, ...]]] = []
        for table, group in groups:
            slots = []
            for n in group.instances() if self.wide else [None]:
                checks = []
                for field, template in group.set.items():
                    local = Group.fill(template, n)
                    checks.append((field, profile.values.get(field, {}).get(local, local)))
                cells = tuple((f, Group.fill(c, n)) for f, c in group.columns.items())
                slots.append(Slot(tuple(checks), cells))
            self.groups.append((table, tuple(slots)))
        self.local: dict[str, dict[str, str]] = {}
        for field, table in profile.values.items():
            first: dict[str, str] = {}
            for local, national in table.items():
                first.setdefault(national, local)
            self.local[field] = first

    def text(self, value: object, field: str) -> str:
        """A canonical value as the vendor writes it."""
        if value is None:
            return ""
        if isinstance(value, date):
            return self.clock.text(value)
        if isinstance(value, Decimal):
            return f"{value:.2f}"
        text = str(value)
        local = self.local.get(field)
        return local.get(text, text) if local else text


def _case_rows(case: dict, layout: Layout) -> list[dict[str, str]]:
    """The rows of one case: a single row (wide file) or one row per record (long file).

    Each record goes to the first column slot it fits, and to one slot only. Raw texts
    (``case["raw"]``, for the one-record tables) replace the field's value verbatim.
    """
    wide = layout.wide
    used: set[int] = set()
    rows: list[dict[str, str]] = [{}] if wide else []
    for table, slots in layout.groups:
        raw = case["raw"].get(table, {}) if table in SINGLE else {}
        records = _records(case, table, wide)
        for slot in slots:
            for record in records:
                if id(record) in used or not _fits(record, slot):
                    continue
                used.add(id(record))
                row = rows[0] if wide else {}
                for field, column in slot.cells:
                    text = raw[field] if field in raw else layout.text(record.get(field), field)
                    old = row.get(column)
                    if old:
                        if old != text:
                            raise ValueError(
                                f"{layout.profile.name}: {layout.kind} column {column!r} gets "
                                f"{old!r} and {text!r}"
                            )
                    else:
                        row[column] = text
                if wide:
                    break  # this slot is filled
                rows.append(row)
    for table in layout.tables:
        left = [r for r in _records(case, table, wide) if id(r) not in used]
        if left:
            raise ValueError(
                f"{layout.profile.name}: file kind {layout.kind!r} has no room for {len(left)} "
                f"{table} record(s) of case {case['encounter']['mdtrt_id']} "
                f"(seq {left[0].get('seq')})"
            )
    return rows


def _fits(record: dict, slot: Slot) -> bool:
    """Whether the reader, given this column slot, would set the record's values."""
    for field, expected in slot.checks:
        value = record.get(field)
        if value is not None and str(value) != expected:
            return False  # (a None is a value the reader derives from the slot)
    return True
