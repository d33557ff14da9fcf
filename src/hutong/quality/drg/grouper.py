"""Group cases into CHS-DRG: ``group(CaseInput(...), pack)`` → ``GroupResult`` with a trace.

Order (README of the pack): principal checks → pre-MDC (A, P, Y, Z) → MDC by principal with
sex gates → first ADRG of the MDC whose rule holds → QY redirect → CC/MCC suffix.
A case no rule takes is ``0000`` with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from hutong.quality.drg.index import build_index
from hutong.quality.drg.pack import MEDICAL, Adrg, DrgPack
from hutong.quality.drg.rules import fired, holds

UNGROUPABLE = "0000"
SEX_GATE = {"M": ("1", "male"), "N": ("2", "female")}


@dataclass(frozen=True)
class CaseInput:
    """One inpatient case as the grouper needs it (codes in 医保版 2.0)."""

    principal_dx: str | None
    secondary_dx: tuple[str, ...] = ()
    principal_px: str | None = None
    other_px: tuple[str, ...] = ()
    sex: str | None = None  # GB/T 2261.1: "1" male, "2" female
    age: float | None = None  # years
    age_days: float | None = None  # when under one year
    birth_weight: float | None = None  # grams
    discharge_way: str | None = None
    los: float | None = None
    mdtrt_id: str = ""


@dataclass
class GroupResult:
    mdc: str
    adrg: str
    drg: str
    cc_status: str  # "MCC", "CC" or "none"
    reason: str = ""
    trace: list[str] = field(default_factory=list)


def _newborn(case: CaseInput) -> bool:
    return case.age_days is not None and case.age_days < 365 and not (case.age or 0) >= 1


def _gates(adrg: Adrg, case: CaseInput) -> str:
    """Why an age- or weight-gated ADRG (from its name) cannot take the case; '' if it can."""
    if adrg.age_days:
        lo, hi = adrg.age_days
        if case.age_days is None or not lo <= case.age_days < hi:
            return f"age {case.age_days} d outside [{lo:g}, {hi:g})"
    if adrg.birth_weight:
        lo, hi = adrg.birth_weight
        if case.birth_weight is None:
            return "birth weight missing"
        if not lo <= case.birth_weight < hi:
            return f"birth weight {case.birth_weight:g} g outside [{lo:g}, {hi:g})"
    return ""


def _first_adrg(mdc, dx, px, case, pack, trace) -> Adrg | None:
    index = pack.index.get(mdc)
    if index is None:
        if mdc not in pack.by_mdc:
            return None
        # a DrgPack assembled in code rather than by load_pack: index it once
        index = pack.index.setdefault(mdc, build_index(pack.by_mdc[mdc]))
    adrgs, slow = index.adrgs, index.slow
    for i in index.candidates(dx, px):  # rule order; only ADRGs whose rule may hold
        adrg = adrgs[i]
        why = None
        if i in slow:
            ok, why = holds(adrg, dx, px, pack)
            if not ok:
                continue
        if (adrg.age_days or adrg.birth_weight) and (gate := _gates(adrg, case)):
            trace.append(f"ADRG {adrg.code}: rule holds but {gate}")
            continue
        if why is None:  # a default-combination rule: the index found that it holds
            why = fired(adrg, dx, px)
        trace.append(f"ADRG {adrg.code}: {why}")
        return adrg
    return None


def _pre_mdc(dx, px, case, pack, trace) -> tuple[str, Adrg] | None:
    if adrg := _first_adrg("A", dx, px, case, pack, trace):
        trace.append(f"MDCA: {adrg.code} {adrg.name}")
        return "A", adrg
    if _newborn(case) and dx[0] in pack.mdcp_codes:
        trace.append(f"MDCP: principal {dx[0]} in MDCP list; age {case.age_days:g} d")
        if adrg := _first_adrg("P", dx, px, case, pack, trace):
            return "P", adrg
        trace.append("MDCP: no ADRG of MDCP takes the case; continuing")
    if hiv := [c for c in dx if c in pack.mdcy_codes]:
        trace.append(f"MDCY: HIV diagnosis {hiv[0]}")
        if adrg := _first_adrg("Y", dx, px, case, pack, trace):
            return "Y", adrg
    regions: dict[str, str] = {}  # region → first diagnosis in it
    trauma_of = pack.trauma_of
    for code in dx:
        for region in trauma_of.get(code, ()):
            regions.setdefault(region, code)
    if len(regions) >= 2:
        hits = [f"{n} by {regions[n]}" for n in pack.mdcz_categories if n in regions]
        trace.append("MDCZ: " + ", ".join(hits))
        if adrg := _first_adrg("Z", dx, px, case, pack, trace):
            return "Z", adrg
    return None


def _cc_status(dx: list[str], pack: DrgPack, trace: list[str]) -> str:
    principal = dx[0]
    table = pack.cce.get(principal)
    found = {"MCC": None, "CC": None}
    for code in dict.fromkeys(dx[1:]):
        if code == principal:
            continue
        for level, tables in (("MCC", pack.mcc), ("CC", pack.cc)):
            if code not in tables:
                continue
            if tables[code] == table:
                trace.append(f"{level}: {code} excluded (table {table} = principal table)")
            else:
                trace.append(f"{level}: {code} (table {tables[code]}) ≠ principal table {table}")
                found[level] = found[level] or code
    return "MCC" if found["MCC"] else "CC" if found["CC"] else "none"


def _suffix(adrg: Adrg, status: str) -> str:
    have = adrg.suffixes
    if "9" in have or not have:
        return "9"
    wanted = {"MCC": "135", "CC": "35", "none": "5"}[status]
    return next((s for s in wanted if s in have), min(have))


def _fail(reason: str, trace: list[str], mdc: str = "", adrg: str = "") -> GroupResult:
    trace.append(f"ungroupable: {reason}")
    return GroupResult(mdc, adrg, UNGROUPABLE, "", reason, trace)


def group(case: CaseInput, pack: DrgPack) -> GroupResult:
    """Group one case; the result's trace says at each step what fired."""
    trace: list[str] = []
    principal = (case.principal_dx or "").strip()
    if not principal:
        return _fail("no principal diagnosis", trace)
    if principal in pack.zd_invalid:
        return _fail(f"principal {principal} cannot be a principal diagnosis (zd_invalid)", trace)
    dx = [principal, *(c for c in case.secondary_dx if c)]
    px = []
    for code in (case.principal_px, *case.other_px):
        if not code:
            continue
        if code in pack.ss_invalid:
            trace.append(f"procedure {code} ignored (ss_invalid)")
        else:
            px.append(code)

    chosen = _pre_mdc(dx, px, case, pack, trace)
    if chosen is None:
        candidates = pack.mdc_of.get(principal, ())
        if not candidates:
            return _fail(f"principal {principal} is in no MDC", trace)
        mdc = ""
        for letter in candidates:
            sex, label = SEX_GATE.get(letter, (None, ""))
            if sex and case.sex != sex:
                trace.append(f"MDC{letter}: skipped, {label} only (sex {case.sex})")
                continue
            mdc = letter
            break
        if not mdc:
            return _fail(f"principal {principal} only in a sex-gated MDC (sex {case.sex})", trace)
        trace.append(f"MDC{mdc}: principal {principal} in MDC{mdc} identifying diagnoses")
        adrg = _first_adrg(mdc, dx, px, case, pack, trace)
        if adrg is None:
            return _fail(f"no ADRG of MDC{mdc} takes the case", trace, mdc)
        chosen = (mdc, adrg)

    mdc, adrg = chosen
    status = _cc_status(dx, pack, trace)
    if adrg.kind == MEDICAL:
        surgical = next((p for p in px if p in pack.or_procedures), None)
        if surgical:
            qy = f"{mdc}QY"
            trace.append(f"QY: medical {adrg.code} but OR procedure {surgical} → {qy}")
            return GroupResult(mdc, qy, qy, status, "", trace)
    drg = adrg.code + _suffix(adrg, status)
    trace.append(f"DRG {drg}: {status} (suffixes {''.join(sorted(adrg.suffixes))})")
    return GroupResult(mdc, adrg.code, drg, status, "", trace)


