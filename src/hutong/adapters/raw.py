"""Read a delimited or Excel file into its header and raw text cells, with row locators.

This is the only place that touches bytes: everything after works on strings with a locator
(``file.csv:17``, ``VISIT.xlsx!visit:5``) so every error can point at the record it is about.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from pathlib import Path

from hutong.adapters.encoding import Decoded, alternatives, decode

DELIMITED = {".csv": ",", ".tsv": "\t", ".txt": "\t"}
EXCEL = {".xlsx", ".xlsm"}
SUFFIXES = set(DELIMITED) | EXCEL


class UnreadableFile(ValueError):
    """A file that is not a table at all (not CSV/TSV/XLSX, or a broken workbook)."""


@dataclass
class RawTable:
    """Header and rows of one input file, every cell a string, with each row's locator."""

    path: Path
    header: list[str]
    rows: list[list[str]]
    locators: list[str]
    encoding: str | None = None
    notes: list[str] = field(default_factory=list)
    raw_bytes: bytes | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.rows)


def read_raw(path: Path, encoding: str | None = None) -> RawTable:
    """Read ``path`` (CSV, TSV or XLSX); ``encoding`` is the profile's, detected when None."""
    suffix = path.suffix.lower()
    if suffix in EXCEL:
        return _read_excel(path)
    if suffix not in DELIMITED:
        raise UnreadableFile(f"{path}: not a table file ({', '.join(sorted(SUFFIXES))})")
    data = path.read_bytes()
    decoded = decode(data, encoding)
    table = _read_delimited(path, decoded, DELIMITED[suffix])
    table.notes.extend(_encoding_notes(decoded, encoding))
    table.raw_bytes = data  # kept for a retry with another encoding (see retry_encodings)
    return table


def retry_encodings(table: RawTable) -> list[RawTable]:
    """The same file decoded with the other plausible encodings (header did not match)."""
    data = table.raw_bytes
    if data is None:
        return []
    out = []
    for decoded in alternatives(data, table.encoding or ""):
        other = _read_delimited(table.path, decoded, DELIMITED[table.path.suffix.lower()])
        other.notes.append(
            f"declared encoding {table.encoding} did not fit; read as {decoded.encoding} / "
            f"声明的编码 {table.encoding} 不符，按 {decoded.encoding} 读取"
        )
        out.append(other)
    return out


def _encoding_notes(decoded: Decoded, declared: str | None) -> list[str]:
    notes = []
    if decoded.detected:
        notes.append(f"encoding detected as {decoded.encoding} / 检测到编码 {decoded.encoding}")
    if decoded.bad_bytes:
        notes.append(
            f"{decoded.bad_bytes} bytes not decodable as {decoded.encoding} / "
            f"{decoded.bad_bytes} 个字节无法按 {decoded.encoding} 解码"
        )
    return notes


def _read_delimited(path: Path, decoded: Decoded, delimiter: str) -> RawTable:
    reader = csv.reader(io.StringIO(decoded.text, newline=""), delimiter=delimiter, strict=False)
    header: list[str] | None = None
    rows: list[list[str]] = []
    locators: list[str] = []
    start = 1
    for row in reader:
        line, start = start, reader.line_num + 1
        if not row or all(not cell.strip() for cell in row):
            continue
        if header is None:
            header = [cell.strip() for cell in row]
            continue
        rows.append(row)
        locators.append(f"{path.name}:{line}")
    return RawTable(path, header or [], rows, locators, encoding=decoded.encoding)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _read_excel(path: Path) -> RawTable:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a broken zip or XML
        raise UnreadableFile(
            f"{path}: not a readable XLSX workbook / 无法读取的 Excel 文件 ({exc})"
        ) from exc
    try:
        sheet = book.worksheets[0]
        header: list[str] | None = None
        rows: list[list[str]] = []
        locators: list[str] = []
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = [_cell(v) for v in values]
            if all(not c.strip() for c in cells):
                continue
            if header is None:
                while cells and not cells[-1].strip():
                    cells.pop()
                header = [c.strip() for c in cells]
                continue
            rows.append(
                cells[: len(header)]
                if len(cells) > len(header) and not any(cells[len(header) :])
                else cells
            )
            locators.append(f"{path.name}!{sheet.title}:{number}")
    finally:
        book.close()
    return RawTable(path, header or [], rows, locators, encoding=None)
