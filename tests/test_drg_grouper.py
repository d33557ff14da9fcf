"""CHS-DRG 2.0 grouping against the real pack; every code is picked from the pack's own lists."""

from __future__ import annotations

import pandas as pd
import pytest

from hutong.mapping.facesheet import FaceSheet
from hutong.quality.drg import CaseInput, group, group_facesheet

MEDICAL = "B37.100"  # ES1 主要诊断, MDCE only, cce table 15, not itself an MCC/CC


@pytest.fixture
def pack(drg_pack):
    return drg_pack


def case(pack, **kw):
    kw.setdefault("principal_dx", MEDICAL)
    kw.setdefault("sex", "1")
    kw.setdefault("age", 50)
    return group(CaseInput(**kw), pack)


def first_px(pack, adrg: str) -> str:
    section = next(s for s in pack.adrgs[adrg].sections if s.kind == "px")
    return min(c for c in section.codes if c not in pack.ss_invalid)


def fired(r, adrg: str) -> str:
    """The trace line saying ``adrg``'s rule took the case (fails when there is none)."""
    lines = [t for t in r.trace if t.startswith(f"ADRG {adrg}: ") and "rule holds but" not in t]
    assert lines, r.trace
    return lines[0]


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
    r = case(pack, secondary_dx=(mcc,))
    assert r.drg == "ES11" and fired(r, "ES1")
    assert f"MCC: {mcc} (table {pack.mcc[mcc]}) ≠ principal table {pack.cce[MEDICAL]}" in r.trace
    assert "DRG ES11: MCC (suffixes 135)" in r.trace
    r = case(pack, secondary_dx=(cc,))
    assert r.drg == "ES13" and "DRG ES13: CC (suffixes 135)" in r.trace
    assert case(pack, secondary_dx=(cc, mcc)).cc_status == "MCC"
    excluded = plain(pack, pack.cc, True)
    r = case(pack, secondary_dx=(excluded,))
    assert (r.drg, r.cc_status) == ("ES15", "none")
    assert f"CC: {excluded} excluded (table {pack.cce[MEDICAL]} = principal table)" in r.trace
    assert case(pack, secondary_dx=(plain(pack, pack.mcc, True),)).drg == "ES15"


def test_unsplit_adrg_is_suffix_9(pack):
    r = case(pack, principal_dx="G43.000")  # BV3, only BV39 exists
    assert (r.adrg, r.drg) == ("BV3", "BV39")
    assert fired(r, "BV3") == "ADRG BV3: section 主要诊断 hit by G43.000"
    assert "DRG BV39: none (suffixes 9)" in r.trace
    mcc = plain(pack, pack.mcc, False)
    assert case(pack, principal_dx="G43.000", secondary_dx=(mcc,)).drg == "BV39"


def test_surgical_and_non_or_procedure_adrgs(pack):
    principal = "I27.801"  # FV1 主要诊断, MDCF
    r = case(pack, principal_dx=principal)
    assert r.adrg == "FV1" and fired(r, "FV1") == f"ADRG FV1: section 主要诊断 hit by {principal}"
    surgical = first_px(pack, "FF2")
    r = case(pack, principal_dx=principal, principal_px=surgical)
    assert r.mdc == "F" and r.adrg[1] <= "J", r.trace
    assert f"section 主要手术或操作 hit by {surgical}" in fired(r, r.adrg)
    r = case(pack, principal_dx=principal, principal_px="39.7103")  # FM1 主要手术或操作
    assert r.adrg == "FM1" and r.drg.startswith("FM1"), r.trace
    assert "ADRG FM1: section 主要手术或操作 hit by 39.7103" in r.trace


def test_qy_when_surgery_unrelated_to_principal(pack):
    px = first_px(pack, "GB1")  # a surgical procedure of MDCG
    assert px in pack.or_procedures
    r = case(pack, principal_px=px)
    assert (r.mdc, r.adrg, r.drg) == ("E", "EQY", "EQY"), r.trace
    assert fired(r, "ES1")  # the medical ADRG held first, then the OR procedure redirected it
    assert f"QY: medical ES1 but OR procedure {px} → EQY" in r.trace
    # a procedure named by no surgical ADRG (手法助产) never causes QY
    assert "73.5900" not in pack.or_procedures
    assert case(pack, principal_px="73.5900").drg == "ES15"


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
    assert r.mdc == "P" and r.adrg == drg and r.drg[:3] == drg and r.drg in pack.drg_names, r.trace
    assert "MDCP: principal P07.300x001 in MDCP list; age 12 d" in r.trace
    assert fired(r, drg) == f"ADRG {drg}: section 诊断 hit by P07.300x001"
    for other in {"PS1", "PS2", "PS3", "PS4"} - {drg}:
        if pack.adrgs[other].code < drg:  # tried first, refused by its weight band
            assert any(t.startswith(f"ADRG {other}: rule holds but birth weight") for t in r.trace)


