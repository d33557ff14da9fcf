"""The cells of a slice as one Arrow text array, and the rows of a canonical table as index
arrays into it: a column of canonical rows is one ``take``, whatever the layout (one row per
record, or a wide record spread over repeated groups). Kept apart from the conversion rules
(table.py) because this is the machinery of the columns, not what they mean.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from hutong.adapters.cells import split_cells, stripped
from hutong.adapters.profile import Group
from hutong.adapters.raw import SEP, Slice
from hutong.model import SCHEMAS, Reject

UNDECODED = re.compile("[\udc80-\udcff]")  # bytes the decoder could not read (surrogateescape)


class Errors:
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


class Cells:
    """The cells of a slice as one Arrow text array, row after row (stripped, empty cells
    missing), so that any column of canonical rows is one ``take`` from it.

    Records with too few or too many fields, or with bytes the encoding could not decode,
    are rejected here (first error of a record, as the reader finds them)."""

    def __init__(self, part: Slice, names: list[str], errors: Errors):
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


def _undecodable(cells: list[str], names: list[str], errors: Errors) -> list[str]:
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


def unique(header: list[str]) -> list[str]:
    """Column names made unique as pandas would (``名称``, ``名称.1``): a header may repeat one."""
    seen: dict[str, int] = {}
    out = []
    for name in header:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}.{seen[name] - 1}")
    return out


class Rows:
    """The rows of one canonical table from a slice, as columns, in record order.

    Each (group, instance) of the profile is a *part*; a row is a record of a part (for a
    repeated group, only records with a value in one of its columns). A column is taken from
    the cells when first asked for (one the converter does not touch is taken only for the
    rows kept); ``nan`` says per column which missing cells pandas would hold as NaN rather
    than None (the text a missing-value reject shows), as a mask or for all of them."""

    def __init__(self, cells: Cells, table: str, groups: list[Group], keys: dict[str, str]):
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
            self.columns[name] = gather(self.cells, self.sources[name], self.recs, self.part)
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
                columns[f] = gather(self.cells, self.sources[f], recs, part)
        where = locators.take(pa.array(recs))
        instance = pa.array(self.inst, type=pa.string()).take(pa.array(part))
        joined = pc.binary_join_element_wise(where, instance, "/")
        columns["source"] = pa.repeat(pa.scalar(source, pa.string()), len(where))
        columns["locator"] = pc.coalesce(joined, where) if len(where) else where
        columns["vendor"] = pa.repeat(pa.scalar(vendor, pa.string()), len(where))
        return columns


def gather(cells: Cells, per: list, recs: np.ndarray, part: np.ndarray):
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
