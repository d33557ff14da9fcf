"""Read a delimited or Excel file into its header and raw text cells, with row locators.

This is the only place that touches bytes: everything after works on strings with a locator
(``file.csv:17``, ``VISIT.xlsx!visit:5``) so every error can point at the record it is about.
A file larger than :data:`STREAM_ABOVE` is not read whole: its encoding and header come from a
sample (the head, and the first stretch with non-ASCII bytes), and its rows are streamed from
disk as they are converted, so memory does not grow with the file.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

from hutong.adapters.encoding import Decoded, alternatives, decode

DELIMITED = {".csv": ",", ".tsv": "\t", ".txt": "\t"}
EXCEL = {".xlsx", ".xlsm"}
SUFFIXES = set(DELIMITED) | EXCEL
STREAM_ABOVE = 32 * 1024 * 1024  # bytes: larger files are streamed, not read whole
SAMPLE = 1024 * 1024  # bytes of a streamed file read to find its encoding and header
UNDECODED = re.compile("[\udc80-\udcff]")  # bytes the decoder could not read (surrogateescape)
SEP = "\x1f"  # between the cells of a slice on its way to a converter (unit separator)


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
    streamed: bool = False  # rows are read from disk by iter_rows, not held in ``rows``
    bad_bytes: int = 0  # of a streamed file: counted while its rows are read

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def empty(self) -> bool:
        """No records (a streamed file is read far enough to know)."""
        return not self.rows if not self.streamed else next(self.iter_rows(), None) is None

    def iter_rows(self) -> Iterator[tuple[list[str], str]]:
        """Every record with its locator, in file order."""
        if not self.streamed:
            yield from zip(self.rows, self.locators, strict=True)
        elif self.path.suffix.lower() in EXCEL:
            yield from _excel_rows(self.path, len(self.header))
        else:
            yield from self._delimited_rows()

    def iter_records(self, sep: str) -> Iterator[tuple[list[str] | str, str]]:
        """:meth:`iter_rows`, except that a one-line record of a streamed delimited file with
        no quote, NUL or ``sep`` in it comes as one string, its cells joined by ``sep`` (what
        the CSV reader would make of it, without a Python string per cell)."""
        if not self.streamed or self.path.suffix.lower() in EXCEL:
            yield from self.iter_rows()
        else:
            yield from self._delimited_rows(sep)

    def _delimited_rows(self, sep: str | None = None) -> Iterator[tuple[list[str] | str, str]]:
        self.bad_bytes = 0
        yield from self.records_from(0, 0, sep)
        self.bad_bytes -= self.header_bad_bytes()

    def records_from(
        self, offset: int, lines: int, sep: str | None = None
    ) -> Iterator[tuple[list[str] | str, str]]:
        """The records of a delimited file from byte ``offset`` on, after ``lines`` lines (the
        header first when both are 0), counting undecodable bytes into :attr:`bad_bytes`."""
        delimiter = DELIMITED[self.path.suffix.lower()]
        with self.path.open("rb") as binary:
            if offset:
                binary.seek(offset)
            elif binary.read(len(codecs.BOM_UTF8)) != codecs.BOM_UTF8:
                binary.seek(0)
            text = io.TextIOWrapper(
                binary, encoding=self.encoding, errors="surrogateescape", newline=""
            )
            counted = self._counted(text)
            header = not offset and not lines
            if sep is None:
                yield from _rows(self.path, counted, delimiter)
            else:
                yield from _records(self.path, counted, delimiter, sep, lines, header)

    def header_bad_bytes(self) -> int:
        """The header's own undecodable bytes (counted with the lines, not the records')."""
        return len(UNDECODED.findall("".join(self.header)))

    def _counted(self, lines: Iterator[str]) -> Iterator[str]:
        """The lines, counting the bytes that did not decode (a clean line encodes)."""
        for line in lines:
            if not line.isascii():
                try:
                    line.encode("utf-8")
                except UnicodeEncodeError:
                    self.bad_bytes += len(UNDECODED.findall(line))
            yield line

    def tail_notes(self) -> list[str]:
        """Notes known only once a streamed file has been read (bytes that did not decode)."""
        if not self.streamed or not self.bad_bytes:
            return []
        return [
            f"{self.bad_bytes} bytes not decodable as {self.encoding} / "
            f"{self.bad_bytes} 个字节无法按 {self.encoding} 解码"
        ]


def read_raw(path: Path, encoding: str | None = None, stream: bool | None = None) -> RawTable:
    """Read ``path`` (CSV, TSV or XLSX); ``encoding`` is the profile's, detected when None.

    ``stream`` (default: when the file is larger than :data:`STREAM_ABOVE`) reads only the
    header and a sample now; the rows then come from :meth:`RawTable.iter_rows`."""
    suffix = path.suffix.lower()
    if suffix not in DELIMITED and suffix not in EXCEL:
        raise UnreadableFile(f"{path}: not a table file ({', '.join(sorted(SUFFIXES))})")
    if stream is None:
        stream = path.stat().st_size > STREAM_ABOVE
    if suffix in EXCEL:
        return _excel_head(path) if stream else _read_excel(path)
    if stream:
        return _streamed(path, encoding)
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
        if table.streamed:
            other = _lazy(other, decoded, data)
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
    text = io.StringIO(decoded.text, newline="")
    header = _header(path, text, delimiter)
    text.seek(0)
    rows: list[list[str]] = []
    locators: list[str] = []
    for row, locator in _rows(path, text, delimiter):
        rows.append(row)
        locators.append(locator)
    return RawTable(path, header, rows, locators, encoding=decoded.encoding)


def _lines(path: Path, text, delimiter: str) -> Iterator[tuple[list[str], str]]:
    """Non-blank rows with their locators (``file.csv:LINE``, the row's first line)."""
    reader = csv.reader(text, delimiter=delimiter, strict=False)
    start = 1
    for row in reader:
        line, start = start, reader.line_num + 1
        if row and (row[0].strip() or any(cell.strip() for cell in row)):
            yield row, f"{path.name}:{line}"


# What str.strip removes: every character for which str.isspace() is true.
SPACE = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B)))
SPACE += "\u2028\u2029\u202f\u205f\u3000"


