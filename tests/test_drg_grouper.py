"""CHS-DRG 2.0 grouping against the real pack; every code is picked from the pack's own lists."""

from __future__ import annotations

import time
from functools import cache
from pathlib import Path

import pandas as pd
import pytest

from hutong.mapping.facesheet import FaceSheet
from hutong.quality.drg import CaseInput, group, group_facesheet, load_pack

MEDICAL = "B37.100"  # ES1 主要诊断, MDCE only, cce table 15, not itself an MCC/CC


@cache
def _load(folder: Path):
    return load_pack(folder)


@pytest.fixture
def pack(reference):
    return _load(reference / "chs-drg-2.0")


def case(pack, **kw):
    kw.setdefault("principal_dx", MEDICAL)
    kw.setdefault("sex", "1")
    kw.setdefault("age", 50)
    return group(CaseInput(**kw), pack)


def first_px(pack, adrg: str) -> str:
    section = next(s for s in pack.adrgs[adrg].sections if s.kind == "px")
    return min(c for c in section.codes if c not in pack.ss_invalid)


def plain(pack, table: dict[str, str], same: bool) -> str:
    """A CC/MCC code whose table is (or is not) the principal's, outside MDCY/MDCZ lists."""
    trauma = set().union(*pack.mdcz_categories.values())
    pt = pack.cce[MEDICAL]
    return min(
        c
        for c, t in table.items()
        if (t == pt) == same and c not in pack.mdcy_codes and c not in trauma
    )


def test_plain_medical_case_is_suffix_5(pack):
    r = case(pack)
    assert (r.mdc, r.adrg, r.drg, r.cc_status) == ("E", "ES1", "ES15", "none")
    assert r.trace and "ADRG ES1: section 主要诊断 hit by B37.100" in r.trace


def test_mcc_cc_and_exclusion(pack):
    mcc, cc = plain(pack, pack.mcc, False), plain(pack, pack.cc, False)
    assert case(pack, secondary_dx=(mcc,)).drg == "ES11"
    assert case(pack, secondary_dx=(cc,)).drg == "ES13"
    assert case(pack, secondary_dx=(cc, mcc)).cc_status == "MCC"
    excluded = plain(pack, pack.cc, True)
    r = case(pack, secondary_dx=(excluded,))
    assert (r.drg, r.cc_status) == ("ES15", "none")
    assert any("excluded" in t for t in r.trace)
    assert case(pack, secondary_dx=(plain(pack, pack.mcc, True),)).drg == "ES15"


def test_unsplit_adrg_is_suffix_9(pack):
    r = case(pack, principal_dx="G43.000")  # BV3, only BV39 exists
    assert (r.adrg, r.drg) == ("BV3", "BV39")
    mcc = plain(pack, pack.mcc, False)
    assert case(pack, principal_dx="G43.000", secondary_dx=(mcc,)).drg == "BV39"


def test_surgical_and_non_or_procedure_adrgs(pack):
    principal = "I27.801"  # FV1 主要诊断, MDCF
    assert case(pack, principal_dx=principal).adrg[:2] == "FV"
    surgical = first_px(pack, "FF2")
    r = case(pack, principal_dx=principal, principal_px=surgical)
    assert r.mdc == "F" and r.adrg[1] <= "J", r.trace
    r = case(pack, principal_dx=principal, principal_px="39.7103")  # FM1 主要手术或操作
    assert r.adrg == "FM1" and r.drg.startswith("FM1"), r.trace
    assert "ADRG FM1: section 主要手术或操作 hit by 39.7103" in r.trace


def test_qy_when_surgery_unrelated_to_principal(pack):
    px = first_px(pack, "GB1")  # a surgical procedure of MDCG
    assert px in pack.or_procedures
    r = case(pack, principal_px=px)
    assert (r.mdc, r.adrg, r.drg) == ("E", "EQY", "EQY"), r.trace
    assert any(t.startswith("QY:") for t in r.trace)


