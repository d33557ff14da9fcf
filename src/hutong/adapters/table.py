"""Table adapter: CSV/TSV/XLSX exports of a HIS → canonical rows, steered by a vendor profile.

One generic engine for every table dialect: the profile says which file is which, which
column is which field, how dates look and what local values mean. A record that cannot be
converted (bad date, unknown code, missing id, truncated row, undecodable bytes) is rejected
with its file, row, field and reason; all other records of the file go on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import partial
from itertools import islice
from pathlib import Path

import pandas as pd
import pyarrow as pa

from hutong.adapters.batch import Batch
from hutong.adapters.cells import map_values, parse_dates, parse_datetimes, parse_numbers
from hutong.adapters.profile import FileKind, Group, Profile
from hutong.adapters.raw import RawTable, read_raw, retry_encodings
from hutong.model import SCHEMAS, Reject, conform
from hutong.parallel import ordered_map

KEY_FIELDS = ("mdtrt_id", "patient_id")
UNDECODED = re.compile("[\udc80-\udcff]")  # bytes the decoder could not read (surrogateescape)
NUMBERS = {"integer", "floating", "mixed-integer-float", "boolean", "empty"}


class ProfileMismatch(ValueError):
    """The profile does not describe this file: raised before any record is converted."""


def open_table(path: Path, profile: Profile) -> tuple[RawTable, FileKind]:
    """Read ``path`` and find its file kind; raise :class:`ProfileMismatch` when none fits."""
    raw = read_raw(path, profile.encoding)
    if not raw.header and raw.empty:
        kind = profile.kind_of(path)
        if kind is None:
            raise ProfileMismatch(_mismatch(path, profile, raw.header))
        return raw, kind
    for candidate in [raw, *retry_encodings(raw)]:
        kind = profile.kind_of(path, candidate.header)
        if kind is not None and not _missing(kind, candidate.header):
            return candidate, kind
    kind = profile.kind_of(path, raw.header)
    raise ProfileMismatch(_mismatch(path, profile, raw.header, kind))


def _missing(kind: FileKind, header: list[str]) -> list[str]:
    return [c for c in kind.required if c not in header]


def _mismatch(path: Path, profile: Profile, header: list[str], kind: FileKind | None = None) -> str:
    found = ", ".join(header[:40]) or "(no header)"
    if kind is not None:
        missing = ", ".join(_missing(kind, header))
        return (
            f"{path}: profile {profile.name} file kind '{kind.name}' expects columns missing from "
            f"the file: {missing} / 缺少必需列; found: {found}"
        )
    kinds = "; ".join(
        f"{k.name}: name {' | '.join(k.match) or '-'} or header {', '.join(k.header) or '-'}"
        for k in profile.files.values()
    )
    return (
        f"{path}: matches no file kind of profile {profile.name} / 文件与配置不符 "
        f"(expected {kinds}); found columns: {found}"
    )


def read_table(path: Path, profile: Profile, batch_size: int = 50_000) -> Iterator[Batch]:
    """Yield batches of canonical rows from one table file."""
    raw, kind = open_table(path, profile)
    yield from batches(raw, kind, profile, batch_size)


def batches(
    raw: RawTable,
    kind: FileKind,
    profile: Profile,
    batch_size: int = 50_000,
    workers: int = 1,
    conformed: bool = False,
) -> Iterator[Batch]:
    """Convert an opened file in slices of ``batch_size`` records.

    With ``workers`` > 1 the slices are converted in that many forked processes while this one
    reads ahead (a few slices at most); batches come back in file order, so the output is the
    same for any number of workers. ``conformed`` gives the tables as canonical Arrow tables
    (cast where they are converted: Arrow crosses processes far cheaper than pandas objects)."""
    source = raw.path.as_posix()
    convert = partial(_convert_slice, source, raw.header, kind, profile, conformed)
    first = True
    for batch in ordered_map(convert, _slices(raw, batch_size), workers):
        first = False
        yield batch
    if first:
        note = (
            "no records, header only / 只有表头，无数据记录"
            if raw.header
            else "empty file / 空文件"
        )
        yield Batch(source, kind.name, 0, {}, [], [*raw.notes, note])
    elif raw.tail_notes():
        yield Batch(source, kind.name, 0, {}, [], raw.tail_notes())


def _slices(raw: RawTable, size: int) -> Iterator[tuple[list[list[str]], list[str], list[str]]]:
    """Rows, their locators and the notes to report (the file's, on the first slice)."""
    stream = raw.iter_rows()
    notes = list(raw.notes)
    while chunk := list(islice(stream, size)):
        yield [row for row, _ in chunk], [locator for _, locator in chunk], notes
        notes = []


def _convert_slice(
    source: str,
    header: list[str],
    kind: FileKind,
    profile: Profile,
    conformed: bool,
    part: tuple[list[list[str]], list[str], list[str]],
) -> Batch:
    rows, locators, notes = part
    batch = _convert(source, header, rows, locators, kind, profile, notes)
    if conformed:
        batch.tables = {t: conform(t, f) for t, f in batch.tables.items() if not f.empty}
    return batch


class _Errors:
    """First error of each record (later ones on the same record add nothing for users)."""

    def __init__(self, source: str, locators: list[str]):
        self.source = source
        self.locators = locators
        self.by_record: dict[int, Reject] = {}

    def reject(self, rec: int, reason: str, label: str, value: object, message: str) -> None:
        if rec in self.by_record:
            return
        text = None if value is None or value is pd.NA else str(value)
        self.by_record[rec] = Reject(
            self.source,
            self.locators[rec],
            reason,
            message if text is None else f"{message}: {text!r}",
            field=label,
            value=text,
        )

    def column(self, mask: pd.Series, reason: str, label: str, message: str, values=None) -> None:
        for rec in mask[mask].index:
            self.reject(int(rec), reason, label, None if values is None else values[rec], message)

    def cells(
        self,
        recs: pd.Series,
        bad: pd.Series,
        reason: str,
        label: Callable[[int], str],
        cells: pd.Series,
        message: str,
    ) -> None:
        """Reject the records of the ``bad`` cells; ``label`` names a row's source column (built
        for the bad rows only: a label per cell would cost more than the conversion)."""
        for i in bad[bad].index:
            self.reject(int(recs[i]), reason, label(i), cells[i], message)


def _convert(
    source: str,
    header: list[str],
    rows: list[list[str]],
    locators: list[str],
    kind: FileKind,
    profile: Profile,
    notes: list[str],
) -> Batch:
    errors = _Errors(source, locators)
    width = len(header)
    lengths = pd.Series([len(r) for r in rows])
    short, long_ = lengths < width, lengths > width
    errors.column(
        short,
        "truncated",
        "-",
        f"truncated record / 记录不完整: header has {width} fields, found",
        lengths,
    )
    errors.column(
        long_, "bad_row", "-", f"more fields than the header ({width}) / 字段数多于表头", lengths
    )
    pad = [""] * width
    cells = [
        [c.strip() or None for c in (r if len(r) == width else (r + pad)[:width])] for r in rows
    ]
    names = _unique(header)
    frame = pd.DataFrame(cells, columns=names, dtype="object")
    _undecodable(rows, cells, names, errors)
    fields = {c: f for _, g in profile.groups_for(kind.name) for f, c in g.columns.items()}
    for col in kind.required:
        label = f"{col} ({fields[col]})" if col in fields else col
        errors.column(
            frame[col].isna(), "missing_value", label, "required value missing / 必填值缺失"
        )

    keys = _record_keys(profile, kind)
    tables = {}
    for table, groups in profile.tables.items():
        parts = [
            _group_rows(frame, table, g, gi, keys)
            for gi, (t, g) in enumerate(profile.groups_for(kind.name))
            if t == table
        ]
        if not parts:
            continue
        rows_t = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        rows_t = rows_t.sort_values(["__rec", "__group", "__inst"], kind="mergesort")
        tables[table] = _typed(table, rows_t, profile, groups, errors)

    rejected = set(errors.by_record)
    out = {}
    for table, rows_t in tables.items():
        keep = ~rows_t["__rec"].isin(rejected)
        rows_t = rows_t[keep].copy()
        rows_t["source"] = source
        rows_t["locator"] = [
            locators[r] if inst is None else f"{locators[r]}/{inst}"
            for r, inst in zip(rows_t["__rec"], rows_t["__inst_key"], strict=True)
        ]
        rows_t["vendor"] = profile.name
        out[table] = rows_t.drop(columns=[c for c in rows_t.columns if c.startswith("__")])
    rejects = [errors.by_record[r] for r in sorted(errors.by_record)]
    return Batch(source, kind.name, len(rows), out, rejects, notes)


def _undecodable(
    rows: list[list[str]], cells: list[list[str | None]], names: list[str], errors: _Errors
) -> None:
    """Reject records holding bytes the file's encoding could not decode, naming the first
    such column. One search per record (most are clean), then a look at the flagged ones."""
    for rec, row in enumerate(rows):
        joined = "".join(row)
        if joined.isascii() or not UNDECODED.search(joined):
            continue
        for name, cell in zip(names, cells[rec], strict=True):
            if cell is not None and UNDECODED.search(cell):
                errors.reject(rec, "encoding", name, None, "bytes not decodable / 无法解码")
                break


def _unique(header: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in header:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}.{seen[name] - 1}")
    return out


def _record_keys(profile: Profile, kind: FileKind) -> dict[str, str]:
    """Source columns of the record-level keys, for child rows of wide layouts."""
    keys = {}
    for _, group in profile.groups_for(kind.name):
        if group.repeat is None:
            for k in KEY_FIELDS:
                if k in group.columns and k not in keys:
                    keys[k] = group.columns[k]
    return keys


def _group_rows(
    frame: pd.DataFrame, table: str, group: Group, gi: int, keys: dict[str, str]
) -> pd.DataFrame:
    parts = []
    for ii, n in enumerate(group.instances()):
        cols = {f: Group.fill(c, n) for f, c in group.columns.items()}
        sub = pd.DataFrame(
            {f: frame[c] if c in frame.columns else None for f, c in cols.items()},
            index=frame.index,
        )
        if group.repeat is not None:
            sub = sub[sub.notna().any(axis=1)]
        for k, col in keys.items():
            if k in SCHEMAS[table].names and k not in sub.columns and col in frame.columns:
                sub[k] = frame.loc[sub.index, col]
        for f, v in group.set.items():
            sub[f] = Group.fill(v, n)
        sub["__rec"] = sub.index
        sub["__group"] = gi
        sub["__inst"] = ii
        sub["__inst_key"] = n
        sub["__cols"] = [cols] * len(sub)
        parts.append(sub)
    return (
        pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0].reset_index(drop=True)
    )