def plain(x):
    """A cell as the grouper reads it: missing (None, NA, NaN) as None."""
    return None if x is None or x is pd.NA or (isinstance(x, float) and x != x) else x


# ---- the DRG alone, for many variants of few cases (the payment impact of QC findings) -----

SETL_FIELDS = ("gend", "age", "nwb_age", "nwb_bir_wt", "dscg_way", "act_ipt_days")
_INERT = "\x00"  # stands for a principal code that no table of the pack names


def case_input(dx_rows, px_rows, setl: tuple, mid: str = "") -> CaseInput:
    """The CaseInput :func:`.sheet.group_facesheet` builds for one case, from its diseinfo and
    oprninfo rows as records (dicts by column, in row order) and its setlinfo values of
    :data:`SETL_FIELDS` (missing ones None); same western filter, same principal choice."""
    dx = _record_lists([r for r in dx_rows if _western_row(r)], "diag_code", "maindiag_flag")
    return case_of(*dx, *_record_lists(px_rows, "oprn_oprt_code", "oprn_oprt_type"), setl, mid)


def case_of(main, secondary, pmain, pother, setl: tuple, mid) -> CaseInput:
    """One case's CaseInput from its diagnosis and procedure lists and its setlinfo values of
    :data:`SETL_FIELDS`: without a principal procedure, the first other one is it."""
    if pmain is None and pother:
        pmain, pother = pother[0], pother[1:]
    gend, age, days, weight, way, los = (plain(v) for v in setl)
    return CaseInput(
        principal_dx=main,
        secondary_dx=tuple(secondary),
        principal_px=pmain,
        other_px=tuple(pother),
        sex=gend,
        age=age,
        age_days=days,
        birth_weight=weight,
        discharge_way=way,
        los=los,
        mdtrt_id=mid,
    )


