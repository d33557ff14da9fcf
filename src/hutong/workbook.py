"""Write an openpyxl workbook with the same bytes every run.

openpyxl's ``save`` stamps the clock time into the document properties and every zip entry,
so two runs over the same input would differ; outputs here must be comparable byte for byte.
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

FIXED_TIME = datetime(2025, 1, 1)  # workbook properties and zip entries


def save_workbook(book: Workbook, path: Path | str) -> Path:
    """Save ``book`` to ``path`` with fixed timestamps (creator ``hutong``).

    Written to a temporary file beside ``path`` first, then copied entry by entry with the
    timestamps fixed, streaming: a large worklist is never held in memory whole."""
    from openpyxl.writer.excel import ExcelWriter

    book.properties.creator = "hutong"
    book.properties.created = book.properties.modified = FIXED_TIME
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".xlsx-") as tmp:
        raw = Path(tmp) / "raw.xlsx"
        with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
            ExcelWriter(book, archive).save()  # not save_workbook: it stamps the clock time
        _fix_zip(raw, path)
    return path


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
