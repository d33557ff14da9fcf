"""FHIR datatypes built from canonical columns: strings, dateTimes, Codings, References.

Column functions turn a whole pandas column into ready JSON values (``None`` for missing), so
the resource builders only assemble dicts; ``compact`` drops what is missing, because FHIR
forbids empty strings, lists and objects.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Callable, Iterator
from decimal import Decimal
from functools import cache
from importlib import resources

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.types import infer_dtype, is_object_dtype

from hutong.mapping.fhir.systems import hl7
from hutong.terminologies.valuesets import valueset

NUMBERS = (int, float, Decimal)  # kept by compact even when zero
TZ = "Asia/Shanghai"  # canonical timestamps are naive local China time


def text(column: pd.Series) -> pd.Series:
    """Strings stripped of surrounding blanks; missing and blank values become ``None``."""
    arrow = _arrow_strings(column)
    if arrow is not None:
        # Trim and blank in Arrow (the kernel pandas' .str.strip calls on the "string" dtype)
        # and convert once, not through pandas' three passes.
        strings = pc.utf8_trim_whitespace(arrow)
        strings = pc.if_else(pc.equal(strings, ""), None, strings)
        if is_object_dtype(column.dtype) and _same(strings, arrow):
            # Python strings that are clean already (ids and systems made here, values
            # cleaned before a join): keep them, only the missing ones become None
            values = column.to_numpy(dtype=object, copy=True)
            if arrow.null_count:
                values[pc.is_null(arrow).to_numpy(zero_copy_only=False)] = None
            return pd.Series(values, index=column.index, dtype=object)
        return pd.Series(_objects(strings), index=column.index, dtype=object)
    strings = column.astype("string").str.strip()
    strings = strings.where(strings.ne(""))
    return strings.astype(object).where(strings.notna(), None)


def _arrow_strings(column: pd.Series) -> pa.Array | pa.ChunkedArray | None:
    """The column as Arrow strings when it holds only strings and missing values (canonical
    columns, or ids and systems joined on as objects); ``None`` for anything else."""
    dtype = column.dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        return pa.chunked_array(column.array.__arrow_array__())
    only_strings = ("string", "empty")
    if is_object_dtype(dtype) and infer_dtype(column, skipna=True) in only_strings:
        return pa.array(column.to_numpy(), type=pa.string(), from_pandas=True)
    return None


def _same(cleaned: pa.Array | pa.ChunkedArray, strings: pa.Array | pa.ChunkedArray) -> bool:
    """True when cleaning changed no string: none was trimmed, none was blank."""
    if cleaned.null_count != strings.null_count:
        return False
    return pc.all(pc.equal(cleaned, strings)).as_py() is not False  # None: all missing


SAMPLE = 1000  # values looked at to tell a column of repeated values


def _objects(strings: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Arrow strings as an object array of ``str`` and ``None``. Most canonical columns repeat
    a few values (vendor, code, unit, status), so when a sample says so each distinct value is
    made a Python string once and shared by its rows; other columns convert value by value."""
    if isinstance(strings, pa.ChunkedArray):
        strings = strings.combine_chunks()
    if len(strings) > SAMPLE and pc.count_distinct(strings[:SAMPLE]).as_py() < SAMPLE // 4:
        encoded = pc.dictionary_encode(strings)
        values = np.array([*encoded.dictionary.to_pylist(), None], dtype=object)
        return values[encoded.indices.fill_null(len(values) - 1).to_numpy()]
    return strings.to_numpy(zero_copy_only=False)


def integers(column: pd.Series) -> pd.Series:
    """Whole numbers as ``int`` (``None`` when missing), e.g. ``seq`` read as float."""
    numbers = pd.to_numeric(column, errors="coerce").astype("Int64")
    return numbers.astype(object).where(numbers.notna(), None)


