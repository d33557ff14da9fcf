"""Turn source cells (strings) into canonical values: the one date parser, number parser and
local-value mapper. Each works on a whole column and returns the values plus a mask of the
cells that could not be converted, so the caller can reject exactly those records.
"""

from __future__ import annotations

import pandas as pd

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