def _typed(
    table: str, rows: pd.DataFrame, profile: Profile, groups: list[Group], errors: _Errors
) -> pd.DataFrame:
    """Parse dates and numbers, map local values to national codes; flag bad cells."""
    schema = SCHEMAS[table]
    recs = rows["__rec"]
    if "seq" in schema.names and "seq" not in rows.columns:
        rows["seq"] = rows.groupby("__rec").cumcount() + 1
    for f in schema:
        if f.name not in rows.columns or f.name in KEY_FIELDS:
            continue
        cells = rows[f.name]
        label = _labeller(rows["__cols"], f.name)
        if pa.types.is_timestamp(f.type):
            rows[f.name], bad = parse_datetimes(cells, profile.datetime_formats)
            errors.cells(
                recs, bad, "bad_datetime", label, cells, "malformed date/time / 日期时间格式错误"
            )
        elif pa.types.is_date(f.type):
            rows[f.name], bad = parse_dates(cells, profile.date_formats)
            errors.cells(recs, bad, "bad_datetime", label, cells, "malformed date / 日期格式错误")
        elif pa.types.is_integer(f.type) or pa.types.is_floating(f.type):
            if pd.api.types.infer_dtype(cells, skipna=False) in NUMBERS:
                continue  # already numbers (no text to parse)
            rows[f.name], bad = parse_numbers(cells)
            errors.cells(recs, bad, "bad_number", label, cells, "malformed number / 数值格式错误")
        elif pa.types.is_string(f.type):
            if f"{f.name}_local" in schema.names:
                rows[f"{f.name}_local"] = cells
            rows[f.name], bad = map_values(cells, f.name, profile.values.get(f.name, {}))
            errors.cells(recs, bad, "unknown_code", label, cells, "unknown code / 未知代码")
    # Identifiers the schema cannot do without (an encounter's mdtrt_id; not a lab result's,
    # whose visit may be unknown), and the fields the profile marks required.
    ids = {
        f.name for f in schema if not f.nullable and f.name not in ("source", "locator", "vendor")
    }
    required = ids | {f for g in groups for f in g.required}
    for name in sorted(required & set(rows.columns)):
        label = _labeller(rows["__cols"], name)
        missing = rows[name].isna()
        errors.cells(
            recs, missing, "missing_value", label, rows[name], "required value missing / 必填值缺失"
        )
    return rows


def _labeller(cols: pd.Series, name: str) -> Callable[[int], str]:
    """The label of ``name`` in a row: its source column (``入院时间 (adm_time)``)."""
    return lambda i: f"{cols[i].get(name, name)} ({name})"
