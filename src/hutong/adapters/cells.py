"""Turn source cells (strings) into canonical values: the one date parser, number parser and
local-value mapper. Each works on a whole column and returns the values plus a mask of the
cells that could not be converted, so the caller can reject exactly those records.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from hutong.terminologies.valuesets import valuesets


def parse_datetimes(cells: pd.Series, formats: tuple[str, ...]) -> tuple[pd.Series, pd.Series]:
    """Parse with each format in turn; returns (timestamps, mask of unparseable cells)."""
    out = pd.Series(pd.NaT, index=cells.index, dtype="datetime64[s]")
    todo = cells.notna()
    for fmt in formats:
        if not todo.any():
            break
        parsed = pd.to_datetime(cells[todo], format=fmt, errors="coerce")
        ok = parsed.notna()
        out.loc[ok[ok].index] = parsed[ok].astype("datetime64[s]")
        todo.loc[ok[ok].index] = False
    return out, todo


def parse_dates(cells: pd.Series, formats: tuple[str, ...]) -> tuple[pd.Series, pd.Series]:
    """Like :func:`parse_datetimes`, keeping the date only (a time part is ignored)."""
    values, bad = parse_datetimes(cells, formats + tuple(f"{f} %H:%M:%S" for f in formats))
    return values.dt.date.where(values.notna(), None), bad


def parse_numbers(cells: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Numbers as float; thousands separators and a trailing unit like ``g`` are refused."""
    values = pd.to_numeric(cells, errors="coerce")
    return values.astype("float64"), cells.notna() & values.isna()


def map_values(cells: pd.Series, field: str, table: dict[str, str]) -> tuple[pd.Series, pd.Series]:
    """Map local values to national codes with the profile's table for ``field``.

    A value that is already a code of the national value set for ``field`` passes as it is;
    any other unknown value is flagged. Fields with neither a table nor a national value set
    pass through unchanged.
    """
    national = valuesets().get(field)
    if not table and national is None:
        return cells, pd.Series(False, index=cells.index)
    mapped = cells.map(table) if table else pd.Series(None, index=cells.index, dtype="object")
    if national is not None:
        keep = mapped.isna() & cells.isin(list(national.codes))
        mapped = mapped.where(~keep, cells)
    bad = cells.notna() & mapped.isna()
    return mapped, bad


# The same conversions on Arrow text columns (the table adapter's): each distinct text is
# parsed once, by the same pandas parsers, so a value converts exactly as above.

NUMBER = r"^[0-9]{1,9}(\.[0-9]{1,6})?$"  # parsed alike by Arrow and pandas (≤ 15 digits)


