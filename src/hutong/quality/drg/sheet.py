"""Group a whole FaceSheet: ``group_facesheet(sheet, pack)`` → one row per case with its trace.

Many cases of a partition are the same case to the grouper: what :func:`~.grouper.group` reads
(the principal diagnosis, the diagnoses and procedures some table of the pack names, in order,
the procedures it drops, sex, whether a newborn, age in days, birth weight) is alike, and then
so are the DRG and the whole trace. Each such *trace key* is grouped once and its result shared.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
from pandas.arrays import ArrowStringArray

from hutong.gcpause import paused_gc
from hutong.quality.drg.grouper import SETL_FIELDS, case_of, group, missing, plain
from hutong.quality.drg.pack import DrgPack

COLUMNS = ["mdtrt_id", "mdc", "adrg", "drg", "cc_status", "reason", "trace"]


@paused_gc()  # lists, tuples and traces by the thousand, none of them cyclic
def group_facesheet(sheet, pack: DrgPack) -> pd.DataFrame:
    """Group every case of a FaceSheet: mdtrt_id, mdc, adrg, drg, cc_status, reason, trace."""
    dx = _lists(_western(sheet.diseinfo), "diag_code", "maindiag_flag")
    px = _lists(sheet.oprninfo, "oprn_oprt_code", "oprn_oprt_type")
    s = sheet.setlinfo.reindex(columns=["mdtrt_id", *SETL_FIELDS])
    keys = _texts(s["mdtrt_id"])  # as _lists keys them
    mids = s["mdtrt_id"].tolist() if s["mdtrt_id"].hasnans else keys  # the ids as given
    setl = list(zip(*(_plain(s[c]) for c in SETL_FIELDS), strict=True))
    dx_keys, px_keys = _dx_keys(dx, pack), _px_keys(px, pack)
    no_dx, no_px = (None, []), (None, [])
    results: dict[object, tuple] = {}  # trace key → (mdc, adrg, drg, cc_status, reason, trace)
    out: list[tuple] = []
    for key, mid, values in zip(keys, mids, setl, strict=True):
        trace_key = _trace_key(dx_keys.get(key), px_keys.get(key), values)
        hit = results.get(trace_key)
        if hit is None:
            case = case_of(*dx.get(key, no_dx), *px.get(key, no_px), values, mid)
            r = group(case, pack)
            hit = results[trace_key] = (r.mdc, r.adrg, r.drg, r.cc_status, r.reason, r.trace)
        out.append(hit)
    if not out:
        return pd.DataFrame([], columns=COLUMNS)
    columns = list(zip(*out, strict=True))
    frame = {"mdtrt_id": mids, **dict(zip(COLUMNS[1:6], map(list, columns[:5]), strict=True))}
    frame["trace"] = [list(t) for t in columns[5]]  # each case its own list, as grouped alone
    return pd.DataFrame(frame, columns=COLUMNS)


def _trace_key(dx: tuple | None, px: tuple | None, setl: tuple) -> object:
    """What ``group`` reads of one case, trace included (see the module docstring)."""
    gend, age, days, weight = setl[:4]
    newborn = False
    if plain(days) is not None:
        age, days = plain(age), plain(days)
        try:  # as grouper._newborn; a value it cannot compare: the case is grouped alone
            newborn = days is not None and days < 365 and not (age or 0) >= 1
        except TypeError:
            return object()
    # days and weight as given (the trace prints them; a missing one reads None, NA or NaN)
    return dx, px, plain(gend), newborn, repr(days), repr(weight)


def _dx_keys(dx: dict, pack: DrgPack) -> dict[str, tuple]:
    """Case → its principal diagnosis as given, then the others some table names, in order
    (a code no table names hits no rule and shows in no trace)."""
    known = pack.named_codes[0]
    return {k: (main, *(c for c in rest if c in known)) for k, (main, rest) in dx.items()}


def _px_keys(px: dict, pack: DrgPack) -> dict[str, tuple]:
    """Case → the procedures ``group`` drops (ss_invalid, they are traced), its first kept one
    as given (a rule may name it in the trace) and the kept others some table names, in order."""
    known, invalid = pack.named_codes[1], pack.ss_invalid
    out = {}
    for k, (main, rest) in px.items():
        codes = [c for c in (main, *rest) if c]  # the order group() sees, principal first
        dropped = tuple(c for c in codes if c in invalid)
        kept = [c for c in codes if c not in invalid] if dropped else codes
        first = kept[0] if kept else None
        out[k] = (dropped, first, *(c for c in kept[1:] if c in known))
    return out


def _lists(frame: pd.DataFrame, code: str, flag: str) -> dict[str, list]:
    """mdtrt_id → [principal code or None, other codes in order]."""
    f = frame[["mdtrt_id", flag, code]].dropna(subset=[code])
    out: dict[str, list] = {}
    # plain lists: iterating Arrow-backed Series element by element is several times slower
    mains = (f[flag] == "1").to_numpy(dtype=bool, na_value=False).tolist()
    for key, is_main, value in zip(_texts(f["mdtrt_id"]), mains, _texts(f[code]), strict=True):
        entry = out.get(key)
        if entry is None:
            entry = out[key] = [None, []]
        if is_main and entry[0] is None:
            entry[0] = value
        else:
            entry[1].append(value)
    return out


def _texts(values: pd.Series) -> list:
    """A column as a list, missing values as None (Arrow text: by Arrow, far faster)."""
    array = values.array
    if isinstance(array, ArrowStringArray):
        return pa.array(array).to_pylist()
    return [None if missing(v) else v for v in values.tolist()]


def _plain(values: pd.Series) -> list:
    """A column as ``tolist`` gives it (Arrow text by Arrow, far faster; missing as None)."""
    array = values.array
    return pa.array(array).to_pylist() if isinstance(array, ArrowStringArray) else values.tolist()


def _western(diseinfo: pd.DataFrame) -> pd.DataFrame:
    """Western diagnoses only (diag_type 1 or not given): TCM 主病/主证 codes are not ICD-10."""
    if "diag_type" not in diseinfo:
        return diseinfo
    kind = diseinfo["diag_type"].astype("string").str.strip()
    return diseinfo[(kind.isna() | (kind == "1")).to_numpy(dtype=bool)]