def _records(
    path: Path,
    lines: Iterator[str],
    delimiter: str,
    sep: str,
    number: int = 0,
    header: bool = True,
) -> Iterator[tuple[list[str] | str, str]]:
    """:func:`_rows`, with each one-line record that needs no CSV parsing (no quote, NUL or
    ``sep``) as its cells joined by ``sep``: splitting it at the delimiter is what the CSV
    reader would do. Other records are read by the CSV reader, from the same lines.

    ``number`` lines come before ``lines`` (a later stretch of the file, from a record's first
    line on); ``header`` says the first record is the header, to be skipped."""
    for line in lines:
        number += 1
        start = number
        if csv_line(line, sep):
            reader = csv.reader(chain([line], lines), delimiter=delimiter, strict=False)
            row = next(reader)
            number += reader.line_num - 1
            if blank_row(row):
                continue
            record: list[str] | str = row
        else:
            body = line.rstrip("\r\n")
            if blank_line(body, delimiter):
                continue  # blank: only white space and delimiters
            record = body.replace(delimiter, sep)
        if header:
            header = False
            continue
        yield record, f"{path.name}:{start}"


def csv_line(line: str, sep: str) -> bool:
    """A line the CSV reader must read (it may start a record over several lines)."""
    return '"' in line or "\x00" in line or sep in line


def blank_row(row: list[str]) -> bool:
    """A record of the CSV reader with nothing but white space: not a record."""
    return not row or not (row[0].strip() or any(cell.strip() for cell in row))


def blank_line(body: str, delimiter: str) -> bool:
    """A plain line (no quote) holding only white space and delimiters: not a record."""
    return not body.strip(SPACE + delimiter)


def _header(path: Path, text, delimiter: str) -> list[str]:
    first = next(_lines(path, text, delimiter), None)
    return [cell.strip() for cell in first[0]] if first else []


def _rows(path: Path, text, delimiter: str) -> Iterator[tuple[list[str], str]]:
    """The records after the header."""
    lines = _lines(path, text, delimiter)
    next(lines, None)
    yield from lines