def missing(x) -> bool:
    """Whether a cell is missing: None, NA, NaT or NaN."""
    return x is None or x is pd.NA or x is pd.NaT or (isinstance(x, float) and x != x)


def _western_row(row: dict) -> bool:
    """As :func:`.sheet._western` for one record: diag_type missing, or ``1`` once stripped."""
    kind = row.get("diag_type")
    return missing(kind) or str(kind).strip() == "1"


def _record_lists(rows, code: str, flag: str) -> tuple[str | None, list[str]]:
    """As :func:`.sheet._lists` for one case's records: (principal code or None, the others)."""
    main, rest = None, []
    for row in rows:
        value = row[code]
        if missing(value):
            continue
        if main is None and isinstance(row[flag], str) and row[flag] == "1":
            main = value
        else:
            rest.append(value)
    return main, rest


def drg_key(case: CaseInput, pack: DrgPack) -> tuple:
    """What ``group(case, pack).drg`` depends on (not its trace), as a hashable key: two cases
    with the same key get the same DRG.

    Read off :func:`group` and what it calls: the principal diagnosis itself (one no table
    names stands for all such; none, or a zd_invalid one, is all the key); of the other
    diagnoses only those some table of the pack names (MDC, MDCY, MDCZ, CC/MCC, ADRG
    sections), as a set (they are looked up, never counted or ordered); of the procedures
    (after ss_invalid is dropped) whether there are any, the first one when a table names it,
    and the named others as a set; sex, age, age in days, birth weight. Codes no table names
    cannot hit anything, so a case with an unknown vendor code dropped or replaced by another
    unnamed code keeps its key."""
    px = (case.principal_px, *case.other_px)
    patient = (case.sex, case.age, case.age_days, case.birth_weight)
    return _key(case.principal_dx, case.secondary_dx, px, patient, pack)


def record_key(dx_rows, px_rows, setl: tuple, pack: DrgPack) -> tuple:
    """``drg_key(case_input(dx_rows, px_rows, setl), pack)`` without building the case."""
    return key_of(dx_part(dx_rows, pack), px_part(px_rows, pack), patient_part(setl))


def patient_part(setl: tuple) -> tuple:
    """The patient's share of :func:`record_key`: sex, age, age in days, birth weight."""
    return tuple(plain(v) for v in setl[:4])


def dx_part(dx_rows, pack: DrgPack) -> tuple:
    """The diagnoses' share of :func:`record_key` (from diseinfo records): as
    ``_record_lists`` of the western rows, in one pass (a case's variants call it by the
    thousand)."""
    main, rest = None, []
    for row in dx_rows:
        kind = row.get("diag_type")
        if not (missing(kind) or str(kind).strip() == "1"):  # as _western_row
            continue
        value = row["diag_code"]
        if missing(value):
            continue
        flag = row["maindiag_flag"]
        if main is None and isinstance(flag, str) and flag == "1":
            main = value
        else:
            rest.append(value)
    return _dx_key(main, rest, pack)


def px_part(px_rows, pack: DrgPack) -> tuple:
    """The procedures' share of :func:`record_key` (from oprninfo records)."""
    pmain, pother = _record_lists(px_rows, "oprn_oprt_code", "oprn_oprt_type")
    return _px_key((pmain, *pother), pack)  # no principal: the first other one is (None skipped)


def key_of(dx: tuple, px: tuple, patient: tuple) -> tuple:
    """A DRG key from its diagnosis, procedure and patient shares."""
    return dx if len(dx) == 1 else (*dx, *px, *patient)


def _key(principal_dx, secondary, procedures, patient: tuple, pack: DrgPack) -> tuple:
    return key_of(_dx_key(principal_dx, secondary, pack), _px_key(procedures, pack), patient)


def _dx_key(principal_dx, secondary, pack: DrgPack) -> tuple:
    known_dx = pack.named_codes[0]
    principal = (principal_dx or "").strip()
    if not principal or principal in pack.zd_invalid:
        return (principal,)  # ungroupable whatever else the case has
    if principal not in known_dx:
        principal = _INERT  # no MDC takes it; pre-MDC rules may, by the other codes
    return principal, frozenset(c for c in secondary if c and c in known_dx)


def _px_key(procedures, pack: DrgPack) -> tuple:
    known_px = pack.named_codes[1]
    px = [c for c in procedures if c and c not in pack.ss_invalid]
    first = (px[0] if px[0] in known_px else _INERT) if px else None
    return first, frozenset(c for c in px[1:] if c in known_px)
