"""Check kinds on fields and cases: required values, value sets, ranges, dates, fees, ID numbers.

Each function takes ``(sheet, rule)`` and returns the failing rows (see :mod:`.kinds`). The
``fields`` of a rule say which columns a kind reads; where their order matters the docstring
says so. Checks on coded diagnoses live in :mod:`.coding`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from hutong.model import is_in
from hutong.quality.kinds import (
    REQUIRED,
    applies,
    blank,
    case_sums,
    cases,
    found,
    kind,
    lookup,
    money,
    nothing,
    number,
    row_counts,
    shared,
    texts,
    truth,
    unique_cases,
)
from hutong.terminologies.valuesets import valueset, valuesets

if TYPE_CHECKING:
    from hutong.mapping.facesheet import FaceSheet
    from hutong.quality.pack import Rule


def arity(n: int, also: Callable[[Rule], None] | None = None) -> Callable[[Rule], None]:
    """A validator requiring exactly ``n`` fields (then running ``also``)."""

    def validate(rule: Rule) -> None:
        if len(rule.fields) != n:
            raise ValueError(f"kind {rule.kind!r} takes {n} field(s), got {len(rule.fields)}")
        if also:
            also(rule)

    return validate


def _concat(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else nothing()


@kind("required")
def required(sheet: FaceSheet, rule: Rule) -> pd.DataFrame:
    """One finding per empty field per row: null or blank text ('-' is a filled-in value)."""
    frame = sheet.node(rule.node)
    return _concat([found(frame, blank(frame[f]), f) for f in rule.fields])


@kind("required_if", expressions=("when",), when=REQUIRED)
def required_if(sheet: FaceSheet, rule: Rule) -> pd.DataFrame:
    """Like ``required``, only on rows where the ``when`` expression holds."""
    frame = sheet.node(rule.node)
    when = applies(frame, rule)
    return _concat([found(frame, when & blank(frame[f]), f) for f in rule.fields])


def _valuesets_exist(rule: Rule) -> None:
    for f in rule.fields:
        key = rule.params["valueset"] or f
        if key not in valuesets():
            raise ValueError(f"no value set {key!r}; known: {', '.join(sorted(valuesets()))}")


@kind("in_valueset", validate=_valuesets_exist, valueset=None)
def in_valueset(sheet: FaceSheet, rule: Rule) -> pd.DataFrame:
    """Codes outside their national value set (``valueset`` defaults to the field's name).

    Blank values pass: a missing value is the ``required`` rules' finding, not a bad code.
    """
    frame = sheet.node(rule.node)
    parts = []
    for f in rule.fields:
        codes = list(valueset(rule.params["valueset"] or f).codes)
        values = frame[f].astype("string").str.strip()
        parts.append(found(frame, ~blank(frame[f]) & ~is_in(values, codes), f, frame[f]))
    return _concat(parts)


def _bounds(rule: Rule) -> None:
    low, high = rule.params["min"], rule.params["max"]
    if low is None and high is None:
        raise ValueError("kind 'range' needs params.min and/or params.max")
    for v in (low, high):
        if v is not None and not isinstance(v, int | float):
            raise ValueError(f"range bound {v!r} is not a number")


@kind("range", validate=_bounds, min=None, max=None)
def in_range(sheet: FaceSheet, rule: Rule) -> pd.DataFrame:
    """Numbers outside ``[min, max]`` (inclusive); missing numbers pass."""
    frame = sheet.node(rule.node)
    low, high = rule.params["min"], rule.params["max"]
    parts = []
    for f in rule.fields:
        v = frame[f]
        bad = pd.Series(False, index=frame.index)
        if low is not None:
            bad |= truth(v < low)
        if high is not None:
            bad |= truth(v > high)
        parts.append(found(frame, bad, f, lambda m, v=v: number(v[m])))
    return _concat(parts)


def _tolerance(rule: Rule) -> None:
    if len(rule.fields) < 2:
        raise ValueError("kind 'sum_equals' needs a total field and at least one part")
    tol = rule.params["tolerance"]
    if not isinstance(tol, int | float) or tol < 0:
        raise ValueError(f"tolerance must be a number >= 0, got {tol!r}")


@kind("sum_equals", validate=_tolerance, tolerance=0.01)
def sum_equals(sheet: FaceSheet, rule: Rule) -> pd.DataFrame:
    """Per row, fields[0] equals the sum of the other fields (nulls as 0, within tolerance)."""
    frame = sheet.node(rule.node)
    total = frame[rule.fields[0]].astype("Float64").fillna(0)
    parts = sum(frame[f].astype("Float64").fillna(0) for f in rule.fields[1:])
    bad = truth((total - parts).abs() > rule.params["tolerance"] + 1e-9)
    return found(frame, bad, rule.fields[0], lambda m: money(total[m]) + " ≠ " + money(parts[m]))


@kind("case_total_positive", validate=arity(1))
def case_total_positive(sheet: FaceSheet, rule: Rule) -> pd.DataFrame:
    """Each case's sum of the field over its rows in the node is > 0 (no rows: total 0)."""
    frame = sheet.node(rule.node)
    ids = cases(sheet)
    totals = case_sums(frame, rule.fields[0])
    total = lookup(ids, totals.index, totals).astype("Float64").fillna(0)
    out = pd.DataFrame({"mdtrt_id": ids})
    return found(out, total <= 0, rule.fields[0], lambda m: money(total[m]))


def _same_day(rule: Rule) -> None:
    if rule.params["same_day_los"] not in (0, 1) or isinstance(rule.params["same_day_los"], bool):
        raise ValueError(f"same_day_los must be 0 or 1, got {rule.params['same_day_los']!r}")


@kind("los", validate=arity(3, _same_day), same_day_los=1)
def length_of_stay(sheet: FaceSheet, rule: Rule) -> pd.DataFrame:
    """fields [days, admission, discharge]: days = discharge date − admission date.

    A same-day stay counts ``same_day_los`` (1 or 0: local practice differs). Stays whose
    discharge precedes admission are left to the time-order rule.
    """
    frame = sheet.node(rule.node)
    days_f, adm_f, dscg_f = rule.fields
    span = (frame[dscg_f].dt.normalize() - frame[adm_f].dt.normalize()).dt.days
    expected = span.where(span != 0, rule.params["same_day_los"]).astype("Float64")
    recorded = frame[days_f].astype("Float64")
    bad = truth((span >= 0) & (recorded != expected))
    return found(frame, bad, days_f, lambda m: number(recorded[m]) + " ≠ " + number(expected[m]))


def full_years(born: pd.Series, on: pd.Series) -> pd.Series:
    """实足年龄: completed years between two dates (the birthday itself completes a year)."""
    b, o = born.dt.normalize(), on.dt.normalize()
    before = (o.dt.month < b.dt.month) | ((o.dt.month == b.dt.month) & (o.dt.day < b.dt.day))
    return (o.dt.year - b.dt.year - before.astype(int)).astype("Float64")


def _years_tolerance(rule: Rule) -> None:
    if not isinstance(rule.params["tolerance_years"], int | float):
        raise ValueError("tolerance_years must be a number")


@kind("age_consistent", validate=arity(3, _years_tolerance), tolerance_years=1)
def age_consistent(sheet: FaceSheet, rule: Rule) -> pd.DataFrame:
    """fields [age, birth date, admission]: recorded age within tolerance of the full years."""
    frame = sheet.node(rule.node)
    age_f, born_f, adm_f = rule.fields
    years = full_years(frame[born_f], frame[adm_f])
    age = frame[age_f].astype("Float64")
    bad = truth((age - years).abs() > rule.params["tolerance_years"])
    return found(frame, bad, age_f, lambda m: number(age[m]) + " ≠ " + number(years[m]))


@kind("within_stay")
def within_stay(sheet: FaceSheet, rule: Rule) -> pd.DataFrame:
    """Dates of a child node fall between the case's admission and discharge dates (by day)."""
    frame = sheet.node(rule.node)
    stay = unique_cases(sheet.setlinfo)
    ids = frame["mdtrt_id"]
    adm = lookup(ids, stay["mdtrt_id"], stay["adm_time"]).dt.normalize()
    dscg = lookup(ids, stay["mdtrt_id"], stay["dscg_time"]).dt.normalize()
    parts = []
    for f in rule.fields:
        day = frame[f].dt.normalize()
        parts.append(found(frame, truth((day < adm) | (day > dscg)), f))
    return _concat(parts)


def _child(rule: Rule) -> None:
    if rule.params["child"] not in ("diseinfo", "oprninfo", "iteminfo"):
        raise ValueError(
            f"child must be diseinfo, oprninfo or iteminfo, not {rule.params['child']!r}"
        )


@kind("count_matches", validate=arity(1, _child), child=REQUIRED)
def count_matches(sheet: FaceSheet, rule: Rule) -> pd.DataFrame:
    """A count field equals the number of the case's rows in the ``child`` node."""
    frame = sheet.node(rule.node)
    counts = row_counts(frame["mdtrt_id"], sheet.node(rule.params["child"])["mdtrt_id"])
    expected = pd.Series(counts, index=frame.index).astype("Float64")
    recorded = frame[rule.fields[0]].astype("Float64")
    bad = truth(recorded != expected)
    shown = lambda m: number(recorded[m]) + " ≠ " + number(expected[m])  # noqa: E731
    return found(frame, bad, rule.fields[0], shown)


# GB 11643-1999 citizen identity number: 17 digits weighted, sum mod 11 picks the check char.
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"


def id_shape(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Normalized ID numbers (stripped, upper case) and whether each has the 18-char shape
    (ASCII digits: Arrow's ``\\d``), once per run for the same column."""

    def make() -> tuple[pd.Series, pd.Series]:
        text = values.astype("string").str.strip().str.upper()
        return text, truth(text.str.fullmatch(r"\d{17}[\dX]"))

    return shared("id_shape", (values.array, values.index), make)


def id_check_char(text: pd.Series) -> pd.Series:
    """The GB 11643 check character of each 18-char ID (vectorized over the digit slices)."""
    # all rows 17 ASCII digits and a check char (as callers make them): one byte matrix, one dot
    if len(text) and truth(text.str.fullmatch(r"[0-9]{17}[0-9X]")).all():
        digits = _id_bytes(text)[:, :17].astype(np.int64) - 48
        total = pd.Series(digits @ np.array(ID_WEIGHTS, dtype=np.int64), index=text.index)
    else:
        total = pd.Series(0, index=text.index, dtype="int64")
        for i, weight in enumerate(ID_WEIGHTS):
            total += text.str.slice(i, i + 1).astype("int64") * weight
    return pd.Series(np.array(list(ID_CHECK_CHARS))[total % 11], index=text.index, dtype="string")


def _id_bytes(text: pd.Series) -> np.ndarray:
    """18-char ASCII IDs (no nulls) as an (n, 18) byte matrix, straight from Arrow's buffer."""
    data = pa.array(text.array)
    data = data.combine_chunks() if isinstance(data, pa.ChunkedArray) else data
    if not pa.types.is_string(data.type) and not pa.types.is_large_string(data.type):
        raw = np.array([t.encode() for t in texts(text)], dtype="S18")
        return raw.view(np.uint8).reshape(len(text), 18)
    width = np.int64 if pa.types.is_large_string(data.type) else np.int32
    _, offsets, chars = data.buffers()
    ends = np.frombuffer(offsets, dtype=width)[data.offset : data.offset + len(data) + 1]
    return np.frombuffer(chars, dtype=np.uint8)[ends[0] : ends[-1]].reshape(len(text), 18)


@kind("id_check_digit", validate=arity(1), expressions=("when",), when=None)
def id_check_digit(sheet: FaceSheet, rule: Rule) -> pd.DataFrame:
    """ID numbers (where ``when`` holds) that are not 18 chars or fail the GB 11643 check."""
    frame = sheet.node(rule.node)
    f = rule.fields[0]
    text, shaped = id_shape(frame[f])
    digits = text.where(shaped, "0" * 18)
    valid = shaped & (id_check_char(digits) == digits.str.slice(17, 18)).to_numpy(dtype=bool)
    return found(frame, applies(frame, rule) & frame[f].notna() & ~valid, f)


@kind("id_birth_date", validate=arity(2), expressions=("when",), when=None)
def id_birth_date(sheet: FaceSheet, rule: Rule) -> pd.DataFrame:
    """fields [id number, birth date]: chars 7–14 of an 18-char ID equal the birth date."""
    frame = sheet.node(rule.node)
    id_f, born_f = rule.fields
    text, shaped = id_shape(frame[id_f])
    bad = applies(frame, rule) & shaped & frame[born_f].notna().to_numpy(dtype=bool)
    return found(frame, bad & (id_birth(text, shaped) != ymd(frame[born_f])), f"{id_f},{born_f}")


def id_birth(text: pd.Series, shaped: pd.Series) -> np.ndarray:
    """Chars 7–14 of the 18-char IDs (``shaped``) as the number YYYYMMDD; 0 for other rows,
    -2 for non-ASCII digits (Python-backed text: ``\\d`` takes ``１``; no date matches them)."""
    digits = pa.array(text.where(shaped, "0" * 18).str.slice(6, 14).array)
    ascii = pc.string_is_ascii(digits)
    value = pc.if_else(ascii, digits, "0").cast(pa.int64()).to_numpy(zero_copy_only=False)
    return np.where(ascii.to_numpy(zero_copy_only=False), value, -2)


def ymd(dates: pd.Series) -> np.ndarray:
    """Dates as the number YYYYMMDD (-1 for a missing date): ``strftime("%Y%m%d")`` compared
    as a number, the year zero-padded as pandas pads it (0999 → 09990102)."""
    parts = (dates.dt.year, dates.dt.month, dates.dt.day)
    year, month, day = (p.fillna(-1).to_numpy(dtype=np.int64) for p in parts)
    return np.where(dates.isna().to_numpy(), -1, year * 10000 + month * 100 + day)


def _positive(name: str) -> Callable[[Rule], None]:
    def validate(rule: Rule) -> None:
        value = rule.params[name]
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{name} must be a number > 0, got {value!r}")

    return validate


@kind("long_stay", validate=arity(1, _positive("max_los")), max_los=180)
def long_stay(sheet: FaceSheet, rule: Rule) -> pd.DataFrame:
    """A length of stay (fields[0]) above ``max_los`` days; missing values pass."""
    frame = sheet.node(rule.node)
    days = frame[rule.fields[0]].astype("Float64")
    bad = truth(days > rule.params["max_los"])
    return found(frame, bad, rule.fields[0], lambda m: number(days[m]))


def _days_and_amount(rule: Rule) -> None:
    if rule.nodes != ("setlinfo", "iteminfo") or len(rule.fields) != 2:
        raise ValueError(
            "kind 'fee_per_day' reads node ['setlinfo', 'iteminfo'] and fields [days, amount]"
        )
    _positive("max_fee_per_day")(rule)


@kind("fee_per_day", validate=_days_and_amount, multinode=True, max_fee_per_day=50000)
def fee_per_day(sheet: FaceSheet, rule: Rule) -> pd.DataFrame:
    """fields [days (setlinfo), amount (iteminfo)]: the case's total fee over its stay in days
    (a stay of 0 days counts as 1) above ``max_fee_per_day``; a missing stay passes."""
    days_f, amt_f = rule.fields
    setl = unique_cases(sheet.setlinfo)
    totals = case_sums(sheet.iteminfo, amt_f)
    total = lookup(setl["mdtrt_id"], totals.index, totals).astype("Float64").fillna(0)
    days = setl[days_f].astype("Float64").clip(lower=1)
    per_day = total / days
    bad = truth(per_day > rule.params["max_fee_per_day"])
    return found(setl, bad, days_f, lambda m: money(per_day[m]))


def _regex(rule: Rule) -> None:
    pattern = rule.params["pattern"]
    if not isinstance(pattern, str) or not pattern:
        raise ValueError("pattern must be a non-empty regular expression in quotes")
    try:
        re.compile(pattern)
    except re.error as err:
        raise ValueError(f"bad pattern {pattern!r}: {err}") from None


@kind("matches", validate=_regex, pattern=REQUIRED)
def matches(sheet: FaceSheet, rule: Rule) -> pd.DataFrame:
    """Text values (stripped) that do not wholly match ``pattern``; blank values and '-' pass."""
    frame = sheet.node(rule.node)
    parts = []
    for f in rule.fields:
        text = frame[f].astype("string").str.strip()
        ok = truth(text.str.fullmatch(rule.params["pattern"])) | truth(text == "-")
        parts.append(found(frame, ~blank(frame[f]) & ~ok, f, text))
    return _concat(parts)
