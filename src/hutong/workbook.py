"""Write an openpyxl workbook with the same bytes every run.

openpyxl's ``save`` stamps the clock time into the document properties and every zip entry,
so two runs over the same input would differ; outputs here must be comparable byte for byte.
"""

from __future__ import annotations

import io
import zipfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from openpyxl import Workbook

FIXED_TIME = datetime(2025, 1, 1)  # workbook properties and zip entries


def save_workbook(book: Workbook, path: Path | str) -> Path:
    """Save ``book`` to ``path`` with fixed timestamps (creator ``hutong``)."""
    from openpyxl.writer.excel import ExcelWriter

    book.properties.creator = "hutong"
    book.properties.created = book.properties.modified = FIXED_TIME
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(book, archive).save()  # not save_workbook: it stamps the clock time
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_fixed_zip(buffer.getvalue()))
    return path


def _fixed_zip(data: bytes) -> bytes:
    """The same zip with every entry's timestamp fixed (zip entries record the write time)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            dst.writestr(entry, src.read(info.filename))
    return out.getvalue()
