"""A one-sheet .xlsx written row by row, byte-identical to what openpyxl saves for the same rows.

openpyxl's normal mode holds every cell in memory (a million-row VISIT.xlsx would not fit) and
its write-only mode writes different XML, so the shipped samples would change. This writer takes
every part of the package from a workbook openpyxl saves with the header row alone (styles,
theme, properties, through :func:`hutong.workbook.save_workbook` for the fixed timestamps) and
streams the rows into the sheet entry in openpyxl's own layout: every cell a text cell (format
``@``), written inline the way lxml serialises it (``&amp;``, ``&#13;``, non-ASCII as decimal
character references), an empty cell as an empty numeric cell.
"""

from __future__ import annotations

import re
import tempfile
import zipfile
from pathlib import Path
from typing import IO

from openpyxl.utils import get_column_letter

from hutong.workbook import FIXED_TIME, save_workbook

SHEET = "xl/worksheets/sheet1.xml"
MAX_ROWS = 1_048_576  # rows of an Excel sheet
BLOCK = 1 << 20  # bytes handed to the compressor at a time
ZIP64_CELL_BYTES = 1024  # a generous bound on one cell's XML: beyond 2 GiB the entry needs zip64
PRESERVE = ' xml:space="preserve"'  # lxml's spelling for text with outer blanks
_SPECIAL = re.compile("[&<>\r]")
_ESCAPE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})


def escape(text: str) -> str:
    """``text`` as lxml writes it in an element of an ASCII-encoded document."""
    return text.translate(_ESCAPE).encode("ascii", "xmlcharrefreplace").decode("ascii")


class XlsxSheet:
    """Append rows (lists of text, ``""`` for empty), then :meth:`close` to write the file.

    ``rows`` is the number of data rows when known up front (the dimension opens the sheet);
    otherwise the rows are spooled to a temporary file and counted first.
    """

    def __init__(self, path: Path, header: list[str], rows: int | None = None) -> None:
        self.path = path
        self.columns = [get_column_letter(i) for i in range(1, len(header) + 1)]
        self.expected = rows
        self.count = 0
        self.buffer: list[str] = []
        self.size = 0
        self.entries, top, self.header_row, self.bottom, style = _template(path, header)
        self.cell_tags = (f' s="{style}" t="inlineStr"><is>', f' s="{style}" t="n"></c>')
        if rows is not None:
            self.archive = zipfile.ZipFile(path, "w")
            self.sink: IO[bytes] = self._open_sheet(rows)
            self.sink.write(_top(top, self.columns[-1], rows))
        else:
            self.spool: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close)
            self.sink = self.spool
        self.top = top

    def _open_sheet(self, rows: int) -> IO[bytes]:
        if rows + 1 > MAX_ROWS:
            raise ValueError(
                f"{self.path.name}: {rows + 1} 行超过 Excel 工作表上限 {MAX_ROWS} / "
                f"more rows than an Excel sheet holds ({MAX_ROWS})"
            )
        for name, data in self.entries:
            if name == SHEET:
                break
            self.archive.writestr(_entry(name), data)
        big = (rows + 1) * len(self.columns) * ZIP64_CELL_BYTES > zipfile.ZIP64_LIMIT
        return self.archive.open(_entry(SHEET), "w", force_zip64=big)

    def append(self, values: list[str]) -> None:
        self.count += 1
        r = self.count + 1
        full, empty = self.cell_tags
        parts = [f'<row r="{r}">']
        for col, v in zip(self.columns, values, strict=True):
            if v:
                space = PRESERVE if v != v.strip() else ""
                if _SPECIAL.search(v):
                    v = v.translate(_ESCAPE)
                parts.append(f'<c r="{col}{r}"{full}<t{space}>{v}</t></is></c>')
            else:
                parts.append(f'<c r="{col}{r}"{empty}')
        parts.append("</row>")
        text = "".join(parts)
        self.buffer.append(text)
        self.size += len(text)
        if self.size >= BLOCK:
            self._flush()

    def _flush(self) -> None:
        """Hand the buffered rows to the compressor, non-ASCII as character references."""
        text = "".join(self.buffer)
        self.sink.write(text.encode("ascii", "xmlcharrefreplace"))
        self.buffer, self.size = [], 0

    def close(self) -> Path:
        self._flush()
        if self.expected is None:
            self.archive = zipfile.ZipFile(self.path, "w")
            sheet = self._open_sheet(self.count)
            sheet.write(_top(self.top, self.columns[-1], self.count))
            self.spool.seek(0)
            while block := self.spool.read(BLOCK):
                sheet.write(block)
            self.spool.close()
            self.sink = sheet
        elif self.count != self.expected:
            raise ValueError(f"{self.path.name}: {self.count} rows written, {self.expected} said")
        self.sink.write(b"</sheetData>" + self.bottom)
        self.sink.close()
        after = False
        for name, data in self.entries:
            if after:
                self.archive.writestr(_entry(name), data)
            after = after or name == SHEET
        self.archive.close()
        return self.path


def _entry(name: str) -> zipfile.ZipInfo:
    """A zip entry as :func:`hutong.workbook.save_workbook` writes it (fixed time and mode)."""
    entry = zipfile.ZipInfo(name, date_time=FIXED_TIME.timetuple()[:6])
    entry.compress_type = zipfile.ZIP_DEFLATED
    entry.external_attr = 0o600 << 16
    return entry


def _top(top: bytes, last_column: str, rows: int) -> bytes:
    """The sheet's opening up to its first data row, with the dimension of all the rows."""
    old = b':%s1"/>' % last_column.encode()
    return top.replace(old, b':%s%d"/>' % (last_column.encode(), rows + 1), 1)


def _template(
    path: Path, header: list[str]
) -> tuple[list[tuple[str, bytes]], bytes, bytes, bytes, str]:
    """The entries of openpyxl's workbook holding the header alone, and its sheet cut in parts:
    the opening through the header row, the header row, the closing, the cells' style id."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = path.stem[:31]
    sheet.append(header)
    for cell in sheet[1]:
        cell.number_format = "@"
    with tempfile.TemporaryDirectory() as folder:
        saved = save_workbook(book, Path(folder) / "template.xlsx")
        with zipfile.ZipFile(saved) as archive:
            entries = [(info.filename, archive.read(info.filename)) for info in archive.infolist()]
    xml = dict(entries)[SHEET]
    start, end = xml.index(b"<sheetData>"), xml.index(b"</sheetData>")
    header_row = xml[start + len(b"<sheetData>") : end]
    style = re.search(rb' s="(\d+)"', header_row)
    if style is None:
        raise ValueError("openpyxl wrote the header without a cell style")
    top = xml[:start] + b"<sheetData>" + header_row
    return entries, top, header_row, xml[end + len(b"</sheetData>") :], style.group(1).decode()
