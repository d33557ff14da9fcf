"""DICOM adapter: files, DICOMDIRs and folders of a PACS export → imaging and patient rows.

>>> batches = list(read(Path("export/DICOMDIR")))   # or a single file, or read_dir(folder)

A record is one DICOM instance: a file, or an instance record of a DICOMDIR. It is converted
(an ``imaging_instance`` row, its share of ``imaging_series``, ``imaging_study`` and
``patient``) or rejected with its locator (file name, or ``DICOMDIR:PATH/OF/FILE``) and, when
one element is to blame, that element's tag. Only headers are read; pixel data never is.

Series and study rows of a batch count the batch's instances only: a pipeline that reads many
files calls :func:`aggregate` on the instance rows of all batches, which carry the series and
study columns for it.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

import pandas as pd
from pydicom.dataset import Dataset
from pydicom.tag import Tag

from hutong.adapters.batch import Batch
from hutong.adapters.dicom_dir import RECORDS, Entry, entries, is_dicomdir, referenced
from hutong.adapters.dicom_dir import TAGS as DIR_TAGS
from hutong.adapters.dicom_header import HEAD, Layout, Refused, layout, load, read_header
from hutong.adapters.dicom_rows import TAGS, aggregate, record, refused, typed
from hutong.adapters.dicom_values import Charset, label
from hutong.model import Reject

__all__ = ["aggregate", "read", "read_dir", "sniff"]

# The elements read, as pydicom tags once (pydicom converts what it is given on every read).
FILE_TAGS = [Tag(t) for t in TAGS]
HEADER_TAGS = [Tag(t) for t in TAGS + DIR_TAGS]
Outcome = dict | Reject | str  # a record's values, its reject, or a note on the input


def sniff(head: bytes, path: Path) -> bool:
    """True when a file starting with ``head`` is DICOM: "DICM" at byte 128 (a DICOMDIR too),
    or a bare data set starting with a plausible group 0002/0008 element. ``path`` is unused:
    DICOM files often have no extension, or a misleading one."""
    return layout(head) is not None


def read(path: Path, batch_size: int = 2000) -> Iterator[Batch]:
    """Convert a DICOM file, a DICOMDIR (with the files it references) or a folder."""
    if path.is_dir():
        yield from read_dir(path, batch_size)
        return
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file / 文件不存在")
    ledger = _Ledger()
    kind, outcomes = _open(path, path.as_posix(), path.name, ledger)
    yield from _batches(path.as_posix(), kind, outcomes, batch_size, ledger)


def read_dir(folder: Path, batch_size: int = 2000) -> Iterator[Batch]:
    """Convert every DICOM file under ``folder`` once, in sorted order.

    DICOMDIRs (files so named) are read first, and the files they reference are read through
    them and then not again; any other file that repeats a converted SOP Instance UID (a copy,
    or a file a DICOMDIR names in a different case) is rejected as a duplicate. Files that are
    not DICOM (viewers and autorun files of a CD) are skipped with a note. Rows have the
    folder as source and the path inside it as locator.
    """
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder}: not a folder / 不是目录")
    ledger = _Ledger()
    source = folder.as_posix()
    yield from _batches(source, "dicom", _folder(folder, source, ledger), batch_size, ledger)


def _walk(folder: Path) -> list[tuple[Path, str]]:
    """Every file under ``folder`` and its path inside it, sorted by that path's parts.

    Like ``os.walk`` (unreadable folders skipped, symlinked folders not followed), but keeping
    its directory entries: they know a plain file from the listing, without a ``stat`` each.
    """
    files = []
    todo: list[tuple[str | Path, tuple[str, ...]]] = [(folder, ())]
    while todo:
        top, base = todo.pop()
        try:
            with os.scandir(top) as listing:
                found = list(listing)
        except OSError:
            continue
        for entry in found:
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if is_dir:
                if not entry.is_symlink():
                    todo.append((entry.path, (*base, entry.name)))
            elif entry.is_file():
                files.append(((*base, entry.name), Path(entry.path)))
    files.sort(key=lambda f: f[0])
    return [(path, "/".join(parts)) for parts, path in files]


def _folder(folder: Path, source: str, ledger: _Ledger) -> Iterator[Outcome]:
    files = _walk(folder)
    dicomdirs = [(p, where) for p, where in files if p.name.casefold() == "dicomdir"]
    for path, where in dicomdirs:
        yield from _open(path, source, where, ledger)[1]
    skipped = []
    for path, where in files:
        if (dicomdirs and path.name.casefold() == "dicomdir") or (
            ledger.claimed and path.resolve() in ledger.claimed
        ):
            continue
        try:
            content = load(path)  # read once: sniffed, then parsed
        except OSError as exc:
            yield Reject(source, where, "malformed", f"cannot read / 无法读取: {exc.strerror}")
            continue
        found = layout(content[0][:HEAD])  # as :func:`sniff` does
        if found is None:
            skipped.append(where)
            continue
        yield from _open(path, source, where, ledger, content, found)[1]
    if skipped:
        shown = ", ".join(skipped[:5]) + (" ..." if len(skipped) > 5 else "")
        yield f"{len(skipped)} files are not DICOM, skipped / 非DICOM文件已跳过: {shown}"


class _Ledger:
    """Across one read: files read through a DICOMDIR, and SOP Instance UIDs converted."""

    def __init__(self) -> None:
        self.claimed: set[Path] = set()
        self.seen: dict[str, str] = {}

    def admit(self, instances: pd.DataFrame) -> tuple[pd.DataFrame, list[Reject]]:
        """Instances not converted before; the others rejected as duplicates."""
        keep, rejects = [], []
        columns = (instances[c].tolist() for c in ("sop_instance_uid", "source", "locator"))
        for uid, source, where in zip(*columns, strict=True):
            first = self.seen.setdefault(uid, where)
            keep.append(first == where)
            if first != where:
                message = f"same SOP Instance UID as {first} / 重复实例"
                rejects.append(Reject(source, where, "duplicate", message, label(0x00080018), uid))
        return instances[pd.Series(keep, index=instances.index, dtype=bool)], rejects


def _open(
    path: Path,
    source: str,
    where: str,
    ledger: _Ledger,
    content: tuple[bytes, int] | None = None,
    found: Layout | None = None,
) -> tuple[str, Iterable[Outcome]]:
    """What a file is ("dicom" or "dicomdir") and its records; ``content`` is what
    :func:`load` read of it and ``found`` its layout, when the caller has them already."""
    try:
        ds = read_header(path, HEADER_TAGS, content, found=found)
        if is_dicomdir(ds):
            item = ds.get_item(RECORDS, keep_deferred=True)
            if item is not None and item.value is None:  # larger than a value kept in memory
                ds = read_header(path, HEADER_TAGS, content, defer=None, found=found)
            return "dicomdir", _directory(path, ds, source, where, ledger)
        return "dicom", [_instance(ds, [], source, where)]
    except Refused as err:
        return "dicom", [refused(err, source, where)]
    except OSError as exc:
        return "dicom", [Reject(source, where, "malformed", f"cannot read / 无法读取: {exc}")]


def _instance(found: Dataset | None, above: list, source: str, where: str) -> Outcome:
    """A file's record, completed from the DICOMDIR records ``above`` it, if any."""
    try:
        own = [(found, Charset.of(found)), (found.file_meta, Charset())] if found else []
        return record([*own, *above], source, where)
    except Refused as err:
        return refused(err, source, where)


