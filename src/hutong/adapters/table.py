"""Table adapter: CSV/TSV/XLSX exports of a HIS → canonical rows, steered by a vendor profile.

One generic engine for every table dialect: the profile says which file is which, which
column is which field, how dates look and what local values mean. A record that cannot be
converted (bad date, unknown code, missing id, truncated row, undecodable bytes) is rejected
with its file, row, field and reason; all other records of the file go on.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from hutong.adapters.batch import Batch, Spilled
from hutong.adapters.cells import (
    code_values,
    date_days,
    datetime_seconds,
    number_values,
)
from hutong.adapters.profile import FileKind, Group, Profile
from hutong.adapters.raw import RawTable, Slice, read_raw, retry_encodings
from hutong.adapters.table_chunks import Chunk, parts
from hutong.adapters.table_columns import Cells, Errors, Rows, unique
from hutong.model import SCHEMAS
from hutong.parallel import ordered_map
from hutong.terminologies.valuesets import valuesets

KEY_FIELDS = ("mdtrt_id", "patient_id")
NAT = np.iinfo(np.int64).min  # NaT as int64


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
    spilled: bool = False,
) -> Iterator[Batch]:
    """Convert an opened file in slices of ``batch_size`` records.

    With ``workers`` > 1 the slices are converted in that many forked processes while this one
    reads ahead (a few slices at most); batches come back in file order, so the output is the
    same for any number of workers. ``conformed`` gives the tables as canonical Arrow tables
    (cast where they are converted: Arrow crosses processes far cheaper than pandas objects);
    ``spilled``, as :class:`~hutong.adapters.batch.Spilled` streams of those, for the run's
    spill (serialized in the worker: cheaper still)."""
    source = raw.path.as_posix()
    convert = partial(_convert_part, source, raw.header, kind, profile, conformed or spilled,
                      spilled)  # fmt: skip
    first = True
    for batch, undecoded in ordered_map(convert, parts(raw, batch_size), workers):
        raw.bad_bytes += undecoded  # of a chunk the worker decoded
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


def _convert_part(
    source: str,
    header: list[str],
    kind: FileKind,
    profile: Profile,
    conformed: bool,
    spilled: bool,
    part: Slice | Chunk,
) -> tuple[Batch, int]:
    """A batch of a slice, or of a chunk of bytes split here (in a worker), with the chunk's
    undecodable bytes for the file's note."""
    undecoded = 0
    if isinstance(part, Chunk):
        part, undecoded = part.slice()
    batch = _convert(source, header, part, kind, profile, conformed)
    if spilled:
        batch.tables = {t: Spilled.of(data, SCHEMAS[t]) for t, data in batch.tables.items()}
    return batch, undecoded


def _convert(
    source: str, header: list[str], part: Slice, kind: FileKind, profile: Profile, conformed: bool
) -> Batch:
    locators = part.locators
    errors = Errors(source, locators)
    names = unique(header)
    cells = Cells(part, names, errors)
    fields = {c: f for _, g in profile.groups_for(kind.name) for f, c in g.columns.items()}
    for col in kind.required:
        label = f"{col} ({fields[col]})" if col in fields else col
        for rec in np.flatnonzero(~cells.valid[cells.position[col]]):
            errors.reject(
                int(rec), "missing_value", label, None, "required value missing / 必填值缺失"
            )

    keys = _record_keys(profile, kind)
    for _, group in profile.groups_for(kind.name):  # every constant first: one pool
        for n in group.instances():
            for v in group.set.values():
                cells.constant(Group.fill(v, n))
    tables = {}
    for table, groups in profile.tables.items():
        mine = [g for t, g in profile.groups_for(kind.name) if t == table]
        if mine:
            tables[table] = _typed(table, Rows(cells, table, mine, keys), profile, groups, errors)

    rejected = np.fromiter(errors.by_record, dtype=np.int64, count=len(errors.by_record))
    where = pa.array(locators, type=pa.string())
    out = {
        table: _canonical(table, rows.kept(rejected, source, where, profile.name), conformed)
        for table, rows in tables.items()
    }
    if conformed:
        out = {table: data for table, data in out.items() if data.num_rows}
    rejects = [errors.by_record[r] for r in sorted(errors.by_record)]
    return Batch(source, kind.name, len(locators), out, rejects, part.notes)


def _canonical(table: str, columns: dict[str, pa.Array], conformed: bool):
    """Canonical rows: an Arrow table of the schema (as :func:`conform` makes it), or a frame
    of the columns the profile filled."""
    schema = SCHEMAS[table]
    rows = len(columns["locator"])
    arrays = [
        _cast(columns[f.name], f.type) if f.name in columns else pa.nulls(rows, type=f.type)
        for f in schema
    ]
    data = pa.table(arrays, schema=schema)
    if conformed:
        return data
    return data.select([f for f in columns if f in schema.names]).to_pandas()


def _cast(values: pa.Array | np.ndarray, to: pa.DataType) -> pa.Array:
    """A column as its canonical type: numbers and times from NumPy as :func:`conform` casts
    them (NaN and NaT are missing)."""
    if isinstance(values, np.ndarray):
        return pa.array(values, type=to, from_pandas=True)
    return values if values.type == to else pc.cast(values, to)


