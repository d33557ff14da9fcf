"""Synthetic 4101 face sheets at scale, vectorised: a million seeded cases in seconds.

>>> for sheet in facesheet_batches(1_000_000, batch_size=100_000, seed=7):   # doctest: +SKIP
...     findings = check(sheet)

Unlike :func:`hutong.synthetic.generate` (a few hundred richly detailed cases written as vendor
files), this draws every column of a batch with numpy at once and yields
:class:`~hutong.mapping.facesheet.FaceSheet` objects typed exactly as ``read_facesheet`` types
them, for benchmarks of QC and grouping. Diagnoses and procedures come from the 医保版 sample code
lists, or from the ``CODE NAME`` lists given; the distributions are in ``facesheets.toml``. About
``broken.share`` of the cases carry one deliberate fault (see
:data:`~hutong.synthetic.facesheet_faults.FAULTS`) so rules fire.
Same ``cases``, ``batch_size``, ``seed`` and lists → the same sheets.
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from pandas.arrays import ArrowStringArray

from hutong.mapping.facesheet import NODES, FaceSheet, columns, typed
from hutong.quality.checks import ID_CHECK_CHARS, ID_WEIGHTS
from hutong.synthetic.facesheet_faults import break_cases
from hutong.terminologies.codesystem import DIAGNOSIS, PROCEDURE, read_code_list

# Categories a clean main diagnosis avoids: they need a companion code, a sex, an age or a
# dagger (rules SL-DX-03/04/06/07, SL-SEX-01, PL-AGE-*, PL-SEX-*); they get their own pools.
NEEDS_CONTEXT = ("R00", "R99"), ("S00", "T98"), ("O00", "O99"), ("P00", "P96"), ("Z37", "Z38")
FEMALE = ("O00", "O99"), ("N70", "N98"), ("C51", "C58")
MALE = ("N40", "N51"), ("C60", "C63")
NEWBORN = (("P00", "P96"),)
US = "datetime64[us]"


@cache
def settings() -> dict:
    """The distributions of ``facesheets.toml``."""
    text = resources.files("hutong.synthetic").joinpath("facesheets.toml").read_text("utf-8")
    return tomllib.loads(text)


@dataclass(frozen=True)
class CodePool:
    """Codes and national names of a list, split into the pools the generator draws from."""

    codes: np.ndarray
    names: np.ndarray
    gray: np.ndarray  # indices of gray codes (灰码)
    pools: dict[str, np.ndarray]  # pool name -> indices


def _in(cats: np.ndarray, ranges) -> np.ndarray:
    hit = np.zeros(len(cats), dtype=bool)
    for low, high in ranges:
        hit |= (cats >= low) & (cats <= high)
    return hit


def code_pool(path: Path | None, system: str, principal: Collection[str] | None = None) -> CodePool:
    """Read a ``CODE NAME`` list (default: the shipped sample of ``system``) and its gray list.

    ``principal``, when given, restricts the main diagnoses to those codes (e.g. the codes a DRG
    pack assigns to an MDC), so grouping sees groupable cases.
    """
    if path is None:
        folder = resources.files("hutong.terminologies").joinpath("data")
        path = Path(str(folder.joinpath(f"sample-{system}.txt")))
    pairs = read_code_list(path)
    gray_path = path.with_name(f"{path.stem}-gray{path.suffix}")
    gray_codes = {c for c, _ in read_code_list(gray_path)} if gray_path.exists() else set()
    codes = np.array([c for c, _ in pairs], dtype=object)
    names = np.array([n for _, n in pairs], dtype=object)
    gray = np.array([c in gray_codes for c in codes])
    paired = np.array([("*" in c) or ("+" in c) or ("†" in c) for c in codes])
    cats = np.array([c[:3].upper() for c in codes], dtype=object)
    ok = ~gray & ~paired
    general = ok & ~_in(cats, (*NEEDS_CONTEXT, *FEMALE, *MALE))
    pools = {
        "general": general,
        "female": ok & _in(cats, FEMALE),
        "male": ok & _in(cats, MALE),
        "newborn": ok & _in(cats, NEWBORN),
        "any": ok,
    }
    if principal is not None:
        allowed = np.array([c in principal for c in codes])
        for name in ("general", "female", "male", "newborn"):
            pools[f"main-{name}"] = pools[name] & allowed
    out = {k: np.flatnonzero(v) for k, v in pools.items()}
    if not len(out["general"]):
        out["general"] = out["any"]
    return CodePool(codes, names, np.flatnonzero(gray), out)


def _pick(rng: np.random.Generator, pool: CodePool, wanted: np.ndarray, main: bool) -> np.ndarray:
    """An index into ``pool.codes`` per row from the pool each row asks for (fallback general)."""
    out = np.empty(len(wanted), dtype=np.int64)
    for name in np.unique(wanted):
        rows = wanted == name
        choices = pool.pools.get(f"main-{name}" if main else name, np.array([], dtype=int))
        if not len(choices):
            choices = pool.pools.get("main-general" if main else "general", np.array([]))
        if not len(choices):
            choices = pool.pools["general"]
        out[rows] = choices[rng.integers(0, len(choices), rows.sum())]
    return out


def _weighted(rng: np.random.Generator, table: dict[str, float], n: int) -> np.ndarray:
    keys = np.array(list(table), dtype=object)
    p = np.array(list(table.values()), dtype=float)
    return keys[rng.choice(len(keys), n, p=p / p.sum())]


def _from(rng: np.random.Generator, values: list[str], n: int) -> np.ndarray:
    return np.array(values, dtype=object)[rng.integers(0, len(values), n)]


def _ids(prefix: str, numbers: np.ndarray) -> np.ndarray:
    return np.char.mod(f"{prefix}%010d", numbers).astype(object)


def id_numbers(region: np.ndarray, born: np.ndarray, male: np.ndarray, rng) -> np.ndarray:
    """GB 11643 ID numbers with a valid check character; the 17th digit is odd for men."""
    n = len(region)
    digits = np.empty((n, 18), dtype=np.uint8)
    digits[:, :6] = np.array([list(r) for r in region], dtype="U1").astype(np.uint8)
    ymd = pd.DatetimeIndex(born).strftime("%Y%m%d").to_numpy(dtype="U8")
    digits[:, 6:14] = ymd.view("U1").reshape(n, 8).astype(np.uint8)
    digits[:, 14:16] = rng.integers(0, 10, (n, 2))
    digits[:, 16] = rng.integers(0, 5, n) * 2 + male.astype(np.uint8)
    total = (digits[:, :17].astype(np.int64) * np.array(ID_WEIGHTS)).sum(axis=1)
    ascii_ = digits + ord("0")
    ascii_[:, 17] = np.frombuffer(ID_CHECK_CHARS.encode(), dtype=np.uint8)[total % 11]
    return ascii_.view("S18").ravel().astype("U18").astype(object)


def _full_years(born: pd.DatetimeIndex, on: pd.DatetimeIndex) -> np.ndarray:
    before = (on.month < born.month) | ((on.month == born.month) & (on.day < born.day))
    return np.asarray(on.year - born.year - before.astype(int))


def _column(values: object, n: int) -> object:
    """Text columns straight to Arrow strings (what ``astype("string")`` makes, only faster)."""
    if values is None:
        return pd.Series(ArrowStringArray(pa.nulls(n, pa.large_string())))
    if isinstance(values, np.ndarray) and values.dtype == object:
        return pd.Series(ArrowStringArray(pa.array(values, pa.large_string(), from_pandas=True)))
    return values


def _frame(node: str, data: dict[str, object], n: int) -> pd.DataFrame:
    return pd.DataFrame({c: _column(data.get(c), n) for c in columns(node)})


def _children(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of a child node for ``counts`` rows per case: each row's case and its position."""
    case = np.repeat(np.arange(len(counts)), counts)
    return case, np.arange(len(case)) - (np.cumsum(counts) - counts)[case]