def _directory(
    path: Path, ds: Dataset, source: str, where: str, ledger: _Ledger
) -> Iterator[Outcome]:
    """The instance records of a DICOMDIR: each from its file when the file is there."""
    try:
        walk = entries(ds)
    except Refused as err:
        yield refused(err, source, where)
        return
    yield from walk.notes
    for entry in walk.orphans:
        message = "instance record outside the patient/study/series hierarchy / 记录不在层级内"
        yield Reject(source, f"{where}:{_name(entry)}", "malformed", message)
    listings: dict = {}
    absent = 0
    for entry in walk.entries:
        at = f"{where}:{_name(entry)}"
        found = None
        try:
            if entry.file_id:
                target = referenced(path.parent, entry.file_id, listings)
                if target.is_file():
                    ledger.claimed.add(target.resolve())
                    found = read_header(target, FILE_TAGS)
                else:
                    absent += 1
        except Refused as err:
            yield refused(err, source, at)
            continue
        except OSError as exc:
            yield Reject(source, at, "malformed", f"cannot read / 无法读取: {exc}")
            continue
        yield _instance(found, entry.chain, source, at)
    if absent:
        yield (
            f"{absent} referenced files absent: rows from the directory records alone"
            " / 引用文件缺失，仅用目录记录"
        )


def _name(entry: Entry) -> str:
    """A directory record by its File ID, or by its offset when it has none."""
    return "/".join(entry.file_id) if entry.file_id else f"@{entry.offset}"


def _batches(
    source: str, kind: str, outcomes: Iterable[Outcome], size: int, ledger: _Ledger
) -> Iterator[Batch]:
    chunk: list = []
    notes: Counter = Counter()
    sent = False
    for item in outcomes:
        if isinstance(item, str):
            notes[item] += 1
            continue
        chunk.append(item)
        if len(chunk) >= size:
            yield _batch(source, kind, chunk, notes, ledger)
            chunk, notes, sent = [], Counter(), True
    if chunk or notes or not sent:
        yield _batch(source, kind, chunk, notes, ledger)


def _batch(source: str, kind: str, chunk: list, notes: Counter, ledger: _Ledger) -> Batch:
    records = [c for c in chunk if isinstance(c, dict)]
    rejects = [c for c in chunk if isinstance(c, Reject)]
    tables: dict[str, pd.DataFrame] = {}
    if records:
        for r in records:
            notes.update(r["notes"])
        instances, patients, bad = typed(records)
        instances, duplicates = ledger.admit(instances)
        studies, series = aggregate(instances)
        tables = {
            "imaging_instance": instances,
            "imaging_series": series,
            "imaging_study": studies,
            "patient": patients,
        }
        order = {c["locator"] if isinstance(c, dict) else c.locator: i for i, c in enumerate(chunk)}
        rejects = sorted(rejects + bad + duplicates, key=lambda r: order.get(r.locator, 0))
    lines = [n if k == 1 else f"{n} (×{k})" for n, k in notes.items()]
    return Batch(source, kind, len(chunk), tables, rejects, lines)
