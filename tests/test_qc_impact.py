"""Payment impact of QC findings, against the real CHS-DRG 2.0 pack.

Every code is picked from the pack's own lists; every expected DRG is computed here by calling
the grouper directly on the case as the fix should leave it, so the tests check how impact
builds the two cases, not the grouper.

Decision tested below: a finding of a rule that does not touch grouping (not in impact.toml) is
left out of the table; a listed rule whose fix changes nothing is in it with the same DRG twice
and a zero difference.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

import hutong.quality.impact as impact_module
from hutong.quality import builtin_packs, check
from hutong.quality import load_pack as load_rules
from hutong.quality.drg import CaseInput, group
from hutong.quality.fixes import ImpactTableError
from hutong.quality.impact import COLUMNS, impact, load_fixes, write_impact
from hutong.terminologies.codesystem import CodeSystem, build, parent_of
from qc_cases import MAIN_DX, OTHER_DX, SETLINFO, STENT, case, combine, dx, facesheet

PRINCIPAL = MAIN_DX["diag_code"]  # I25.103: MDCF, medical FR5 without a procedure


@pytest.fixture
def pack(drg_pack):
    return drg_pack


def drg_of(pack, principal, secondary=(), procedures=()) -> str:
    """The grouper's DRG for the clean case's patient with these codes."""
    px = list(procedures)
    return group(
        CaseInput(
            principal_dx=principal,
            secondary_dx=tuple(secondary),
            principal_px=px[0] if px else None,
            other_px=tuple(px[1:]),
            sex=SETLINFO["gend"],
            age=SETLINFO["age"],
            los=SETLINFO["act_ipt_days"],
            discharge_way=SETLINFO["dscg_way"],
        ),
        pack,
    ).drg


def gray_family(pack) -> tuple[str, str, str]:
    """A pack principal code with two children (by 医保版 nesting) in other DRGs than it."""
    known = set(pack.mdc_of)
    kids: dict[str, list[str]] = {}
    for code in sorted(known):
        if parent := parent_of(code, known):
            kids.setdefault(parent, []).append(code)
    for parent, children in kids.items():
        if len(children) < 2 or drg_of(pack, parent) == "0000":
            continue
        first, second = children[0], children[-1]
        drgs = {drg_of(pack, parent), drg_of(pack, first), drg_of(pack, second)}
        if len(drgs) == 3 and "0000" not in drgs:
            return parent, first, second
    raise AssertionError("no gray-code family found in the pack")


def diagnoses(*pairs: tuple[str, str], gray: set[str] = frozenset()) -> CodeSystem:
    system = build("icd10-yb-2.0", "2.0", "test", list(pairs))
    system.mark_gray(set(gray))
    return system


def only(table: pd.DataFrame, rule_id: str) -> pd.Series:
    rows = table[table["rule_id"] == rule_id]
    assert len(rows) == 1, table
    return rows.iloc[0]


def test_gray_main_diagnosis_moves_to_its_child_drg(pack):
    parent, first, second = gray_family(pack)
    codes = {
        "diagnosis": diagnoses((parent, "父"), (first, "子一"), (second, "子二"), gray={parent})
    }
    sheet = facesheet(diseinfo=[dx(parent, "父", main=True)], oprninfo=[])
    findings = check(sheet, "code-validity", codes=codes)
    weights = {drg_of(pack, parent): 1.0, drg_of(pack, first): 1.5}
    row = only(impact(sheet, findings, pack, codes, weights, base_rate=10000), "CV-DX-03")
    assert (row["drg_before"], row["drg_after"]) == (drg_of(pack, parent), drg_of(pack, first))
    assert row["drg_before"] != row["drg_after"]
    assert row["weight_diff"] == pytest.approx(0.5) and row["amount"] == pytest.approx(5000)
    assert first in row["fix_zh"] and parent in row["fix_en"]


def test_gray_code_child_follows_the_local_name_when_it_is_a_national_name(pack):
    parent, first, second = gray_family(pack)
    codes = {
        "diagnosis": diagnoses((parent, "父"), (first, "子一"), (second, "子二"), gray={parent})
    }
    sheet = facesheet(diseinfo=[dx(parent, "子二", main=True)], oprninfo=[])
    findings = check(sheet, "code-validity", codes=codes)
    row = only(impact(sheet, findings, pack, codes), "CV-DX-03")
    assert row["drg_after"] == drg_of(pack, second) != drg_of(pack, first)
    assert math.isnan(row["weight_diff"]) and math.isnan(row["amount"])  # no weights given


def test_unknown_code_is_dropped_as_it_stands_and_recoded_when_the_system_offers_one(pack):
    _, first, _ = gray_family(pack)
    codes = {"diagnosis": diagnoses((first, "子一"), (PRINCIPAL, "冠心病"))}
    loose = " " + first.lower().replace(".", "．") + " "  # full-width dot, lower case, blanks
    sheet = combine(
        case("LOOSE", diseinfo=[MAIN_DX, dx(loose, "子一")], oprninfo=[]),
        case("NEW", diseinfo=[dx("Q99.999x999", "自造", main=True)], oprninfo=[]),
    )
    findings = check(sheet, "code-validity", codes=codes)
    table = impact(sheet, findings, pack, codes).set_index("mdtrt_id")
    fixed = table.loc["LOOSE"]
    assert fixed["rule_id"] == "CV-DX-01"
    assert fixed["drg_before"] == drg_of(pack, PRINCIPAL)  # the unreadable code is dropped
    assert fixed["drg_after"] == drg_of(pack, PRINCIPAL, [first])
    coder = table.loc["NEW"]
    assert coder["drg_before"] == "0000"  # no principal the insurer can read
    assert pd.isna(coder["drg_after"]) and "needs a coder" in coder["fix_en"]
    assert "需编码员" in coder["fix_zh"] and math.isnan(coder["amount"])


def test_absent_on_admission_main_is_swapped_with_the_first_present_other(pack):
    other = "B37.100"  # ES1 principal in MDCE, another MDC than I25.103
    sheet = facesheet(
        diseinfo=[
            {**MAIN_DX, "adm_cond_type": "4"},
            dx("I10.x00x002", "高血压", adm_cond_type="4"),  # also absent: does not qualify
            dx(other, "念珠菌病", adm_cond_type="1"),
        ],
        oprninfo=[],
    )
    findings = check(sheet)
    weights = {drg_of(pack, PRINCIPAL, ["I10.x00x002", other]): 0.8}
    swapped = drg_of(pack, other, ["I10.x00x002", PRINCIPAL])
    weights[swapped] = 0.6
    row = only(impact(sheet, findings, pack, weights=weights, base_rate=1000), "SL-DX-01")
    assert row["drg_before"] == drg_of(pack, PRINCIPAL, ["I10.x00x002", other])
    assert row["drg_after"] == swapped != row["drg_before"]
    assert row["weight_diff"] == pytest.approx(-0.2) and row["amount"] == pytest.approx(-200)
    assert f"{PRINCIPAL}" in row["fix_zh"] and other in row["fix_zh"]


def surgical_px(pack) -> str:
    """A coronary-surgery (FC1) procedure that takes I25.103 into a surgical DRG."""
    section = next(s for s in pack.adrgs["FC1"].sections if s.kind == "px")
    return next(
        c
        for c in sorted(section.codes)
        if c not in pack.ss_invalid and drg_of(pack, PRINCIPAL, [], [c]).startswith("FC")
    )


def test_procedure_outside_the_stay_turns_medical_into_surgical_when_it_counts(pack):
    px = surgical_px(pack)
    medical, surgical = (
        drg_of(pack, PRINCIPAL, ["I10.x00x002"]),
        drg_of(pack, PRINCIPAL, ["I10.x00x002"], [px]),
    )
    assert medical[1] > "Q" and surgical[1] <= "J"  # the pack's own kinds: R–Z medical, A–J OR
    op = {**STENT, "oprn_oprt_code": px, "oprn_oprt_date": "2024-12-30 10:00:00"}
    sheet = facesheet(oprninfo=[op])
    findings = check(sheet)
    weights = {medical: 0.9, surgical: 3.4}
    row = only(impact(sheet, findings, pack, weights=weights, base_rate=10000), "SL-TIME-01")
    assert (row["drg_before"], row["drg_after"]) == (medical, surgical)
    assert row["weight_diff"] > 0 and row["amount"] == pytest.approx(25000)


def test_undated_procedure_counts_with_a_homepage_date_rule(pack, tmp_path):
    """The homepage pack's date rule id is configured in impact.toml; here a table names one."""
    px = surgical_px(pack)
    table = tmp_path / "impact.toml"
    table.write_text(
        '# source: test\n[[fix]]\nrule = "HP-OP-DATE"\naction = "count_procedure"\n'
        'node = "oprninfo"\nfix_zh = "补填日期 {old}"\nfix_en = "date {old}"\n'
        'nofix_zh = "无"\nnofix_en = "none"\n',
        encoding="utf-8",
    )
    sheet = facesheet(oprninfo=[{**STENT, "oprn_oprt_code": px, "oprn_oprt_date": None}])
    assert check(sheet).empty  # no built-in rule flags a missing procedure date yet
    finding = pd.DataFrame(
        [{"mdtrt_id": SETLINFO["mdtrt_id"], "rule_id": "HP-OP-DATE", "field": "oprn_oprt_date",
          "message_zh": "手术日期未填", "message_en": "no procedure date"}]
    )  # fmt: skip
    row = only(impact(sheet, finding, pack, fixes=load_fixes(table)), "HP-OP-DATE")
    assert row["drg_before"] == drg_of(pack, PRINCIPAL, ["I10.x00x002"])
    assert row["drg_after"] == drg_of(pack, PRINCIPAL, ["I10.x00x002"], [px])
    assert row["fix_zh"] == f"补填日期 {px}"