def _not_whole(numbers: np.ndarray, to: pa.DataType) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the numbers an integer column cannot hold: fractions (``1.5``, ``inf``) and
    whole numbers out of its range; Arrow would refuse the cast of the whole slice."""
    given = ~np.isnan(numbers)
    with np.errstate(invalid="ignore"):
        fraction = given & ~(np.isfinite(numbers) & (np.floor(numbers) == numbers))
    bounds = np.iinfo(to.to_pandas_dtype())
    huge = given & ~fraction & ((numbers < bounds.min) | (numbers > bounds.max))
    return fraction, huge


def _absent(values: pa.Array | np.ndarray) -> np.ndarray:
    """Mask of the missing cells of a column (null, NaN or NaT)."""
    if isinstance(values, pa.Array):
        return values.is_null().to_numpy(zero_copy_only=False)
    return pd.isna(values)


def _record_keys(profile: Profile, kind: FileKind) -> dict[str, str]:
    """Source columns of the record-level keys, for child rows of wide layouts."""
    keys = {}
    for _, group in profile.groups_for(kind.name):
        if group.repeat is None:
            for k in KEY_FIELDS:
                if k in group.columns and k not in keys:
                    keys[k] = group.columns[k]
    return keys


def _typed(table: str, rows: Rows, profile: Profile, groups: list[Group], errors: Errors) -> Rows:
    """Parse dates and numbers, map local values to national codes; flag bad cells."""
    schema = SCHEMAS[table]
    recs = rows.recs

    def reject(bad: np.ndarray, reason: str, name: str, cells: pa.Array, message: str) -> None:
        for i in np.flatnonzero(bad):
            errors.reject(int(recs[i]), reason, rows.label(i, name), cells[i].as_py(), message)

    if "seq" in schema.names and "seq" not in rows.names:
        starts = np.r_[True, recs[1:] != recs[:-1]] if len(recs) else np.zeros(0, bool)
        first = np.maximum.accumulate(np.where(starts, np.arange(len(recs)), 0))
        rows.set("seq", np.arange(len(recs)) - first + 1)
        rows.nan["seq"] = None
    for f in schema:
        if f.name not in rows.names or f.name in KEY_FIELDS:
            continue
        if pa.types.is_string(f.type):
            if f"{f.name}_local" in schema.names:
                rows.alias(f"{f.name}_local", f.name)
            table_ = profile.values.get(f.name, {})
            if not table_ and valuesets().get(f.name) is None:
                continue  # text as it is (taken from the cells for the kept rows only)
            cells = rows.get(f.name)
            codes, bad = code_values(cells, f.name, table_)
            rows.set(f.name, codes)
            rows.nan[f.name] = float("nan")
            reject(bad, "unknown_code", f.name, cells, "unknown code / 未知代码")
            continue
        cells = rows.get(f.name)
        if pa.types.is_timestamp(f.type):
            seconds, bad = datetime_seconds(cells, profile.datetime_formats)
            seconds[_absent(cells) | bad] = NAT
            rows.set(f.name, seconds.view("datetime64[s]"))
            rows.nan[f.name] = pd.NaT
            reject(bad, "bad_datetime", f.name, cells, "malformed date/time / 日期时间格式错误")
        elif pa.types.is_date(f.type):
            days, bad = date_days(cells, profile.date_formats)
            rows.set(
                f.name, pa.array(days.astype(np.int32), type=f.type, mask=_absent(cells) | bad)
            )
            rows.nan[f.name] = None
            reject(bad, "bad_datetime", f.name, cells, "malformed date / 日期格式错误")
        elif pa.types.is_integer(f.type) or pa.types.is_floating(f.type):
            if not isinstance(cells, pa.Array) or cells.null_count == len(cells):
                nan = rows.nan[f.name]  # no text to parse: pandas leaves the cells as they are
                if isinstance(nan, np.ndarray):
                    rows.nan[f.name] = float("nan") if nan.any() else None
                continue
            numbers, bad = number_values(cells)
            rows.set(f.name, numbers)
            rows.nan[f.name] = float("nan")
            reject(bad, "bad_number", f.name, cells, "malformed number / 数值格式错误")
            if pa.types.is_integer(f.type):
                fraction, huge = _not_whole(numbers, f.type)
                reject(fraction, "bad_number", f.name, cells, "not a whole number / 应为整数")
                reject(huge, "bad_number", f.name, cells, "number out of range / 数值超出范围")
    # Identifiers the schema cannot do without (an encounter's mdtrt_id; not a lab result's,
    # whose visit may be unknown), and the fields the profile marks required.
    ids = {
        f.name for f in schema if not f.nullable and f.name not in ("source", "locator", "vendor")
    }
    required = ids | {f for g in groups for f in g.required}
    for name in sorted(required & set(rows.names)):
        for i in np.flatnonzero(_absent(rows.get(name))):
            errors.reject(
                int(recs[i]), "missing_value", rows.label(i, name), rows.missing_text(name, i),
                "required value missing / 必填值缺失",
            )  # fmt: skip
    return rows
