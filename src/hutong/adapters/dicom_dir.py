"""DICOMDIR: the instance records of a media directory, with the records above each.

The hierarchy is followed by the records' offsets (PS3.10 8.2: first record of the root,
next record, lower-level entity), each offset visited once so a loop in a hostile file ends;
a directory whose offsets do not resolve is read in sequence order by record level instead.
Referenced File IDs are resolved inside the DICOMDIR's folder only, case-insensitively when
the media was copied with its names changed in case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.uid import MediaStorageDirectoryStorage

from hutong.adapters.dicom_header import PARSE_ERRORS, Refused, quiet
from hutong.adapters.dicom_values import Charset, code, label

RECORDS = 0x00041220  # DirectoryRecordSequence
ROOT = 0x00041200  # OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity
NEXT = 0x00041400  # OffsetOfTheNextDirectoryRecord
LOWER = 0x00041420  # OffsetOfReferencedLowerLevelDirectoryEntity
RECORD_TYPE = 0x00041430
FILE_ID = 0x00041500  # ReferencedFileID
INSTANCE_UID = 0x00041511  # ReferencedSOPInstanceUIDInFile
TAGS = [ROOT, RECORDS]
LEVELS = {"PATIENT": 0, "STUDY": 1, "SERIES": 2}  # any other record type is instance level


def is_dicomdir(ds: Dataset) -> bool:
    """A Media Storage Directory, by its file meta or by its record sequence."""
    meta = getattr(ds, "file_meta", None)
    sop_class = code(meta, 0x00020002) if meta is not None else ""
    return sop_class == MediaStorageDirectoryStorage or RECORDS in ds


@dataclass
class Entry:
    """An instance record: the records from it up to its patient, and its file ID."""

    chain: list[tuple[Dataset, Charset]]
    file_id: tuple[str, ...] | None
    offset: int


@dataclass
class Walk:
    """What the walk found: instance entries, instance records outside the hierarchy (each
    a reject), and notes on other records left out."""

    entries: list[Entry] = field(default_factory=list)
    orphans: list[Entry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def entries(ds: Dataset) -> Walk:
    """The instance records of a DICOMDIR in directory order; raises :class:`Refused`."""
    if RECORDS not in ds:  # Type 2: present even when empty, so the file was cut short
        raise Refused("malformed", "DICOMDIR without directory records / 目录文件无目录记录")
    try:
        with quiet():
            records = list(ds[RECORDS].value)
            items = {int(r.seq_item_tell): r for r in records}
            root = int(ds[ROOT].value or 0) if ROOT in ds else 0
            charset = Charset.of(ds)
            walk = Walk()
            if root in items:
                _follow(items, root, charset, walk)
            else:
                _in_order(records, charset, walk)
    except (*PARSE_ERRORS, RecursionError) as exc:
        raise Refused(
            "malformed", f"unreadable directory records / 目录记录无法解析: {exc}"
        ) from None
    used = {id(record) for e in walk.entries for record, _ in e.chain}
    left = [r for r in records if id(r) not in used]
    walk.orphans = [
        _entry([(r, Charset.of(r, charset))])
        for r in left
        if _kind(r) not in LEVELS and (FILE_ID in r or INSTANCE_UID in r)
    ]
    left = len(left) - len(walk.orphans)
    if left:
        walk.notes.append(
            f"{left} directory records with no instance below, skipped / 无实例的目录记录"
        )
    return walk


def _kind(record: Dataset) -> str:
    return code(record, RECORD_TYPE).upper()


def _offset(record: Dataset, tag: int) -> int:
    return int(record[tag].value or 0) if tag in record else 0


def _follow(items: dict[int, Dataset], root: int, charset: Charset, walk: Walk) -> None:
    """Depth first from the root record, in directory order, each record visited once.

    A record's own (0008,0005) applies to it alone (PS3.3 F.5), so none inherits its parent's.
    """
    seen: set[int] = set()

    def siblings(offset: int, above: list) -> list[tuple[Dataset, list]]:
        out = []
        while offset in items and offset not in seen:
            seen.add(offset)
            out.append((items[offset], above))
            offset = _offset(items[offset], NEXT)
        return out

    stack = siblings(root, [])[::-1]
    while stack:
        record, above = stack.pop()
        chain = [(record, Charset.of(record, charset)), *above]
        if _kind(record) in LEVELS:
            stack.extend(siblings(_offset(record, LOWER), chain)[::-1])
        elif above:  # at the root, with nothing above, it is an orphan (rejected)
            walk.entries.append(_entry(chain))


def _in_order(records: list[Dataset], charset: Charset, walk: Walk) -> None:
    """Records in sequence order, each under the last record of each level above it."""
    above: dict[int, tuple[Dataset, Charset]] = {}
    for record in records:
        level = LEVELS.get(_kind(record), 3)
        above = {k: v for k, v in above.items() if k < level}
        pair = (record, Charset.of(record, charset))
        if level < 3:
            above[level] = pair
        elif above:
            walk.entries.append(_entry([pair, *(above[k] for k in sorted(above, reverse=True))]))


def _entry(chain: list[tuple[Dataset, Charset]]) -> Entry:
    record = chain[0][0]
    value = code(record, FILE_ID)
    parts = tuple(p.strip(" \x00") for p in value.split("\\")) if value else None
    return Entry(chain, parts, int(getattr(record, "seq_item_tell", 0)))


def referenced(root: Path, parts: tuple[str, ...], listings: dict[Path, dict[str, Path]]) -> Path:
    """The file a File ID names under ``root``; raises :class:`Refused` when it points outside.

    The path may not exist: the caller then converts the directory record alone.
    """
    outside = Refused(
        "hostile", f"File ID outside the folder / 路径越界: {parts!r}", label(FILE_ID)
    )
    if not 0 < len(parts) <= 16 or any(
        p in ("", ".", "..") or len(p) > 255 or any(c in p for c in "/:\x00") for p in parts
    ):
        raise outside
    path = root.joinpath(*parts)
    try:
        if not path.exists():
            path = _any_case(root, parts, listings) or path
        inside = path.resolve().is_relative_to(root.resolve())
    except OSError as exc:
        raise Refused("malformed", f"File ID unusable / 路径无效: {exc}", label(FILE_ID)) from None
    if not inside:
        raise outside
    return path


def _any_case(
    root: Path, parts: tuple[str, ...], listings: dict[Path, dict[str, Path]]
) -> Path | None:
    """Find ``parts`` under ``root`` ignoring case (CD file IDs are upper case, copies vary)."""
    here = root
    for part in parts:
        if here not in listings:
            try:
                listings[here] = {p.name.casefold(): p for p in here.iterdir()}
            except OSError:
                listings[here] = {}
        found = listings[here].get(part.casefold())
        if found is None:
            return None
        here = found
    return here