def test_homepage_missing_date_prices_only_the_date_finding(pack):
    px = surgical_px(pack)
    op = {**STENT, "oprn_oprt_code": px, "oprn_oprt_date": None, "oper_dr_name": None}
    sheet = facesheet(oprninfo=[op])
    findings = check(sheet, "nhsa-homepage")
    hp = findings[findings["rule_id"] == "HP-OP-02"]
    assert set(hp["field"]) >= {"oprn_oprt_date", "oper_dr_name"}
    row = only(impact(sheet, findings, pack), "HP-OP-02")  # the operator finding is not priced
    assert row["field"] == "oprn_oprt_date"
    assert row["drg_before"] == drg_of(pack, PRINCIPAL, ["I10.x00x002"])
    assert row["drg_after"] == drg_of(pack, PRINCIPAL, ["I10.x00x002"], [px])


def test_a_bad_fix_table_is_refused_with_the_entry_named(tmp_path):
    table = tmp_path / "impact.toml"
    table.write_text(
        '[[fix]]\nrule = "SL-X"\naction = "guess"\nnode = "oprninfo"\nfix_zh = "a"\n'
        'fix_en = "a"\nnofix_zh = "b"\nnofix_en = "b"\n',
        encoding="utf-8",
    )
    with pytest.raises(ImpactTableError, match=r"impact.toml: \[\[fix\]\] #1 \(SL-X\): action"):
        load_fixes(table)


