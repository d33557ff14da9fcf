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
from pathlib import Path

from hutong.adapters.profile import Group, Profile
from hutong.workbook import save_workbook

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
    out_dir.mkdir(parents=True, exist_ok=True)
    clock = Clock.of(profile)
    paths = []
    for kind in profile.files.values():
        template = kind.writer.get("name")
        if not template:
            raise ValueError(f"{profile.name}: file kind {kind.name!r} has no writer.name")
        groups = profile.groups_for(kind.name)
        if not groups:
            continue
        header, rows = _table(cases, profile, groups, clock, kind.name)
        path = out_dir / template.replace("{part}", part)
        if path.suffix.lower() == ".xlsx":
            _write_xlsx(path, header, rows)
        else:
            encoding = kind.writer.get("encoding", "utf-8")
            newline = kind.writer.get("newline")
            if newline is None:  # Windows HIS write CRLF in their code page
                newline = "\r\n" if encoding.lower() in WINDOWS_ENCODINGS else "\n"
            _write_csv(path, header, rows, encoding, newline)
        paths.append(path)
    return paths


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


def _table(
    cases: list[dict], profile: Profile, groups: list[tuple[str, Group]], clock: Clock, kind: str
) -> tuple[list[str], list[dict[str, str]]]:
    header = list(
        dict.fromkeys(
            Group.fill(column, n)
            for _, group in groups
            for n in group.instances()
            for column in group.columns.values()
        )
    )
    wide = any(table in SINGLE for table, _ in groups)
    rows = [row for case in cases for row in _case_rows(case, profile, groups, clock, kind, wide)]
    return header, rows


def _records(case: dict, table: str, wide: bool) -> list[dict]:
    if table == "charge":
        return case["charges"] if wide else case["fee_lines"]
    found = case[CASE_KEYS[table]]
    return [found] if table in SINGLE else found


def _case_rows(
    case: dict,
    profile: Profile,
    groups: list[tuple[str, Group]],
    clock: Clock,
    kind: str,
    wide: bool,
) -> list[dict[str, str]]:
    """The rows of one case: a single row (wide file) or one row per record (long file).

    Each record goes to the first column slot it fits, and to one slot only. Raw texts
    (``case["raw"]``, for the one-record tables) replace the field's value verbatim.
    """
    used: set[int] = set()
    rows: list[dict[str, str]] = [{}] if wide else []
    for table, group in groups:
        raw = case["raw"].get(table, {}) if table in SINGLE else {}
        records = _records(case, table, wide)
        for n in group.instances() if wide else [None]:
            for record in records:
                if id(record) in used or not _fits(record, group, n, profile):
                    continue
                used.add(id(record))
                row = rows[0] if wide else {}
                for field, column in group.columns.items():
                    text = raw.get(field, _text(record.get(field), field, profile, clock))
                    _put(row, Group.fill(column, n), text, profile, kind)
                if wide:
                    break  # this slot is filled
                rows.append(row)
    for table in dict.fromkeys(t for t, _ in groups):
        left = [r for r in _records(case, table, wide) if id(r) not in used]
        if left:
            raise ValueError(
                f"{profile.name}: file kind {kind!r} has no room for {len(left)} {table} "
                f"record(s) of case {case['encounter']['mdtrt_id']} (seq {left[0].get('seq')})"
            )
    return rows


def _fits(record: dict, group: Group, n: str | None, profile: Profile) -> bool:
    """Whether the reader, given this group's column slot, would set the record's values."""
    for field, template in group.set.items():
        if record.get(field) is None:
            continue  # a value the reader derives from the slot (e.g. the fee item's name)
        local = Group.fill(template, n)
        expected = profile.values.get(field, {}).get(local, local)
        if str(record[field]) != expected:
            return False
    return True


def _put(row: dict[str, str], column: str, value: str, profile: Profile, kind: str) -> None:
    if row.get(column, "") not in ("", value):
        raise ValueError(
            f"{profile.name}: {kind} column {column!r} gets {row[column]!r} and {value!r}"
        )
    if value or column not in row:
        row[column] = value


def _text(value: object, field: str, profile: Profile, clock: Clock) -> str:
    """A canonical value as the vendor writes it."""
    if value is None:
        return ""
    if isinstance(value, date):
        return clock.text(value)
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    text = str(value)
    for local, national in profile.values.get(field, {}).items():
        if national == text:
            return local  # the first local value listed for the code
    return text


def _write_csv(
    path: Path, header: list[str], rows: list[dict], encoding: str, newline: str
) -> None:
    with path.open("w", encoding=encoding, newline="") as fh:
        out = csv.writer(fh, lineterminator=newline)
        out.writerow(header)
        out.writerows([row.get(column, "") for column in header] for row in rows)


def _write_xlsx(path: Path, header: list[str], rows: list[dict]) -> None:
    """An .xlsx with every cell as text, byte-identical for identical rows."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = path.stem[:31]
    for values in [header, *([row.get(c) or None for c in header] for row in rows)]:
        sheet.append(values)
    for line in sheet.iter_rows():
        for cell in line:
            cell.number_format = "@"
    save_workbook(book, path)