def _sample(path: Path) -> bytes:
    """The head of a file, plus its first stretch holding non-ASCII bytes (an ASCII head says
    nothing about the encoding), each cut at a line end; never more than a few MiB."""
    with path.open("rb") as f:
        head = f.read(SAMPLE)
        if len(head) == SAMPLE:
            head = head[: head.rfind(b"\n") + 1] or head
        if not head.isascii():
            return head
        while chunk := f.read(SAMPLE):
            if not chunk.isascii():
                start = chunk.find(b"\n") + 1
                end = chunk.rfind(b"\n") + 1
                return head + chunk[start:end]
    return head


def _streamed(path: Path, encoding: str | None) -> RawTable:
    sample = _sample(path)
    decoded = decode(sample, encoding)
    table = _read_delimited(path, decoded, DELIMITED[path.suffix.lower()])
    table.notes.extend(n for n in _encoding_notes(decoded, encoding) if "not decodable" not in n)
    return _lazy(table, decoded, sample)


def _lazy(table: RawTable, decoded: Decoded, sample: bytes) -> RawTable:
    """A table read from a sample turned into a streamed one (its rows come from disk)."""
    table.rows, table.locators = [], []
    table.streamed, table.raw_bytes = True, sample
    table.encoding = decoded.encoding
    return table


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


def _excel_head(path: Path) -> RawTable:
    """A streamed workbook: the header now, the rows later."""
    cells_of = _excel_cells(path)
    first = next(cells_of, None)
    cells_of.close()
    header = _excel_header(first[0]) if first else []
    return RawTable(path, header, [], [], encoding=None, streamed=True)


def _excel_header(cells: list[str]) -> list[str]:
    while cells and not cells[-1].strip():
        cells.pop()
    return [c.strip() for c in cells]


def _excel_cells(path: Path) -> Iterator[tuple[list[str], str]]:
    """The non-blank rows of the first sheet with their locators (``FILE!sheet:ROW``)."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a broken zip or XML
        raise UnreadableFile(
            f"{path}: not a readable XLSX workbook / 无法读取的 Excel 文件 ({exc})"
        ) from exc
    try:
        sheet = book.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = [_cell(v) for v in values]
            if not all(not c.strip() for c in cells):
                yield cells, f"{path.name}!{sheet.title}:{number}"
    finally:
        book.close()


def _excel_rows(path: Path, width: int) -> Iterator[tuple[list[str], str]]:
    """The records after the header (trailing empty cells past the header cut off)."""
    cells_of = _excel_cells(path)
    next(cells_of, None)
    for cells, locator in cells_of:
        if len(cells) > width and not any(cells[width:]):
            cells = cells[:width]
        yield cells, locator


def _read_excel(path: Path) -> RawTable:
    cells_of = _excel_cells(path)
    first = next(cells_of, None)
    cells_of.close()
    header = _excel_header(first[0]) if first else []
    rows: list[list[str]] = []
    locators: list[str] = []
    for cells, locator in _excel_rows(path, len(header)):
        rows.append(cells)
        locators.append(locator)
    return RawTable(path, header, rows, locators, encoding=None)


@dataclass
class Slice:
    """Records of a file on their way to a converter (maybe another process): their cells as
    one UTF-8 text, row after row, each row cut or padded to the header's width (a list of
    cells when a cell holds the separator itself), with the field count each had as read."""

    width: int
    lengths: list[int]
    locators: list[str]
    notes: list[str]
    text: bytes = b""
    cells: list[str] | None = None

    @classmethod
    def of(cls, records: list, width: int, locators: list[str], notes: list[str]) -> Slice:
        """A slice of records, each a list of cells or its cells already joined by SEP."""
        lengths = [r.count(SEP) + 1 if isinstance(r, str) else len(r) for r in records]
        texts = [r if isinstance(r, str) else SEP.join(r) for r in records]
        for i, n in enumerate(lengths):
            if n != width:
                texts[i] = SEP.join((_cells(records[i]) + [""] * width)[:width])
        joined = SEP.join(texts)
        if joined.count(SEP) == max(len(texts) * width - 1, 0):
            text = joined.encode("utf-8", "surrogatepass")  # undecoded bytes stay marked
            return cls(width, lengths, locators, notes, text=text)
        cells = [c for r in records for c in (_cells(r) + [""] * width)[:width]]
        return cls(width, lengths, locators, notes, cells=cells)  # a cell holds SEP


def _cells(record: list[str] | str) -> list[str]:
    return record.split(SEP) if isinstance(record, str) else list(record)