def test_mdcp_infant_pv1_and_neonate_surgery(pack):
    """PV1 is for 29 d ≤ age < 1 y; the other MDCP ADRGs (PU1 shares PV1's codes) for < 29 d."""
    code = min(pack.adrgs["PV1"].sections[0].codes & pack.adrgs["PU1"].sections[0].codes)
    r = case(pack, principal_dx=code, age=0, age_days=100)
    assert (r.mdc, r.adrg, r.drg) == ("P", "PV1", "PV19"), r.trace
    assert "ADRG PU1: rule holds but age 100 d outside [0, 29)" in r.trace
    assert fired(r, "PV1") == f"ADRG PV1: section 主要诊断 hit by {code}"
    r = case(pack, principal_dx=code, age=0, age_days=10)
    assert (r.adrg, r.drg) == ("PU1", "PU19"), r.trace
    assert fired(r, "PU1")
    px = first_px(pack, "PB1")
    r = case(
        pack, principal_dx="P07.300x001", principal_px=px, age=0, age_days=10, birth_weight=3000
    )
    assert (r.adrg, r.drg) == ("PB1", "PB19") and fired(r, "PB1")
    r = case(
        pack, principal_dx="P07.300x001", principal_px=px, age=0, age_days=40, birth_weight=3000
    )
    assert r.adrg != "PB1" and "ADRG PB1: rule holds but age 40 d outside [0, 29)" in r.trace


def test_mdcy_hiv(pack):
    r = case(pack, principal_dx="B20.000x001")
    assert (r.mdc, r.adrg, r.drg) == ("Y", "YR1", "YR15"), r.trace
    assert "MDCY: HIV diagnosis B20.000x001" in r.trace
    assert fired(r, "YR1") == "ADRG YR1: section 诊断 hit by B20.000x001"
    # any diagnosis position starts MDCY
    r = case(pack, secondary_dx=("B20.000x001",))
    assert r.mdc == "Y" and r.adrg == "YR1", r.trace


def test_mdcz_two_trauma_regions(pack):
    cats = list(pack.mdcz_categories.values())
    a, b = min(cats[0] - cats[1]), min(cats[1] - cats[0])
    r = case(pack, principal_dx=a, secondary_dx=(b,))
    assert (r.mdc, r.adrg) == ("Z", "ZZ1") and r.drg[:3] == "ZZ1", r.trace
    names = list(pack.mdcz_categories)
    assert f"MDCZ: {names[0]} by {a}, {names[1]} by {b}" in r.trace
    assert fired(r, "ZZ1") == "ADRG ZZ1: no qualifying procedure"
    # one region only is no multiple trauma
    assert case(pack, principal_dx=a).mdc != "Z"


def test_mdca_by_procedure(pack):
    px = first_px(pack, "AB1")  # 肝移植
    r = case(pack, principal_px=px)
    assert (r.mdc, r.adrg, r.drg) == ("A", "AB1", "AB19"), r.trace
    assert fired(r, "AB1") == f"ADRG AB1: section 主要手术或操作 hit by {px}"
    assert "MDCA: AB1 肝移植" in r.trace


def test_sex_gates(pack):
    code = "C49.503"  # listed in both MDCM and MDCN
    r = case(pack, principal_dx=code, sex="1")
    assert r.mdc == "M" and r.adrg[0] == "M" and fired(r, r.adrg), r.trace
    assert f"MDCM: principal {code} in MDCM identifying diagnoses" in r.trace
    r = case(pack, principal_dx=code, sex="2")
    assert r.mdc == "N" and r.adrg[0] == "N" and fired(r, r.adrg), r.trace
    assert "MDCM: skipped, male only (sex 2)" in r.trace
    only_n = min(c for c, m in pack.mdc_of.items() if m == ("N",))
    r = case(pack, principal_dx=only_n, sex="1")
    assert r.mdc != "N" and r.drg == "0000" and "sex" in r.reason


def test_zd_invalid_principal_is_ungroupable(pack):
    code = min(pack.zd_invalid)
    r = case(pack, principal_dx=code)
    assert r.drg == "0000" and "zd_invalid" in r.reason and r.trace
    assert case(pack, principal_dx=None).reason == "no principal diagnosis"


def test_group_facesheet(pack):
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
    out = group_facesheet(sheet, pack)
    assert list(out.columns[:6]) == ["mdtrt_id", "mdc", "adrg", "drg", "cc_status", "reason"]
    assert out.loc[0, "drg"] == "EQY" and out.loc[1, "drg"] == "ES11"
    assert out["trace"].map(len).gt(0).all()
    assert len(out) == n and out["mdtrt_id"].tolist() == ids
    # the same cases one by one give the same answers (speed lives in benchmarks/)
    one = group(CaseInput(MEDICAL, (mcc,), sex="1", age=50.0, los=5.0, discharge_way="1"), pack)
    assert (one.drg, one.trace) == (out.loc[1, "drg"], out.loc[1, "trace"])


def test_tcm_diagnoses_do_not_group(pack):
    """A 中医主病 row flagged main (diag_type 2) is neither the principal nor a secondary."""
    mcc = plain(pack, pack.mcc, False)
    setl = pd.DataFrame({"mdtrt_id": ["T1"], "gend": ["1"], "age": [50.0], "act_ipt_days": [5.0]})
    dise = pd.DataFrame(
        {
            "mdtrt_id": ["T1"] * 3,
            "diag_type": ["2", "1", "3"],
            "maindiag_flag": ["1", "1", "0"],
            "diag_code": ["BNG050", MEDICAL, mcc],
        }
    )
    oprn = pd.DataFrame(columns=["mdtrt_id", "oprn_oprt_type", "oprn_oprt_code"])
    sheet = FaceSheet(setlinfo=setl, diseinfo=dise, oprninfo=oprn, iteminfo=pd.DataFrame())
    out = group_facesheet(sheet, pack).iloc[0]
    assert out["drg"] == "ES15" and any(MEDICAL in step for step in out["trace"])
