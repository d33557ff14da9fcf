"""Check kinds on coded diagnoses and procedures (ICD-10 医保版 2.0, ICD-9-CM-3 医保版 2.0).

Code ranges are written as ICD-10 categories, ``"S00-T98"`` or ``"O00-O99"``, and compared on
the first three characters of a code, so ``I10.x00x002`` is in ``I10`` and a dagger/star pair
``A01.000x005+J17.0*`` is classified by its dagger (aetiology) part. Only western-medicine rows
(``diag_type`` 1 or empty) take part: TCM disease codes have their own, unrelated system.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from hutong.mapping.facesheet import columns
from hutong.quality.expression import compile_expression
from hutong.quality.kinds import (
    REQUIRED,
    blank,
    cases,
    found,
    isin,
    kind,
    lookup,
    nothing,
    number,
    row_counts,
    shared,
    stripped,
    texts,
    truth,
    unique_cases,
)

if TYPE_CHECKING:
    from hutong.mapping.facesheet import FaceSheet
    from hutong.quality.pack import Rule

RANGE = re.compile(r"^([A-Z]\d\d)(?:-([A-Z]\d\d))?$")
DAGGER = ("+", "†")


def category_ranges(ranges: list[str]) -> list[tuple[str, str]]:
    """``["S00-T98", "V01"]`` as (low, high) category pairs; ValueError on a malformed one."""
    if not isinstance(ranges, list) or not ranges:
        raise ValueError(f"expected a list of ICD-10 category ranges, got {ranges!r}")
    pairs = []
    for text in ranges:
        m = RANGE.match(str(text))
        if not m or (m[2] and m[2] < m[1]):
            raise ValueError(f"bad ICD-10 category range {text!r} (write e.g. 'S00-T98')")
        pairs.append((m[1], m[2] or m[1]))
    return pairs


def in_categories(codes: pd.Series, ranges: list[str]) -> pd.Series:
    """Whether each code's three-character category falls in any of the ranges."""
    rows, known, cat = shared("categories", (codes.array,), lambda: _categories(codes))
    hit = np.zeros(len(cat), dtype=bool)
    for low, high in category_ranges(ranges):
        hit |= (cat >= low) & (cat <= high)
    return pd.Series(np.append(hit & known, False)[rows], index=codes.index)


