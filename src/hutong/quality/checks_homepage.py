"""Check kinds for the face-sheet (病案首页) rules that the field-level kinds cannot express.

They compare a case across nodes (a fee category expected from the stay or the procedures, a
newborn weight expected from a delivery diagnosis, self-paid amounts against the fee total),
read the row order of a node (the principal procedure in row 1), or parse the 4101 duration
text ``天/小时/分钟`` (``1/13/24``) to compare it with the length of the stay. Each takes
``(sheet, rule)`` and returns the failing rows (see :mod:`.kinds`); the ``nhsa-homepage`` pack
says which clause each rule comes from.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.arrays import ArrowStringArray

from hutong.mapping.facesheet import DATETIME_FIELDS, NUMBER_FIELDS, columns
from hutong.model import is_in
from hutong.quality.kinds import (
    REQUIRED,
    applies,
    blank,
    case_sums,
    found,
    isin,
    kind,
    lookup,
    money,
    nothing,
    number,
    shared,
    stripped,
    truth,
    unique_cases,
)

if TYPE_CHECKING:
    from hutong.mapping.facesheet import FaceSheet
    from hutong.quality.pack import Rule

# 4101 durations: days/hours/minutes, e.g. "1/13/24" (icuinfo.scs_cutd_sum_dura's format).
DURATION = r"(?P<days>\d+)/(?P<hours>\d+)/(?P<minutes>\d+)"


def _concat(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else nothing()


def _setl(sheet: FaceSheet) -> pd.DataFrame:
    return unique_cases(sheet.setlinfo)


def _datetimes(rule: Rule) -> None:
    odd = [f for f in rule.fields if f not in DATETIME_FIELDS]
    if odd:
        raise ValueError(f"kind 'clock_time_given' reads date-time fields only, not {odd}")


@kind("clock_time_given", validate=_datetimes)
def clock_time_given(sheet: FaceSheet, rule: Rule) -> pd.DataFrame:
    """Rows where every listed time is present and exactly midnight: a bare date, not a time.

    One midnight admission happens (an emergency at 00:00); admission *and* discharge both at
    00:00:00 is what a date-only export looks like, so only that fires.
    """
    frame = sheet.node(rule.node)
    bare = pd.Series(True, index=frame.index)
    for f in rule.fields:
        t = frame[f]
        bare &= truth(t.notna() & (t == t.dt.normalize()))
    return found(frame, bare, ",".join(rule.fields))


def minutes(text: pd.Series) -> pd.Series:
    """A 天/小时/分钟 duration (``1/13/24``) in minutes; NA when blank or not in that shape."""
    text = text.astype("string").str.strip()
    if isinstance(text.array, ArrowStringArray):
        data = pa.array(text.array)
        if pc.all(pc.string_is_ascii(data)).as_py() is not False:  # Arrow's \d is ASCII only
            matched = pc.extract_regex(data, f"^{DURATION}$")
            parts = [ArrowStringArray(pc.struct_field(matched, [i])) for i in range(3)]
            days, hours, mins = (pd.Series(p, index=text.index).astype("Float64") for p in parts)
            return days * 1440 + hours * 60 + mins
    # not ASCII: Python's \d also takes other decimal digits (全角 １), which int() reads and
    # Arrow's cast to a number does not (it raised and stopped the run's QC)
    parts = text.str.extract(f"^{DURATION}$")
    days, hours, mins = (
        parts.iloc[:, i].astype(object).map(int, na_action="ignore").astype("Float64")
        for i in range(3)
    )
    return days * 1440 + hours * 60 + mins


def _durations(rule: Rule) -> list[str]:
    return [f for f in rule.fields if f not in ("adm_time", "dscg_time")]


def _stay_fields(rule: Rule) -> None:
    if rule.node != "setlinfo" or not {"adm_time", "dscg_time"} <= set(rule.fields):
        raise ValueError("kind 'duration_within_stay' reads setlinfo, adm_time and dscg_time")
    durations = _durations(rule)
    odd = [f for f in durations if f in NUMBER_FIELDS or f in DATETIME_FIELDS]
    if odd or not durations:
        raise ValueError(f"kind 'duration_within_stay' needs 天/小时/分钟 text fields, not {odd}")


@kind("duration_within_stay", validate=_stay_fields)
def duration_within_stay(sheet: FaceSheet, rule: Rule) -> pd.DataFrame:
    """fields [durations..., adm_time, dscg_time]: durations (天/小时/分钟 text) longer than
    the stay from admission to discharge time.

    Blank or malformed durations pass (the format rule's finding), as do stays without both
    times or with discharge before admission (the time-order rule's finding).
    """
    frame = sheet.setlinfo
    stay = (frame["dscg_time"] - frame["adm_time"]).dt.total_seconds().astype("Float64") / 60
    parts = []
    for f in _durations(rule):
        used = minutes(frame[f])
        parts.append(found(frame, truth((stay >= 0) & (used > stay)), f, frame[f]))
    return _concat(parts)


def _limit_and_parts(rule: Rule) -> None:
    if len(rule.fields) < 2 or any(f not in NUMBER_FIELDS for f in rule.fields):
        raise ValueError("kind 'sum_at_most' takes number fields: the limit, then the parts")


@kind("sum_at_most", validate=_limit_and_parts)
def sum_at_most(sheet: FaceSheet, rule: Rule) -> pd.DataFrame:
    """fields [limit, parts...]: the parts (missing as 0) add up to at most the limit.

    Rows with no part given, or no limit, pass: nothing recorded is not a contradiction.
    """
    frame = sheet.node(rule.node)
    limit = frame[rule.fields[0]].astype("Float64")
    parts = [frame[f].astype("Float64") for f in rule.fields[1:]]
    given = pd.concat([p.notna() for p in parts], axis=1).any(axis=1)
    total = sum(p.fillna(0) for p in parts)
    bad = truth(given & limit.notna() & (total > limit + 1e-9))
    return found(frame, bad, ",".join(rule.fields[1:]), lambda m: number(total[m]))


def _first_row(rule: Rule) -> None:
    if len(rule.fields) != 1 or rule.node == "setlinfo":
        raise ValueError("kind 'first_row_is' reads one field of a child node")


@kind("first_row_is", validate=_first_row, value=REQUIRED)
def first_row_is(sheet: FaceSheet, rule: Rule) -> pd.DataFrame:
    """The first row of each case in the node (in file order) has fields[0] == ``value``."""
    frame = sheet.node(rule.node)
    first = frame.drop_duplicates("mdtrt_id")
    f = rule.fields[0]
    value = first[f].astype("string").str.strip()
    return found(first, ~truth(value == str(rule.params["value"])), f, first[f])


def _code_prefixes(name: str) -> Callable[[Rule], None]:
    def validate(rule: Rule) -> None:
        codes = rule.params[name]
        if not isinstance(codes, list) or not codes or not all(isinstance(c, str) for c in codes):
            raise ValueError(f"{name} must be a non-empty list of quoted code prefixes")

    return validate


def _dx_required(rule: Rule) -> None:
    if rule.nodes != ("setlinfo", "diseinfo"):
        raise ValueError("kind 'required_if_dx' reads node ['setlinfo', 'diseinfo']")
    if any(f not in columns("setlinfo") for f in rule.fields):
        raise ValueError("kind 'required_if_dx' checks setlinfo fields")
    _code_prefixes("codes")(rule)


def with_code(diseinfo: pd.DataFrame, prefixes: list[str]) -> pd.Series:
    """Case ids having a diagnosis whose code starts with one of ``prefixes`` (any row)."""
    code = diseinfo["diag_code"].astype("string").str.strip().str.upper()
    hit = pd.Series(False, index=diseinfo.index)
    for prefix in prefixes:
        hit |= truth(code.str.startswith(prefix.upper()))
    return diseinfo.loc[hit, "mdtrt_id"]


@kind("required_if_dx", validate=_dx_required, multinode=True, codes=REQUIRED)
def required_if_dx(sheet: FaceSheet, rule: Rule) -> pd.DataFrame:
    """setlinfo fields that are blank in a case with a diagnosis code starting with ``codes``."""
    setl = _setl(sheet)
    having = isin(setl["mdtrt_id"], with_code(sheet.diseinfo, rule.params["codes"]))
    return _concat([found(setl, having & blank(setl[f]), f) for f in rule.fields])


def _fee_rule(rule: Rule) -> None:
    if len(rule.nodes) != 2 or rule.nodes[1] != "iteminfo" or rule.nodes[0] == "iteminfo":
        raise ValueError("kind 'fee_required' reads node [<node of 'when'>, 'iteminfo']")
    if "med_chrgitm" not in rule.fields or "amt" not in rule.fields:
        raise ValueError("kind 'fee_required' lists med_chrgitm and amt in its fields")
    _code_prefixes("codes")(rule)


@kind(
    "fee_required",
    validate=_fee_rule,
    multinode=True,
    expressions=("when",),
    when=REQUIRED,
    codes=REQUIRED,
)
def fee_required(sheet: FaceSheet, rule: Rule) -> pd.DataFrame:
    """Cases where the ``when`` expression holds on a row of the first node (setlinfo: the
    case; oprninfo: any procedure) but iteminfo's amounts in fee categories ``codes`` add up to
    0 or less (no such rows: 0). A case without any fee rows is left to the fee-total rule."""
    frame = sheet.node(rule.node)
    items = sheet.iteminfo
    billed = shared(
        "billed",
        (frame, items),
        lambda: isin(frame["mdtrt_id"], items["mdtrt_id"]),
    )
    chosen = applies(frame, rule) & billed
    selected = frame.loc[chosen, "mdtrt_id"].drop_duplicates().reset_index(drop=True)
    mine = is_in(stripped(items["med_chrgitm"]), rule.params["codes"]).to_numpy(dtype=bool)
    totals = items["amt"][mine].groupby(items["mdtrt_id"][mine]).sum(min_count=1)
    total = lookup(selected, totals.index, totals).astype("Float64").fillna(0)
    out = pd.DataFrame({"mdtrt_id": selected.astype("string")})
    codes = "/".join(rule.params["codes"])
    return found(out, total <= 0, "med_chrgitm", lambda m: codes + " = " + money(total[m]))


def _paid_and_total(rule: Rule) -> None:
    if rule.nodes != ("setlinfo", "iteminfo"):
        raise ValueError("kind 'paid_at_most_total' reads node ['setlinfo', 'iteminfo']")
    if rule.fields[-1] != "amt" or len(rule.fields) < 2:
        raise ValueError("kind 'paid_at_most_total' takes setlinfo amounts, then iteminfo amt")
    if any(f not in NUMBER_FIELDS for f in rule.fields):
        raise ValueError("kind 'paid_at_most_total' reads amounts only")


@kind("paid_at_most_total", validate=_paid_and_total, multinode=True, tolerance=0.01)
def paid_at_most_total(sheet: FaceSheet, rule: Rule) -> pd.DataFrame:
    """fields [setlinfo amounts..., amt]: the amounts given (missing as 0) add up to at most
    the case's fee total (iteminfo amt summed); a case with none of them given passes."""
    setl = _setl(sheet)
    totals = case_sums(sheet.iteminfo, "amt")
    total = lookup(setl["mdtrt_id"], totals.index, totals).astype("Float64").fillna(0)
    parts = [setl[f].astype("Float64") for f in rule.fields[:-1]]
    given = pd.concat([p.notna() for p in parts], axis=1).any(axis=1)
    paid = sum(p.fillna(0) for p in parts)
    bad = truth(given & (paid > total + rule.params["tolerance"] + 1e-9))
    shown = lambda m: money(paid[m]) + " > " + money(total[m])  # noqa: E731  (failing rows)
    return found(setl, bad, ",".join(rule.fields[:-1]), shown)


def _has_rows(rule: Rule) -> None:
    if rule.node != "setlinfo" or rule.params["child"] not in ("diseinfo", "oprninfo"):
        raise ValueError("kind 'has_rows' reads setlinfo; child is diseinfo or oprninfo")


@kind("has_rows", validate=_has_rows, expressions=("when",), when=REQUIRED, child=REQUIRED)
def has_rows(sheet: FaceSheet, rule: Rule) -> pd.DataFrame:
    """Cases where ``when`` holds on setlinfo but the ``child`` node has no row for them."""
    setl = _setl(sheet)
    child = sheet.node(rule.params["child"])
    missing = ~isin(setl["mdtrt_id"], child["mdtrt_id"])
    return found(setl, applies(setl, rule) & missing, rule.fields[0])