def _patients(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Sex, age group, stay and birth date of each case, consistent with each other."""
    people, dates = settings()["people"], settings()["dates"]
    p: dict[str, np.ndarray] = {"female": rng.random(n) < people["female"]}
    group = rng.random(n)
    cut = np.cumsum([people["newborn"], people["infant"], people["child"]])
    p["newborn"], p["infant"] = group < cut[0], (group >= cut[0]) & (group < cut[1])
    p["child"] = (group >= cut[1]) & (group < cut[2])
    p["adult"] = group >= cut[2]
    first = np.datetime64(dates["first_admission"], "D")
    adm_day = first + rng.integers(0, dates["admission_days"], n).astype("timedelta64[D]")
    adm_sec = rng.integers(6 * 3600, 20 * 3600, n)
    los = np.minimum(rng.geometric(1 / dates["mean_los"], n), dates["max_los"])
    los[rng.random(n) < dates["same_day"]] = 0
    later = adm_sec + rng.integers(600, 86399 - adm_sec)  # a same-day discharge, after admission
    dscg_sec = np.where(los == 0, later, rng.integers(7 * 3600, 18 * 3600, n))
    dscg_day = adm_day + los.astype("timedelta64[D]")
    p.update(adm_day=adm_day, los=los, dscg_day=dscg_day)
    p["adm_time"] = adm_day.astype(US) + adm_sec.astype("timedelta64[s]")
    p["dscg_time"] = dscg_day.astype(US) + dscg_sec.astype("timedelta64[s]")

    young = p["newborn"] | p["infant"]
    days = np.where(p["newborn"], rng.integers(0, 29, n), rng.integers(29, 365, n))
    p["years"] = np.where(p["child"], rng.integers(1, 18, n), rng.integers(18, 91, n))
    back = np.where(young, days, np.round(p["years"] * 365.25 + rng.integers(0, 365, n)))
    p["brdy"] = adm_day - back.astype("timedelta64[D]")
    born, on = pd.DatetimeIndex(p["brdy"].astype(US)), pd.DatetimeIndex(adm_day.astype(US))
    p["age"] = _full_years(born, on).astype(float)
    p["nwb_age"] = np.where(p["age"] < 1, np.asarray((on - born).days, dtype=float), np.nan)
    weight = rng.normal(3300, 500, n).clip(600, 5000).round()
    p["bir_wt"] = np.where(p["newborn"], weight, np.nan)
    p["adm_wt"] = np.where(p["newborn"], weight + rng.integers(-200, 200, n), np.nan)
    return p


def _diagnoses(rng: np.random.Generator, p: dict, dx: CodePool) -> dict[str, np.ndarray]:
    """1–8 diagnoses per case, the main one first, from a pool fitting the patient."""
    people, codes = settings()["people"], settings()["codes"]
    n = len(p["age"])
    count = 1 + rng.binomial(7, codes["diagnoses_p"], n)
    wanted = np.full(n, "general", dtype=object)
    wanted[p["newborn"] | p["infant"]] = "newborn"
    fertile = p["female"] & p["adult"] & (p["years"] <= 45)
    wanted[fertile & (rng.random(n) < people["obstetric"])] = "female"
    wanted[~p["female"] & p["adult"] & (rng.random(n) < people["male_organ"])] = "male"
    case, pos = _children(count)
    main = pos == 0
    index = _pick(rng, dx, np.where(wanted == "newborn", "newborn", "general")[case], False)
    index[main] = _pick(rng, dx, wanted, True)
    adm_cond = _weighted(rng, codes["adm_cond_other"], len(case))
    adm_cond[main] = _weighted(rng, codes["adm_cond_main"], n)
    return {
        "case": case,
        "count": count,
        "maindiag_flag": np.where(main, "1", "0").astype(object),
        "diag_type": np.full(len(case), "1", dtype=object),
        "diag_code": dx.codes[index],
        "diag_name": dx.names[index],
        "adm_cond_type": adm_cond,
    }


def _procedures(rng: np.random.Generator, p: dict, px: CodePool, day_surgery) -> dict:
    """0–3 procedures per case (at least one in day surgery), dated within the stay."""
    codes = settings()["codes"]
    count = rng.binomial(3, codes["procedures_p"], len(p["age"]))
    count[day_surgery] = np.maximum(count[day_surgery], 1)
    case, pos = _children(count)
    index = _pick(rng, px, np.full(len(case), "any", dtype=object), False)
    offset = (rng.random(len(case)) * (p["los"][case] + 1)).astype("timedelta64[D]")
    hour = rng.integers(8 * 3600, 17 * 3600, len(case)).astype("timedelta64[s]")
    return {
        "case": case,
        "count": count,
        "oprn_oprt_type": np.where(pos == 0, "1", "2").astype(object),
        "oprn_oprt_name": px.names[index],
        "oprn_oprt_code": px.codes[index],
        "oprn_oprt_date": (p["adm_day"][case] + offset).astype(US) + hour,
        "anst_way": (anst := _weighted(rng, codes["anst_way"], len(case))),
        "oper_dr_code": (doctor := _ids("D", rng.integers(0, 400, len(case)))),
        "oper_dr_name": np.char.add("医师", doctor.astype(str)).astype(object),
        "anst_dr_code": np.where(anst != "9", _ids("M", rng.integers(0, 60, len(case))), None),
        "anst_dr_name": np.where(anst != "9", "麻醉医师", None),
    }


def _fees(rng: np.random.Generator, p: dict, operated: np.ndarray) -> dict[str, np.ndarray]:
    """Distinct fee categories per case, each amount split 甲/乙/自费 exactly to the cent: bed
    (01) and nursing (07) for stays over a day, operation (06) with a procedure."""
    fees = settings()["fees"]
    n = len(p["los"])
    per_day = rng.lognormal(np.log(fees["per_day_median"]), fees["per_day_sigma"], n)
    per_day = np.minimum(per_day, fees["max_per_day"])
    total = np.round(per_day * np.maximum(p["los"], 1) * 100).astype(np.int64)
    low, high = fees["categories"]
    count = rng.integers(low, high + 1, n)
    keys = rng.random((n, 14))
    keys[p["los"] > 1, 0] = keys[p["los"] > 1, 6] = keys[operated, 5] = -1  # these come first
    chosen = np.argsort(keys, axis=1)[:, :high] + 1  # categories 01–14
    chosen = np.where(np.arange(high) < count[:, None], chosen, 99)
    chosen.sort(axis=1)
    case, slot = np.nonzero(chosen < 99)
    share = np.where(chosen < 99, rng.random((n, high)) + 0.05, 0)
    cents = np.floor(total[:, None] * share / share.sum(axis=1, keepdims=True)).astype(np.int64)
    cents = np.maximum(cents[case, slot], 1)
    claa = np.floor(cents * rng.uniform(*fees["claa"], len(cents))).astype(np.int64)
    own = np.floor(cents * rng.uniform(*fees["ownpay"], len(cents))).astype(np.int64)
    return {
        "case": case,
        "med_chrgitm": np.char.mod("%02d", chosen[case, slot]).astype(object),
        "amt": cents / 100,
        "claa_sumfee": claa / 100,
        "clab_amt": (cents - claa - own) / 100,
        "fulamt_ownpay_amt": own / 100,
        "oth_amt": np.zeros(len(cents)),
    }


def _address(rng: np.random.Generator, hosp: dict, n: int) -> np.ndarray:
    number = np.char.mod("%d号", rng.integers(1, 300, n)).astype(object)
    return "互通市" + _from(rng, hosp["streets"], n) + number


def _setlinfo(rng: np.random.Generator, start: int, p: dict, dise: dict, oprn: dict) -> dict:
    """The setlinfo columns hutong fills, with the national codes."""
    hosp, values, people = (settings()[k] for k in ("hospital", "values", "people"))
    n, female = len(p["age"]), p["female"]
    numbers = np.arange(start, start + n)
    dscg_way = _weighted(rng, values["dscg_way"], n)
    readmit = (rng.random(n) < values["readmit_31"]) & (dscg_way != "5")
    at = rng.integers(0, len(hosp["fixmedins_code"]), n)
    caty = _from(rng, hosp["caty"], n)
    transfer = np.isin(dscg_way, ["2", "3"])
    return {
        "mdtrt_id": _ids("SYN", numbers),
        "setl_id": _ids("SETL", numbers),
        "fixmedins_name": np.array(hosp["fixmedins_name"], dtype=object)[at],
        "fixmedins_code": np.array(hosp["fixmedins_code"], dtype=object)[at],
        "medcasno": _ids("BA", numbers),
        "psn_name": _from(rng, hosp["surnames"], n) + _from(rng, hosp["given"], n),
        "gend": np.where(female, "2", "1").astype(object),
        "brdy": p["brdy"].astype(US),
        "age": p["age"],
        "nwb_age": p["nwb_age"],
        "ntly": _weighted(rng, people["ntly"], n),
        "naty": _weighted(rng, people["naty"], n),
        "prfs": (prfs := _weighted(rng, people["prfs"], n)),
        "emp_name": np.where(
            employed := np.isin(prfs, people["employed"]), _from(rng, people["employers"], n), None
        ),
        "emp_addr": np.where(employed, _address(rng, hosp, n), None),
        "curr_addr": (addr := _address(rng, hosp, n)),
        "coner_name": _from(rng, hosp["surnames"], n) + _from(rng, hosp["given"], n),
        "patn_rlts": _weighted(rng, people["patn_rlts"], n),
        "coner_addr": addr,
        "coner_tel": np.char.mod("139%08d", rng.integers(0, 10**8, n)).astype(object),
        "patn_cert_type": np.full(n, "01", dtype=object),
        "certno": id_numbers(_from(rng, hosp["regions"], n), p["brdy"], ~female, rng),
        "hi_type": _weighted(rng, values["hi_type"], n),
        "nwb_adm_type": np.where(p["newborn"], "1", None).astype(object),
        "nwb_bir_wt": p["bir_wt"],
        "nwb_adm_wt": p["adm_wt"],
        "ipt_med_type": p["ipt_med_type"],
        "adm_way": _weighted(rng, values["adm_way"], n),
        "adm_time": p["adm_time"],
        "adm_caty": caty,
        "dscg_time": p["dscg_time"],
        "dscg_caty": caty,
        "act_ipt_days": np.maximum(p["los"], 1).astype(float),
        "otp_wm_dise": dise["diag_name"][dise["maindiag_flag"] == "1"],
        "wm_dise_code": dise["diag_code"][dise["maindiag_flag"] == "1"],
        "diag_code_cnt": dise["count"].astype(float),
        "oprn_oprt_code_cnt": oprn["count"].astype(float),
        "dscg_way": dscg_way,
        "acp_medins_name": np.where(transfer, _from(rng, hosp["transfer_to"], n), None),
        "days_rinp_flag_31": np.where(readmit, "2", "1").astype(object),
        "days_rinp_pup_31": np.where(readmit, "计划性再入院", None).astype(object),
        "chfpdr_code": _ids("D", rng.integers(0, 400, n)),
        "chfpdr_name": _from(rng, hosp["surnames"], n) + _from(rng, hosp["given"], n),
        "setl_begn_date": p["adm_day"].astype(US),
        "setl_end_date": p["dscg_day"].astype(US),
    }


def _batch(n: int, start: int, rng: np.random.Generator, dx: CodePool, px: CodePool) -> FaceSheet:
    p = _patients(n, rng)
    p["ipt_med_type"] = _weighted(rng, settings()["values"]["ipt_med_type"], n)
    dise = _diagnoses(rng, p, dx)
    oprn = _procedures(rng, p, px, p["ipt_med_type"] == "2")
    item = _fees(rng, p, oprn["count"] > 0)
    setl = _setlinfo(rng, start, p, dise, oprn)
    ids = setl["mdtrt_id"]
    frames = {"setlinfo": _frame("setlinfo", setl, n)}
    for node, rows in (("diseinfo", dise), ("oprninfo", oprn), ("iteminfo", item)):
        frames[node] = _frame(node, {**rows, "mdtrt_id": ids[rows["case"]]}, len(rows["case"]))
    gray = (dx.codes[dx.gray], dx.names[dx.gray])
    main, share = dise["maindiag_flag"] == "1", settings()["broken"]["share"]
    break_cases(frames, rng, share, gray, main, dise["case"], oprn["case"], item["case"])
    return typed(FaceSheet(**{node: frames[node] for node in NODES}))


def code_pools(
    dx_codes: Path | None = None,
    px_codes: Path | None = None,
    principal: Collection[str] | None = None,
) -> tuple[CodePool, CodePool]:
    """The diagnosis and procedure pools of :func:`facesheet_batches` (load once, reuse)."""
    return code_pool(dx_codes, DIAGNOSIS, principal), code_pool(px_codes, PROCEDURE)


def facesheet_batch(
    number: int, cases: int, batch_size: int, seed: int, pools: tuple[CodePool, CodePool]
) -> FaceSheet:
    """Batch ``number`` (from 0) of ``facesheet_batches(cases, batch_size, seed, ...)`` on its
    own, so parallel workers can each draw theirs; IndexError past the last batch."""
    start = number * batch_size
    if number < 0 or start >= cases:
        raise IndexError(f"batch {number} is past the {cases} cases")
    rng = np.random.default_rng([seed, number])
    return _batch(min(batch_size, cases - start), start, rng, *pools)


def facesheet_batches(
    cases: int,
    batch_size: int = 100_000,
    seed: int = 0,
    *,
    dx_codes: Path | None = None,
    px_codes: Path | None = None,
    principal: Collection[str] | None = None,
) -> Iterator[FaceSheet]:
    """Yield face sheets of ``batch_size`` cases (the last one smaller) until ``cases`` are made.

    ``dx_codes``/``px_codes`` are ``CODE NAME`` lists (default: the shipped 医保版 samples; a
    ``-gray`` sibling marks gray codes, used only for faults); ``principal`` restricts main
    diagnoses to those codes. Case ids are ``SYN`` + a 10-digit number, unique over the run.
    """
    if cases < 0 or batch_size < 1:
        raise ValueError("cases must be >= 0 and batch_size >= 1")
    pools = code_pools(dx_codes, px_codes, principal)
    for number in range(-(-cases // batch_size)):
        yield facesheet_batch(number, cases, batch_size, seed, pools)