def datetime_seconds(cells: pa.Array, formats: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Seconds since 1970 (int64) of an Arrow text column, parsed as :func:`parse_datetimes`
    does; returns (seconds, mask of unparseable cells). Missing cells give 0 and no mask."""
    encoded = pc.dictionary_encode(cells)
    texts = encoded.dictionary.to_numpy(zero_copy_only=False)
    seconds = np.zeros(len(texts), dtype=np.int64)
    todo = np.ones(len(texts), dtype=bool)
    for fmt in formats:
        if not todo.any():
            break
        at = np.flatnonzero(todo)
        parsed = pd.to_datetime(pd.Series(texts[at], dtype=object), format=fmt, errors="coerce")
        ok = parsed.notna().to_numpy()
        seconds[at[ok]] = parsed[ok].astype("datetime64[s]").to_numpy().view(np.int64)
        todo[at[ok]] = False
    index = encoded.indices.fill_null(0).to_numpy() if len(texts) else None
    if index is None:
        return np.zeros(len(cells), dtype=np.int64), np.zeros(len(cells), dtype=bool)
    valid = cells.is_valid().to_numpy(zero_copy_only=False)
    return np.where(valid, seconds[index], 0), valid & todo[index]


def date_days(cells: pa.Array, formats: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Days since 1970 of an Arrow text column, parsed as :func:`parse_dates` does."""
    seconds, bad = datetime_seconds(cells, formats + tuple(f"{f} %H:%M:%S" for f in formats))
    return np.floor_divide(seconds, 86_400), bad


def number_values(cells: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """An Arrow text column as float64 (NaN when missing), as :func:`parse_numbers` reads it.
    Plain decimals are cast by Arrow (the same doubles); other text goes through pandas."""
    if pc.all(pc.match_substring_regex(cells, NUMBER)).as_py() is not False:
        values = pc.cast(cells, pa.float64()).to_numpy(zero_copy_only=False)
        return values, np.zeros(len(cells), dtype=bool)
    values, bad = parse_numbers(pd.Series(cells.to_numpy(zero_copy_only=False), dtype=object))
    return values.to_numpy(), bad.to_numpy()


def code_values(cells: pa.Array, field: str, table: dict[str, str]) -> tuple[pa.Array, np.ndarray]:
    """:func:`map_values` on an Arrow text column: (codes, mask of unknown values)."""
    national = valuesets().get(field)
    if not table and national is None:
        return cells, np.zeros(len(cells), dtype=bool)
    if table:
        keys = pa.array(list(table), type=pa.string())
        mapped = pc.take(pa.array(list(table.values()), type=pa.string()), pc.index_in(cells, keys))
    else:
        mapped = pa.nulls(len(cells), type=pa.string())
    if national is not None:
        known = pc.is_in(cells, value_set=pa.array(list(national.codes), type=pa.string()))
        mapped = pc.if_else(pc.and_(pc.is_null(mapped), known), cells, mapped)
    bad = pc.and_(pc.is_valid(cells), pc.is_null(mapped))
    return mapped, bad.to_numpy(zero_copy_only=False)


# Bytes that may begin, and end, a character Python's ``str.strip`` removes (UTF-8).
_ASCII_SPACE = np.zeros(256, dtype=bool)
_ASCII_SPACE[[*range(0x09, 0x0E), *range(0x1C, 0x21)]] = True
_LEAD = _ASCII_SPACE.copy()
_LEAD[[0xC2, 0xE1, 0xE2, 0xE3]] = True


def split_cells(text: bytes, count: int, sep: str) -> pa.Array:
    """The ``count`` cells of a slice's text as an Arrow array, cut at the separators (the
    text is valid UTF-8: Python encoded it)."""
    data = np.frombuffer(text, dtype=np.uint8)
    cut = data == ord(sep)
    seps = np.flatnonzero(cut)
    offsets = np.empty(count + 1, dtype=np.int32)
    offsets[0] = 0
    offsets[1:-1] = seps - np.arange(len(seps))
    offsets[-1] = len(data) - len(seps)
    kept = pa.py_buffer(data[~cut])
    return pa.Array.from_buffers(pa.string(), count, [None, pa.py_buffer(offsets), kept])


def stripped(flat: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """``cell.strip() or None`` for every cell, and the mask of cells left, without a Python
    string per cell: only cells whose first or last bytes may be white space go to Python."""
    if flat.offset:
        flat = pa.concat_arrays([flat])  # buffers from the first cell on
    n = len(flat)
    offsets = np.frombuffer(flat.buffers()[1], dtype=np.int32, count=n + 1)
    data = flat.buffers()[2]
    data = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
    size = np.diff(offsets)
    filled = np.flatnonzero(size > 0)
    first = data[offsets[filled]]
    end = offsets[filled + 1]
    last = data[end - 1]
    prev = np.where(size[filled] >= 2, data[np.maximum(end - 2, 0)], 0)
    prev2 = np.where(size[filled] >= 3, data[np.maximum(end - 3, 0)], 0)
    maybe = (
        _LEAD[first]
        | _ASCII_SPACE[last]
        | ((prev == 0xC2) & ((last == 0x85) | (last == 0xA0)))
        | (np.isin(prev2, (0xE1, 0xE2, 0xE3)) & np.isin(prev, (0x80, 0x81, 0x9A)))
    )
    if maybe.any():
        at = filled[maybe]
        texts = flat.take(pa.array(at)).to_pylist()
        stripped = [t.strip() for t in texts]
        changed = [i for i, (a, b) in enumerate(zip(texts, stripped, strict=True)) if a != b]
        if changed:
            mask = np.zeros(n, dtype=bool)
            mask[at[changed]] = True
            new = pa.array([stripped[i] for i in changed], type=pa.string())
            flat = pa.concat_arrays([pc.replace_with_mask(flat, pa.array(mask), new)])
            size = np.diff(np.frombuffer(flat.buffers()[1], dtype=np.int32, count=n + 1))
    valid = size > 0
    if valid.all():
        return flat, valid
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
    missing = n - int(np.count_nonzero(valid))
    buffers = [bitmap, *flat.buffers()[1:]]
    return pa.Array.from_buffers(pa.string(), n, buffers, null_count=missing), valid
