"""Which adapter reads a file: decided by content, not only by the name's extension.

Each format adapter has a ``sniff(head, path)``; tables are recognised last, by extension and by
looking like delimited text or an XLSX zip. A file nothing recognises is a reject of its own.
"""

from __future__ import annotations

from pathlib import Path

from hutong.adapters.raw import DELIMITED, EXCEL

HEAD = 8192  # bytes read to decide; enough for a DICOM preamble and a CDA root element
FORMATS = ("hl7v2", "cda", "dicom", "table")


def head_of(path: Path, size: int = HEAD) -> bytes:
    with path.open("rb") as f:
        return f.read(size)


def detect(path: Path) -> str | None:
    """``hl7v2``, ``cda``, ``dicom``, ``table`` or None when no adapter recognises the file."""
    head = head_of(path)
    for name in FORMATS[:3]:
        if _adapter(name).sniff(head, path):
            return name
    if _looks_like_table(head, path):
        return "table"
    return None


def _adapter(name: str):
    if name == "hl7v2":
        from hutong.adapters import hl7v2

        return hl7v2
    if name == "cda":
        from hutong.adapters import cda

        return cda
    from hutong.adapters import dicom

    return dicom


def reader(name: str):
    """The ``read(path)`` of the adapter ``name`` (not for tables, which need a profile)."""
    return _adapter(name).read


def _looks_like_table(head: bytes, path: Path) -> bool:
    suffix = path.suffix.lower()
    if suffix in EXCEL:
        return head.startswith(b"PK\x03\x04")
    if suffix not in DELIMITED:
        return False
    # An empty export is still a table file (the table adapter notes it); NUL bytes mean binary.
    return b"\x00" not in head