def test_findings_that_do_not_touch_grouping(pack):
    injury = min(c for c in pack.mdc_of if c.startswith("S"))
    sheet = combine(
        case("ID", setlinfo={"certno": "110105196405121230"}),  # wrong check digit: SL-ID-01
        case("INJ", diseinfo=[dx(injury, "损伤", main=True), OTHER_DX], oprninfo=[]),
    )
    findings = check(sheet)
    assert {"SL-ID-01", "SL-DX-07"} <= set(findings["rule_id"])
    table = impact(sheet, findings, pack, weights={drg_of(pack, injury, ["I10.x00x002"]): 1.1})
    assert "SL-ID-01" not in set(table["rule_id"])  # not in impact.toml: left out
    row = only(table, "SL-DX-07")  # listed, but the fix adds nothing the grouper reads
    assert row["drg_before"] == row["drg_after"] == drg_of(pack, injury, ["I10.x00x002"])
    assert row["weight_diff"] == 0 and "no grouping change" in row["fix_en"]


def test_rows_are_ordered_by_money_and_only_affected_cases_are_grouped(pack, monkeypatch):
    px = surgical_px(pack)
    late = {**STENT, "oprn_oprt_code": px, "oprn_oprt_date": "2024-12-30 10:00:00"}
    late_stent = {**STENT, "oprn_oprt_date": "2025-04-01 10:00:00"}
    absent = [{**MAIN_DX, "adm_cond_type": "4"}, dx("B37.100", "念珠菌病")]
    sheet = combine(
        case("A-CLEAN"),
        case("B-STENT", oprninfo=[late_stent]),
        case("C-SURG", oprninfo=[late]),
        case("D-SWAP", diseinfo=absent, oprninfo=[]),
        case("E-CLEAN2", oprninfo=[]),
    )
    findings = check(sheet)
    drgs = {
        drg_of(pack, PRINCIPAL, ["I10.x00x002"]): 0.9,
        drg_of(pack, PRINCIPAL, ["I10.x00x002"], ["36.0700"]): 1.3,
        drg_of(pack, PRINCIPAL, ["I10.x00x002"], [px]): 3.4,
        drg_of(pack, PRINCIPAL, ["B37.100"]): 0.9,
        drg_of(pack, "B37.100", [PRINCIPAL]): 0.5,
    }
    grouped: list[int] = []
    real = impact_module.group_facesheet

    def counting(batch, p):
        grouped.append(len(batch))
        return real(batch, p)

    monkeypatch.setattr(impact_module, "group_facesheet", counting)
    table = impact(sheet, findings, pack, weights=drgs, base_rate=100)
    assert list(table.columns) == COLUMNS
    assert list(table["mdtrt_id"]) == ["C-SURG", "B-STENT", "D-SWAP"]
    sizes = list(table["amount"].abs())
    assert sizes == sorted(sizes, reverse=True) and sizes[0] == pytest.approx(250)
    assert grouped == [6]  # one call; three cases, each as it stands and as fixed


def test_written_table_is_bom_csv_with_the_columns(pack, tmp_path):
    sheet = facesheet(diseinfo=[{**MAIN_DX, "adm_cond_type": "4"}, dx("B37.100", "念珠菌病")])
    path = write_impact(impact(sheet, check(sheet), pack), tmp_path / "impact.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" not in raw
    back = pd.read_csv(path, encoding="utf-8-sig", dtype=str)
    assert list(back.columns) == COLUMNS and back.loc[0, "rule_id"] == "SL-DX-01"


def test_builtin_table_names_only_rules_that_exist():
    known = {r.id for name in builtin_packs() for r in load_rules(name).rules}
    assert set(load_fixes()) <= known