def test_ss_invalid_procedure_is_ignored(pack):
    px = min(pack.ss_invalid)
    r = case(pack, principal_px=px)
    assert r.drg == "ES15"
    assert f"procedure {px} ignored (ss_invalid)" in r.trace


@pytest.mark.parametrize(
    ("weight", "drg"), [(1200, "PS1"), (1800, "PS2"), (2200, "PS3"), (3000, "PS4")]
)
def test_mdcp_newborn_by_birth_weight(pack, weight, drg):
    r = case(pack, principal_dx="P07.300x001", age=0, age_days=12, birth_weight=weight)
    assert r.mdc == "P" and r.adrg == drg, r.trace
    assert "MDCP: principal P07.300x001 in MDCP list; age 12 d" in r.trace


def test_mdcy_hiv(pack):
    r = case(pack, principal_dx="B20.000x001")
    assert r.mdc == "Y" and r.adrg.startswith("YR"), r.trace


def test_mdcz_two_trauma_regions(pack):
    cats = list(pack.mdcz_categories.values())
    a, b = min(cats[0] - cats[1]), min(cats[1] - cats[0])
    r = case(pack, principal_dx=a, secondary_dx=(b,))
    assert (r.mdc, r.adrg) == ("Z", "ZZ1"), r.trace
    assert any(t.startswith("MDCZ:") for t in r.trace)


def test_mdca_by_procedure(pack):
    px = first_px(pack, "AB1")  # 肝移植
    r = case(pack, principal_px=px)
    assert (r.mdc, r.adrg) == ("A", "AB1"), r.trace


def test_sex_gates(pack):
    code = "C49.503"  # listed in both MDCM and MDCN
    assert case(pack, principal_dx=code, sex="1").mdc == "M"
    assert case(pack, principal_dx=code, sex="2").mdc == "N"
    only_n = min(c for c, m in pack.mdc_of.items() if m == ("N",))
    r = case(pack, principal_dx=only_n, sex="1")
    assert r.mdc != "N" and r.drg == "0000" and "sex" in r.reason


def test_zd_invalid_principal_is_ungroupable(pack):
    code = min(pack.zd_invalid)
    r = case(pack, principal_dx=code)
    assert r.drg == "0000" and "zd_invalid" in r.reason and r.trace
    assert case(pack, principal_dx=None).reason == "no principal diagnosis"


def test_group_facesheet_and_speed(pack):
    n = 3000
    ids = [f"C{i:05d}" for i in range(n)]
    px = first_px(pack, "GB1")
    mcc = plain(pack, pack.mcc, False)
    setl = pd.DataFrame(
        {
            "mdtrt_id": ids,
            "gend": ["1"] * n,
            "age": [50.0] * n,
            "nwb_age": [None] * n,
            "nwb_bir_wt": [None] * n,
            "dscg_way": ["1"] * n,
            "act_ipt_days": [5.0] * n,
        }
    )
    dise = pd.DataFrame(
        {
            "mdtrt_id": ids * 2,
            "maindiag_flag": ["1"] * n + ["0"] * n,
            "diag_code": [MEDICAL] * n + [mcc if i % 2 else "R50.900" for i in range(n)],
        }
    )
    oprn = pd.DataFrame(
        {"mdtrt_id": ids[::3], "oprn_oprt_type": ["1"] * len(ids[::3]), "oprn_oprt_code": px}
    )
    sheet = FaceSheet(setlinfo=setl, diseinfo=dise, oprninfo=oprn, iteminfo=pd.DataFrame())
    start = time.perf_counter()
    out = group_facesheet(sheet, pack)
    rate = n / (time.perf_counter() - start)
    assert list(out.columns[:6]) == ["mdtrt_id", "mdc", "adrg", "drg", "cc_status", "reason"]
    assert out.loc[0, "drg"] == "EQY" and out.loc[1, "drg"] == "ES11"
    assert out["trace"].map(len).gt(0).all()
    assert rate > 2000, rate