def _categories(codes: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct codes' categories (stripped, upper case, 3 chars) as a numpy text array
    (compared by code point, as Arrow compares UTF-8), whether each is known, and the row
    positions into them (-1: null): rules ask for ranges of the same column many times."""
    rows, uniques = shared("factorize", (codes.array,), lambda: pd.factorize(codes))
    cat = pd.Series(uniques).astype("string").str.strip().str.upper().str.slice(0, 3)
    known = cat.notna().to_numpy(dtype=bool)
    return rows, known, np.array(texts(cat.fillna("")), dtype=str).reshape(len(cat))


def western(diseinfo: pd.DataFrame) -> pd.DataFrame:
    """Western-medicine diagnosis rows (diag_type 1, or not given)."""

    def make() -> pd.DataFrame:
        diag_type = diseinfo["diag_type"]
        keep = diag_type.isna().to_numpy() | truth(diag_type.str.strip() == "1").to_numpy()
        return diseinfo[keep]

    return shared("western", (diseinfo,), make)


def main_rows(diseinfo: pd.DataFrame) -> pd.DataFrame:
    """The western main diagnosis of each case (the first row flagged 1)."""

    def make() -> pd.DataFrame:
        rows = western(diseinfo)
        return rows[_main_flag(rows)].drop_duplicates("mdtrt_id")

    return shared("main_rows", (diseinfo,), make)


def other_rows(diseinfo: pd.DataFrame) -> pd.DataFrame:
    """The western diagnoses not flagged main (other diagnoses), every row."""

    def make() -> pd.DataFrame:
        rows = western(diseinfo)
        return rows[~_main_flag(rows)]

    return shared("other_rows", (diseinfo,), make)


def _main_flag(rows: pd.DataFrame) -> np.ndarray:
    return truth(stripped(rows["maindiag_flag"]) == "1").to_numpy()


def _code_field(*range_params: str) -> Callable[[Rule], None]:
    """A validator: one field (the code), and well-formed category ranges in the params."""

    def validate(rule: Rule) -> None:
        if len(rule.fields) != 1:
            raise ValueError(f"kind {rule.kind!r} takes one field (the code field)")
        for name in range_params:
            category_ranges(rule.params[name])

    return validate


def _flag(rule: Rule) -> None:
    if len(rule.fields) != 1:
        raise ValueError("kind 'exactly_one_main' takes one field (the flag)")
    if not isinstance(rule.params["optional"], bool):
        raise ValueError("optional must be true or false")


@kind("exactly_one_main", validate=_flag, main="1", optional=False)
def exactly_one_main(sheet: FaceSheet, rule: Rule) -> pd.DataFrame:
    """Each case has exactly one row whose flag field (fields[0]) equals ``main``.

    With ``optional``, cases without any row in the node pass (a case need not have a
    procedure, but if it has some, one is the principal one).
    """
    frame = sheet.node(rule.node)
    if "diag_type" in frame.columns:
        frame = western(frame)
    flag = rule.fields[0]
    ids = cases(sheet)
    flagged = frame[truth(stripped(frame[flag]) == str(rule.params["main"]))]
    count = pd.Series(row_counts(ids, flagged["mdtrt_id"]), index=ids.index)
    bad = count != 1
    if rule.params["optional"]:
        bad &= isin(ids, frame["mdtrt_id"])
    return found(pd.DataFrame({"mdtrt_id": ids}), bad, flag, lambda m: number(count[m]))


def _others(sheet: FaceSheet, rule: Rule) -> tuple[pd.DataFrame, pd.Series]:
    """Main rows in the ``main`` ranges, and the case ids with another diagnosis in ``other``."""
    code = rule.fields[0]
    mains = main_rows(sheet.diseinfo)
    mains = mains[in_categories(mains[code], rule.params["main"])]
    rows = other_rows(sheet.diseinfo)
    return mains, rows.loc[in_categories(rows[code], rule.params["other"]), "mdtrt_id"]


@kind("main_needs_other", validate=_code_field("main", "other"), main=REQUIRED, other=REQUIRED)
def main_needs_other(sheet: FaceSheet, rule: Rule) -> pd.DataFrame:
    """A main diagnosis in ``main`` needs another diagnosis of the case in ``other``."""
    mains, with_other = _others(sheet, rule)
    bad = ~isin(mains["mdtrt_id"], with_other)
    return found(mains, bad, rule.fields[0], mains[rule.fields[0]])


@kind(
    "main_excluded_by_other", validate=_code_field("main", "other"), main=REQUIRED, other=REQUIRED
)
def main_excluded_by_other(sheet: FaceSheet, rule: Rule) -> pd.DataFrame:
    """A main diagnosis in ``main`` is wrong when the case has another diagnosis in ``other``."""
    mains, with_other = _others(sheet, rule)
    bad = isin(mains["mdtrt_id"], with_other)
    return found(mains, bad, rule.fields[0], mains[rule.fields[0]])


@kind("gend_conflict", validate=_code_field("codes"), gend=REQUIRED, codes=REQUIRED)
def gend_conflict(sheet: FaceSheet, rule: Rule) -> pd.DataFrame:
    """Diagnoses in ``codes`` recorded for a patient whose setlinfo.gend is ``gend``."""
    code = rule.fields[0]
    rows = western(sheet.diseinfo)
    setl = unique_cases(sheet.setlinfo)
    gend = shared(
        "gend", (rows, setl), lambda: lookup(rows["mdtrt_id"], setl["mdtrt_id"], setl["gend"])
    )
    bad = truth(gend == str(rule.params["gend"])) & in_categories(rows[code], rule.params["codes"])
    return found(rows, bad, code, rows[code])


@kind("star_alone", validate=_code_field())
def star_alone(sheet: FaceSheet, rule: Rule) -> pd.DataFrame:
    """Star (manifestation) codes used alone: ending in ``*`` with no dagger code for them.

    A star code is paired when it is written with its dagger (``A39.000+G01*``) or when the case
    has a separate dagger code row (ending in ``+``/``†``) for it to follow.
    """
    frame = sheet.node(rule.node)
    code = frame[rule.fields[0]].astype("string").str.strip()
    star = truth(code.str.endswith("*"))
    paired = pd.Series(False, index=frame.index)
    lone_dagger = pd.Series(False, index=frame.index)
    for mark in DAGGER:
        paired |= truth(code.str.contains(mark, regex=False))
        lone_dagger |= truth(code.str.endswith(mark))
    has_dagger = isin(frame["mdtrt_id"], frame.loc[lone_dagger, "mdtrt_id"])
    return found(frame, star & ~paired & ~has_dagger, rule.fields[0], code)


def _pairs(rule: Rule) -> None:
    if len(rule.fields) % 2:
        raise ValueError("kind 'name_and_code' takes fields in (name, code) pairs")
    for name, code in zip(rule.fields[::2], rule.fields[1::2], strict=True):
        if not any(_owns(node, name, code) for node in rule.nodes):
            raise ValueError(f"no node of the rule has both {name!r} and {code!r}")


def _owns(node: str, *fields: str) -> bool:
    return all(f in columns(node) for f in fields)


@kind("name_and_code", validate=_pairs, multinode=True)
def name_and_code(sheet: FaceSheet, rule: Rule) -> pd.DataFrame:
    """Rows with a code but no name, or a name but no code (fields are name, code pairs)."""
    parts = []
    for name, code in zip(rule.fields[::2], rule.fields[1::2], strict=True):
        for node in rule.nodes:
            if not _owns(node, name, code):
                continue
            frame = sheet.node(node)
            parts.append(found(frame, blank(frame[name]), name, frame[code]))
            parts.append(found(frame, blank(frame[code]), code))
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else nothing()


def _patient(rule: Rule) -> None:
    _code_field("codes")(rule)
    low, high, when = rule.params["age_min"], rule.params["age_max"], rule.params["when"]
    if low is None and high is None and when is None:
        raise ValueError("kind 'dx_patient' needs age_min, age_max and/or when")
    for v in (low, high):
        if v is not None and (not isinstance(v, int | float) or isinstance(v, bool)):
            raise ValueError(f"age bound {v!r} is not a number")
    if when is not None:
        compile_expression(str(when), "setlinfo")


@kind("dx_patient", validate=_patient, codes=REQUIRED, age_min=None, age_max=None, when=None)
def dx_patient(sheet: FaceSheet, rule: Rule) -> pd.DataFrame:
    """Diagnoses in ``codes`` of a patient they do not fit: setlinfo.age (full years) outside
    ``[age_min, age_max]``, or the setlinfo expression ``when`` holding. A missing age never
    fires the age test (nor a missing field the ``when`` test)."""
    code = rule.fields[0]
    rows = western(sheet.diseinfo)
    setl = unique_cases(sheet.setlinfo)
    age = setl["age"].astype("Float64")
    misfit = pd.Series(False, index=setl.index)
    if rule.params["age_min"] is not None:
        misfit |= truth(age < rule.params["age_min"])
    if rule.params["age_max"] is not None:
        misfit |= truth(age > rule.params["age_max"])
    if rule.params["when"] is not None:
        misfit |= compile_expression(str(rule.params["when"]), "setlinfo").holds(setl)
    misfits = setl.loc[misfit, "mdtrt_id"]
    bad = isin(rows["mdtrt_id"], misfits) & in_categories(rows[code], rule.params["codes"])
    return found(rows, bad, code, rows[code])
