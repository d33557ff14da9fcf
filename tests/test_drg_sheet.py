"""group_facesheet groups each distinct case once and shares the result: every row must still be
exactly what ``group`` gives that case alone (DRG, reason and the whole trace)."""

from __future__ import annotations

import random

import pandas as pd
import pytest

from hutong.mapping.facesheet import FaceSheet
from hutong.quality.drg import group, group_facesheet, load_pack, sample_pack_path
from hutong.quality.drg.grouper import SETL_FIELDS, case_input

UNKNOWN_DX, UNKNOWN_PX = ("ZZ9.900", "ZZ8.800"), ("99.9900", "98.9800")
RESULT = ["mdc", "adrg", "drg", "cc_status", "reason", "trace"]


def flag(i: int) -> str:
    """The first code of a case is its principal one."""
    return "1" if i == 0 else "0"


def sheet_of(cases: list[dict]) -> FaceSheet:
    """A FaceSheet from cases given as {id, dx: [codes, principal first], px: [...], setl}."""
    setl = pd.DataFrame(
        [{"mdtrt_id": c["id"], **dict(zip(SETL_FIELDS, c["setl"], strict=True))} for c in cases]
    ).astype({"mdtrt_id": "string", "gend": "string", "dscg_way": "string"})
    for col in ("age", "nwb_age", "nwb_bir_wt", "act_ipt_days"):
        setl[col] = setl[col].astype("Float64")
    dise = [
        (c["id"], "1" if i == 0 else "0", code) for c in cases for i, code in enumerate(c["dx"])
    ]
    oprn = [
        (c["id"], "1" if i == 0 else "0", code) for c in cases for i, code in enumerate(c["px"])
    ]
    return FaceSheet(
        setlinfo=setl,
        diseinfo=pd.DataFrame(
            dise, columns=["mdtrt_id", "maindiag_flag", "diag_code"], dtype="string"
        ),
        oprninfo=pd.DataFrame(
            oprn, columns=["mdtrt_id", "oprn_oprt_type", "oprn_oprt_code"], dtype="string"
        ),
        iteminfo=pd.DataFrame(),
    )


def alone(c: dict, pack) -> tuple:
    """What ``group`` gives the case by itself."""
    dx = [{"diag_code": x, "maindiag_flag": flag(i)} for i, x in enumerate(c["dx"])]
    px = [{"oprn_oprt_code": x, "oprn_oprt_type": flag(i)} for i, x in enumerate(c["px"])]
    r = group(case_input(dx, px, c["setl"], c["id"]), pack)
    return (r.mdc, r.adrg, r.drg, r.cc_status, r.reason, r.trace)


def assert_each_as_alone(cases: list[dict], pack) -> pd.DataFrame:
    out = group_facesheet(sheet_of(cases), pack)
    assert out["mdtrt_id"].tolist() == [c["id"] for c in cases]
    for c, row in zip(cases, out[RESULT].itertuples(index=False), strict=True):
        assert tuple(row) == alone(c, pack), c
    return out


def patient(sex="1", age=50.0, days=None, weight=None) -> tuple:
    return (sex, age, days, weight, "1", 5.0)


