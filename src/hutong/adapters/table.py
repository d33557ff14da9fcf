"""Table adapter: CSV/TSV/XLSX exports of a HIS → canonical rows, steered by a vendor profile.

One generic engine for every table dialect: the profile says which file is which, which
column is which field, how dates look and what local values mean. A record that cannot be
converted (bad date, unknown code, missing id, truncated row, undecodable bytes) is rejected
with its file, row, field and reason; all other records of the file go on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import partial
from itertools import islice
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from hutong.adapters.batch import Batch
from hutong.adapters.cells import (
    code_values,
    date_days,
    datetime_seconds,
    number_values,
    split_cells,
    stripped,
)
from hutong.adapters.profile import FileKind, Group, Profile
from hutong.adapters.raw import SEP, RawTable, Slice, read_raw, retry_encodings
from hutong.model import SCHEMAS, Reject
from hutong.parallel import ordered_map
from hutong.terminologies.valuesets import valuesets

KEY_FIELDS = ("mdtrt_id", "patient_id")
NAT = np.iinfo(np.int64).min  # NaT as int64
UNDECODED = re.compile("[\udc80-\udcff]")  # bytes the decoder could not read (surrogateescape)


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


def _slices(raw: RawTable, size: int) -> Iterator[Slice]:
    """Records in slices of ``size`` (the file's notes reported with the first)."""
    stream = raw.iter_records(SEP)
    notes = list(raw.notes)
    width = len(raw.header)
    while chunk := list(islice(stream, size)):
        yield Slice.of([r for r, _ in chunk], width, [loc for _, loc in chunk], notes)
        notes = []


def _convert_slice(
    source: str, header: list[str], kind: FileKind, profile: Profile, conformed: bool, part: Slice
) -> Batch:
    return _convert(source, header, part, kind, profile, conformed)


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


def _convert(
    source: str, header: list[str], part: Slice, kind: FileKind, profile: Profile, conformed: bool
) -> Batch:
    locators = part.locators
    errors = _Errors(source, locators)
    names = _unique(header)
    cells = _Cells(part, names, errors)
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
            tables[table] = _typed(table, _Rows(cells, table, mine, keys), profile, groups, errors)

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


def _absent(values: pa.Array | np.ndarray) -> np.ndarray:
    """Mask of the missing cells of a column (null, NaN or NaT)."""
    if isinstance(values, pa.Array):
        return values.is_null().to_numpy(zero_copy_only=False)
    return pd.isna(values)


class _Cells:
    """The cells of a slice as one Arrow text array, row after row (stripped, empty cells
    missing), so that any column of canonical rows is one ``take`` from it.

    Records with too few or too many fields, or with bytes the encoding could not decode,
    are rejected here (first error of a record, as the reader finds them)."""

    def __init__(self, part: Slice, names: list[str], errors: _Errors):
        width, n = part.width, len(part.lengths)
        self.n, self.width = n, width
        self.position = {name: j for j, name in enumerate(names)}
        lengths = np.array(part.lengths, dtype=np.int64)
        for rec in np.flatnonzero(lengths < width):
            errors.reject(
                int(rec), "truncated", "-", lengths[rec],
                f"truncated record / 记录不完整: header has {width} fields, found",
            )  # fmt: skip
        for rec in np.flatnonzero(lengths > width):
            errors.reject(
                int(rec), "bad_row", "-", lengths[rec],
                f"more fields than the header ({width}) / 字段数多于表头",
            )  # fmt: skip
        cells = part.cells
        if cells is None and (b"\xed\xb2" in part.text or b"\xed\xb3" in part.text):
            cells = part.text.decode("utf-8", "surrogatepass").split(SEP)  # undecoded bytes
        if n * width == 0:
            flat = pa.array([], type=pa.string())
        elif cells is None:
            flat = split_cells(part.text, n * width, SEP)
        else:
            if any(UNDECODED.search(c) for c in cells):
                cells = _undecodable(cells, names, errors)
            flat = pa.array(cells, type=pa.string())
        self.flat, valid = stripped(flat)
        self.valid = valid.reshape(n, width).T
        self.constants: dict[str, int] = {}
        self._pool: pa.Array | None = None

    def constant(self, text: str) -> int:
        """Where a profile's constant (``set``) is in :meth:`pool`."""
        if text not in self.constants:
            self.constants[text] = len(self.flat) + len(self.constants)
            self._pool = None
        return self.constants[text]

    def pool(self) -> pa.Array:
        """The cells followed by the constants (built again only when one is added)."""
        if self._pool is None:
            texts = pa.array(list(self.constants), type=pa.string())
            self._pool = pa.concat_arrays([self.flat, texts]) if self.constants else self.flat
        return self._pool


def _undecodable(cells: list[str], names: list[str], errors: _Errors) -> list[str]:
    """Reject records holding bytes the file's encoding could not decode, naming the first
    such column; those cells are blanked (the records are gone either way)."""
    width = len(names)
    out = list(cells)
    for at, cell in enumerate(cells):
        if UNDECODED.search(cell):
            errors.reject(
                at // width, "encoding", names[at % width], None, "bytes not decodable / 无法解码"
            )
            out[at] = "?"
    return out


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


class _Rows:
    """The rows of one canonical table from a slice, as columns, in record order.

    Each (group, instance) of the profile is a *part*; a row is a record of a part (for a
    repeated group, only records with a value in one of its columns). A column is taken from
    the cells when first asked for (one the converter does not touch is taken only for the
    rows kept); ``nan`` says per column which missing cells pandas would hold as NaN rather
    than None (the text a missing-value reject shows), as a mask or for all of them."""

    def __init__(self, cells: _Cells, table: str, groups: list[Group], keys: dict[str, str]):
        schema = SCHEMAS[table]
        self.cells = cells
        self.parts: list[dict[str, str]] = []  # per part: field -> source column (labels)
        self.inst: list[str | None] = []
        sources: dict[str, list] = {}  # field -> per part: column, constant text, or None
        recs, part_of = [], []
        for group in groups:
            for n in group.instances():
                cols = {f: Group.fill(c, n) for f, c in group.columns.items()}
                mine = {f: ("col", c) if c in cells.position else None for f, c in cols.items()}
                if group.repeat is None:
                    chosen = np.arange(cells.n)
                else:
                    there = [cells.position[c] for c in cols.values() if c in cells.position]
                    chosen = np.flatnonzero(cells.valid[there].any(axis=0))
                for k, col in keys.items():
                    if k in schema.names and k not in mine and col in cells.position:
                        mine[k] = ("col", col)
                for f, v in group.set.items():
                    mine[f] = ("set", Group.fill(v, n))
                for f in mine:
                    sources.setdefault(f, ["absent"] * len(self.parts))
                for f, per in sources.items():
                    per.append(mine.get(f, "absent"))
                recs.append(chosen)
                part_of.append(np.full(len(chosen), len(self.parts)))
                self.parts.append(cols)
                self.inst.append(n)
        flat_recs = np.concatenate(recs) if recs else np.zeros(0, np.int64)
        order = np.argsort(flat_recs, kind="stable")  # by record, then group and instance
        self.recs = flat_recs[order]
        self.part = np.concatenate(part_of)[order] if part_of else np.zeros(0, np.int64)
        self.sources = sources
        self.names = list(sources)  # the columns, in the order pandas would hold them
        self.columns: dict[str, pa.Array | np.ndarray] = {}
        self.nan: dict[str, object] = {}
        for f, per in sources.items():
            absent = np.array([p == "absent" for p in per], dtype=bool)
            self.nan[f] = absent[self.part] if absent.any() else None

    def get(self, name: str) -> pa.Array | np.ndarray:
        if name not in self.columns:
            self.columns[name] = _gather(self.cells, self.sources[name], self.recs, self.part)
        return self.columns[name]

    def set(self, name: str, values: pa.Array | np.ndarray) -> None:
        if name not in self.names:
            self.names.append(name)
        self.columns[name] = values

    def alias(self, name: str, of: str) -> None:
        """``name`` holds what ``of`` holds now (a local value kept beside its code)."""
        if of in self.columns:
            self.set(name, self.columns[of])
        else:
            if name not in self.names:
                self.names.append(name)
            self.columns.pop(name, None)
            self.sources[name] = self.sources[of]
        self.nan[name] = self.nan[of]

    def label(self, i: int, name: str) -> str:
        """The label of ``name`` in row ``i``: its source column (``入院时间 (adm_time)``)."""
        return f"{self.parts[self.part[i]].get(name, name)} ({name})"

    def missing_text(self, name: str, i: int) -> object:
        nan = self.nan[name]
        if isinstance(nan, np.ndarray):
            return float("nan") if nan[i] else None
        return nan

    def kept(
        self, rejected: np.ndarray, source: str, locators: pa.Array, vendor: str
    ) -> dict[str, pa.Array | np.ndarray]:
        """The columns of the rows of records not rejected, with their provenance; a row of
        a repeated group is located by its instance (``file.csv:17/3``)."""
        mask = ~np.isin(self.recs, rejected)
        recs, part = self.recs[mask], self.part[mask]
        keep = pa.array(mask)
        columns = {}
        for f in self.names:
            if f in self.columns:
                v = self.columns[f]
                columns[f] = v.filter(keep) if isinstance(v, pa.Array) else v[mask]
            else:
                columns[f] = _gather(self.cells, self.sources[f], recs, part)
        where = locators.take(pa.array(recs))
        instance = pa.array(self.inst, type=pa.string()).take(pa.array(part))
        joined = pc.binary_join_element_wise(where, instance, "/")
        columns["source"] = pa.repeat(pa.scalar(source, pa.string()), len(where))
        columns["locator"] = pc.coalesce(joined, where) if len(where) else where
        columns["vendor"] = pa.repeat(pa.scalar(vendor, pa.string()), len(where))
        return columns


def _gather(cells: _Cells, per: list, recs: np.ndarray, part: np.ndarray):
    """One column of the rows: each part's source (a column of the file, a constant, nothing,
    or absent from the part) taken for the rows of that part."""
    base = np.full(len(per), -1, dtype=np.int64)
    stride = np.zeros(len(per), dtype=np.int64)
    for k, p in enumerate(per):
        if isinstance(p, tuple) and p[0] == "col":
            base[k], stride[k] = cells.position[p[1]], cells.width
        elif isinstance(p, tuple):
            base[k] = cells.constant(p[1])
    index = base[part] + stride[part] * recs
    return cells.pool().take(pa.array(index, mask=index < 0))


def _typed(
    table: str, rows: _Rows, profile: Profile, groups: list[Group], errors: _Errors
) -> _Rows:
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
