"""Write XLSX workbooks with the same bytes every run.

openpyxl's ``save`` stamps the clock time into the document properties and every zip entry,
so two runs over the same input would differ; outputs here must be comparable byte for byte.
:func:`save_workbook` fixes that for an openpyxl workbook; :func:`open_workbook` opens an
XlsxWriter one (much faster for a big sheet) whose properties carry the same fixed time
(XlsxWriter dates every zip entry 1980-01-01 itself).
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from openpyxl import Workbook
    from xlsxwriter import Workbook as XlsxWorkbook

FIXED_TIME = datetime(2025, 1, 1)  # workbook properties and zip entries
CREATOR = "hutong"


def save_workbook(book: Workbook, path: Path | str) -> Path:
    """Save ``book`` to ``path`` with fixed timestamps (creator ``hutong``).

    Written to a temporary file beside ``path`` first, then copied entry by entry with the
    timestamps fixed, streaming: a large worklist is never held in memory whole."""
    from openpyxl.writer.excel import ExcelWriter

    book.properties.creator = CREATOR
    book.properties.created = book.properties.modified = FIXED_TIME
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".xlsx-") as tmp:
        raw = Path(tmp) / "raw.xlsx"
        with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
            ExcelWriter(book, archive).save()  # not save_workbook: it stamps the clock time
        _fix_zip(raw, path)
    return path


def open_workbook(path: Path | str) -> XlsxWorkbook:
    """An XlsxWriter workbook writing ``path`` on ``close()``: rows stream to a temporary file
    (``constant_memory``: each row is written whole, in order), properties fixed (creator
    ``hutong``, created and modified :data:`FIXED_TIME`), so the same cells give the same
    bytes."""
    from xlsxwriter import Workbook as XlsxWorkbook

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    options = {"constant_memory": True, "tmpdir": str(path.parent)}
    book = XlsxWorkbook(str(path), options)
    book.set_properties({"author": CREATOR, "created": FIXED_TIME})
    return book


def column_pixels(width: int) -> int:
    """The pixel width XlsxWriter stores as exactly ``width`` characters (its ``set_column``
    adds padding: 40 would read back as 40.71)."""
    return width * 7  # Calibri 11's digit width: XlsxWriter stores pixels * 256 // 7 / 256


def _fix_zip(source: Path, target: Path) -> None:
    """The same zip with every entry's timestamp fixed (zip entries record the write time)."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as dst:
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            entry.file_size = info.file_size  # as writestr sets it (decides ZIP64 the same way)
            with src.open(info) as data, dst.open(entry, "w") as out:
                shutil.copyfileobj(data, out, 1 << 20)