def test_alike_cases_keep_their_own_ids_ages_and_traces(drg_pack):
    """Same codes, different ids, sex, newborn age (the trace prints the days) and weight."""
    newborn = sorted(drg_pack.mdcp_codes)[0]
    base = {"dx": [newborn], "px": []}
    cases = [
        {**base, "id": "N1", "setl": patient(age=0.0, days=12.0, weight=3000.0)},
        {**base, "id": "N2", "setl": patient(age=0.0, days=12.0, weight=3000.0)},
        {**base, "id": "N3", "setl": patient(age=0.0, days=40.0, weight=3000.0)},
        {**base, "id": "N4", "setl": patient(age=0.0, days=12.0, weight=1500.0)},
        {**base, "id": "N5", "setl": patient(age=2.0, days=12.0, weight=3000.0)},  # not newborn
        {**base, "id": "N6", "setl": patient(sex="2", age=0.0, days=12.0, weight=3000.0)},
    ]
    gated = next(c for c, mdcs in sorted(drg_pack.mdc_of.items()) if mdcs[0] in "MN")
    for sex in ("1", "2", None):  # a male- or female-only MDC: the trace shows the sex
        cases.append({"id": f"S{sex}", "dx": [gated], "px": [], "setl": patient(sex=sex)})
    out = assert_each_as_alone(cases, drg_pack)
    assert out.loc[0, "trace"] == out.loc[1, "trace"]
    assert out.loc[0, "trace"] is not out.loc[1, "trace"]  # each row its own list
    assert out.loc[0, "trace"] != out.loc[2, "trace"]  # 12 d vs 40 d shows in the trace


def test_unknown_and_dropped_codes_keep_each_trace(drg_pack):
    """Codes no table names are left out of the shared key, but not the first procedure (a rule
    may print it) nor the ss_invalid ones (the trace lists them): each row stays exact."""
    dx = sorted(drg_pack.mdc_of)[::97][:4]
    cc = sorted(drg_pack.cc)[:2]
    ors = sorted(drg_pack.or_procedures)[:2]
    bad = sorted(drg_pack.ss_invalid)[:1]
    cases = []
    for i, principal in enumerate(dx):
        for j, (sec, px) in enumerate(
            [
                ([], []),
                ([UNKNOWN_DX[0]], []),
                ([UNKNOWN_DX[0], *cc], [UNKNOWN_PX[0], *ors]),
                ([UNKNOWN_DX[1], *cc], [UNKNOWN_PX[1], *ors]),  # another unknown first px
                ([*cc, UNKNOWN_DX[1]], [*ors, UNKNOWN_PX[0]]),
                (cc[::-1], ors),  # order shows in the trace
                (cc[::-1], ors[::-1]),
                (cc, [*bad, *ors]),
                (cc, [*ors, *bad]),
                (cc, ors),
            ]
        ):
            cases.append({"id": f"K{i}{j}", "dx": [principal, *sec], "px": px, "setl": patient()})
    assert_each_as_alone(cases, drg_pack)


@pytest.mark.parametrize("which", ["official", "sample"])
def test_many_mixed_cases_are_each_as_grouped_alone(which, drg_pack):
    """Seeded cases drawn from the pack's own lists plus unknown codes, with repeats."""
    pack = drg_pack if which == "official" else load_pack(sample_pack_path())
    rnd = random.Random(7)
    principals = sorted(pack.mdc_of)[::11] + sorted(pack.mdcp_codes)[:3] + [*UNKNOWN_DX, ""]
    secondaries = sorted({*pack.mcc, *pack.cc, *pack.mdcy_codes})[::13] + list(UNKNOWN_DX)
    trauma = sorted(set().union(*pack.mdcz_categories.values()))[::7]
    procedures = sorted({*pack.or_procedures, *pack.ss_invalid})[::9] + list(UNKNOWN_PX)
    cases = []
    for i in range(600):
        days = rnd.choice([None, 3.0, 200.0])
        setl = patient(
            sex=rnd.choice(["1", "2", None]),
            age=rnd.choice([0.0, 1.0, 45.0, None]),
            days=days,
            weight=rnd.choice([None, 900.0, 3200.0]) if days else None,
        )
        dx = [rnd.choice(principals), *rnd.sample(secondaries + trauma, rnd.randint(0, 4))]
        px = rnd.sample(procedures, rnd.randint(0, 3))
        cases.append({"id": f"M{i:04d}", "dx": dx, "px": px, "setl": setl})
    cases += [{**c, "id": f"R{c['id']}"} for c in cases[::5]]  # repeats under other ids
    assert_each_as_alone(cases, pack)