def date_times(column: pd.Series) -> pd.Series:
    """FHIR dateTime strings with the China offset, ``2025-03-01T08:30:00+08:00``.

    Localised with the tz database rather than a fixed +08:00 so that times in China's summer
    time years (1986-1991) keep their true offset.
    """
    naive = isinstance(column.dtype, np.dtype) and column.dtype.kind == "M"
    if naive and len(column) > DISTINCT_FROM:
        # A batch's results share their times (a dozen per report): each distinct time is
        # spelled once, as every value's spelling depends on that value alone.
        distinct, where = np.unique(column.to_numpy(), return_inverse=True)
        spelled = _date_times(pd.Series(distinct, dtype=column.dtype)).to_numpy()
        return pd.Series(spelled[where.reshape(-1)].tolist(), index=column.index, dtype=object)
    return _date_times(column)


DISTINCT_FROM = 64  # rows from which date_times spells distinct values only


def _date_times(column: pd.Series) -> pd.Series:
    moments = pd.to_datetime(column, errors="coerce")
    if moments.dt.tz is None:
        standard_time = np.zeros(len(moments), dtype=bool)
        moments = moments.dt.tz_localize(TZ, ambiguous=standard_time, nonexistent="shift_forward")
    else:
        moments = moments.dt.tz_convert(TZ)
    present = moments.notna().to_numpy()
    if not present.any():
        return pd.Series([None] * len(moments), index=column.index, dtype=object)
    # strftime formats element by element in Python; numpy writes the wall times at once and
    # each distinct UTC offset (a handful: +08:00, +09:00 in summer time) is spelled once.
    wall = moments.dt.tz_localize(None).to_numpy()
    offsets = (wall - moments.dt.tz_convert(None).to_numpy()).astype("timedelta64[s]")
    offsets = offsets.astype(np.int64)
    texts = np.datetime_as_string(wall.astype("datetime64[s]"), unit="s").astype(object)
    zones = {}
    for seconds in np.unique(offsets[present]).tolist():
        first = int(np.flatnonzero(present & (offsets == seconds))[0])
        zones[seconds] = _stamp(moments.iloc[first : first + 1]).iloc[0][19:]
    stamped = [
        text + zones[seconds] if ok else None
        for text, seconds, ok in zip(
            texts.tolist(), offsets.tolist(), present.tolist(), strict=True
        )
    ]
    return pd.Series(stamped, index=column.index, dtype=object)


def _stamp(moments: pd.Series) -> pd.Series:
    """The strftime spelling of aware moments (the reference :func:`date_times` follows)."""
    stamped = moments.dt.strftime("%Y-%m-%dT%H:%M:%S%z")
    return stamped.str[:-2] + ":" + stamped.str[-2:]


def dates(column: pd.Series) -> pd.Series:
    """FHIR date strings, ``2025-03-01``."""
    days = pd.to_datetime(column, errors="coerce")
    return days.dt.strftime("%Y-%m-%d").astype(object).where(days.notna(), None)


def per_value(column: pd.Series, make: Callable[[str], str]) -> pd.Series:
    """Apply ``make`` once per distinct value (e.g. a system URI per vendor), not once per row;
    a missing value gives ``None``. The rows take their value by a NumPy gather, not in Python."""
    codes, distinct = pd.factorize(column, use_na_sentinel=True)
    made = np.array([*(make(value) for value in distinct), None], dtype=object)
    return pd.Series(made[codes], index=column.index, dtype=object)  # code -1: the None


def compact(element: dict) -> dict:
    """The element without keys whose value is missing or empty."""
    # Numbers (a rank, 0 days, a 0.0 result) are kept; None, "", [] and {} are falsy and dropped.
    return {k: v for k, v in element.items() if v or (v is not None and isinstance(v, NUMBERS))}


def coding(system: str | None, code: str | None, display: str | None = None) -> dict | None:
    """A Coding, or ``None`` when there is no code."""
    if code is None:
        return None
    return compact({"system": system, "code": code, "display": display})


def concept(codings: list[dict | None], label: str | None = None) -> dict | None:
    """A CodeableConcept of the present codings and text, or ``None`` when both are missing."""
    present = [c for c in codings if c is not None]
    if not present and label is None:
        return None
    return compact({"coding": present, "text": label})


def national(key: str, system: str, code: str | None, label: str | None = None) -> dict | None:
    """A CodeableConcept of a national value set code with its Chinese display."""
    return concept([coding(system, code, valueset(key).display(code))], label)


def reference(resource_type: str, resource_id: str | None) -> dict | None:
    """A literal reference, ``{"reference": "Patient/<id>"}``."""
    return None if resource_id is None else {"reference": f"{resource_type}/{resource_id}"}


def column(frame: pd.DataFrame, name: str) -> pd.Series:
    """A column of the frame, all missing when the frame lacks it (hand-built or older frames)."""
    if name in frame.columns:
        return frame[name]
    return pd.Series([None] * len(frame), index=frame.index, dtype=object)


def texts(frame: pd.DataFrame, *names: str) -> dict[str, list]:
    """The named columns as cleaned Python lists, ready to zip into resources row by row."""
    return {name: text(column(frame, name)).tolist() for name in names}


def rows(columns: dict[str, list]) -> Iterator[dict]:
    """The columns as one dict per row (the only per-row step: assembling the resource)."""
    names = list(columns)
    for values in zip(*columns.values(), strict=True):
        yield dict(zip(names, values, strict=True))


NUMERAL = re.compile(r"\d+(?:\.\d+)?|\.\d+")


def decimal(number: float | None, spelled: str | None = None) -> Decimal | None:
    """A FHIR decimal (``Decimal``, so its precision survives) of a canonical float.

    Canonical numbers are float64, which forgets how a value was written (7.10 and 7.1 are the
    same float). When ``spelled`` (the source text: a result, ``3.50-5.30``) holds a numeral of
    the same value, that spelling is kept: ``decimal(7.1, "7.10")`` is ``Decimal("7.10")``.
    Otherwise a whole number is written without a fraction (``120``) and any other value as
    the shortest decimal that reads back as the same float (``7.1``, never ``7.0999...``).
    """
    if number is None or not math.isfinite(number):
        return None
    if spelled:
        for token in NUMERAL.findall(spelled):
            if float(token) == abs(number):
                found = Decimal(token)
                return found.copy_negate() if number < 0 else found
    if number.is_integer() and abs(number) < 1e15:
        return Decimal(int(number))
    return Decimal(repr(float(number)))


def decimals(numbers: pd.Series, spelled: pd.Series | None = None) -> list[Decimal | None]:
    """Column form of :func:`decimal` (``spelled`` is a text column or ``None``).

    Results and ranges repeat (``3.50-5.30`` on every glucose), so each distinct number and
    spelling is worked out once; a Decimal is immutable, so rows may share it.
    """
    values = pd.to_numeric(numbers, errors="coerce").astype(float).tolist()
    spellings = [None] * len(values) if spelled is None else text(spelled).tolist()
    known: dict[tuple[float, str | None], Decimal | None] = {}
    out: list[Decimal | None] = []
    for v, s in zip(values, spellings, strict=True):
        if v != v:  # NaN: missing
            out.append(None)
            continue
        key = (v, s)  # 0.0 and -0.0 are one key: decimal() gives both Decimal("0")
        if key not in known:
            known[key] = decimal(v, s)
        out.append(known[key])
    return out


@cache
def _ucum_table() -> dict[str, str]:
    data = resources.files("hutong.mapping.fhir").joinpath("units.toml").read_text("utf-8")
    return tomllib.loads(data)["ucum"]


def ucum(unit: str | None) -> str | None:
    """The UCUM code of a unit as a source writes it (``mmol/L``, ``×10^9/L``, ``μmol/l``,
    ``毫克``), from ``units.toml``; ``None`` for a unit not listed there."""
    if unit is None:
        return None
    key = re.sub(r"\s+", "", unit).replace("μ", "u").replace("µ", "u").lower()
    return _ucum_table().get(key)


def quantity(value: Decimal | None, unit: str | None, comparator: str | None = None) -> dict | None:
    """A Quantity: the unit as written, plus the UCUM system and code when the unit is known."""
    if value is None:
        return None
    code = ucum(unit)
    return compact(
        {
            "value": value,
            "comparator": comparator,
            "unit": unit,
            "system": hl7("ucum") if code else None,
            "code": code,
        }
    )


def status(value: str | None, allowed: frozenset[str], default: str) -> str:
    """A FHIR status code: ``default`` when missing, ``unknown`` when not in the value set
    (every request and event status value set has ``unknown``; a wrong code would not
    validate)."""
    if value is None:
        return default
    code = value.strip().lower()
    return code if code in allowed else "unknown"
