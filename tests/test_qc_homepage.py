"""The nhsa-homepage pack (住院病案首页 rules): every rule fails on a case built to break it,
and only that rule among the national packs; the clean cases pass, alone and in the combined
national default. Adding a rule to the pack without a breaking case here fails the suite."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest

from hutong.mapping.facesheet import FaceSheet
from hutong.quality import check, load_pack
from hutong.quality.checks_homepage import minutes
from qc_cases import ITEMINFO, MAIN_DX, OTHER_DX, STENT, dx, facesheet, fee, id_number, rule_ids
from test_qc_codes import CLEAN_VARIANTS as CODE_CLEAN
from test_qc_codes import codes
from test_qc_rules import CLEAN_VARIANTS

PACK = load_pack("nhsa-homepage")
NATIONAL = "nhsa-settlement+nhsa-homepage"
DEFAULT = "nhsa-settlement+nhsa-homepage+code-validity+plausibility"

# a woman of 30 delivered of one live baby (the mother's record carries the birth weight)
MOTHER = {"gend": "2", "brdy": "1994-05-12", "age": 30, "certno": id_number("11010519940512124")}
DELIVERY = [dx("O80.000", "头位顺产", main=True), dx("Z37.000x001", "单胎活产")]
ANGIOGRAPHY = {
    **STENT,
    "oprn_oprt_type": "2",
    "oprn_oprt_name": "单根导管的冠状动脉造影术",
    "oprn_oprt_code": "88.5500",
}
GENERAL = {**STENT, "anst_way": "1", "anst_dr_name": "周静", "anst_dr_code": "D110105009"}


def without(*categories: str) -> list[dict]:
    """The clean fees without the given fee categories."""
    return [row for row in ITEMINFO if row["med_chrgitm"] not in categories]


BREAKS: dict[str, Callable[[], FaceSheet]] = {
    "HP-REQ-01": lambda: facesheet(setlinfo={"coner_addr": None}),
    "HP-RT-02": lambda: facesheet(setlinfo={"otp_wm_dise": None}),
    "HP-OCC-01": lambda: facesheet(setlinfo={"emp_addr": " "}),
    "HP-DX-08": lambda: facesheet(diseinfo=[MAIN_DX, {**OTHER_DX, "adm_cond_type": None}]),
    # bare dates: both times read as midnight
    "HP-TIME-01": lambda: facesheet(setlinfo={"adm_time": "2025-03-03", "dscg_time": "2025-03-08"}),
    "HP-VENT-01": lambda: facesheet(setlinfo={"vent_used_dura": "0/25/00"}),
    # six days on a ventilator in a stay of five days and 30 minutes
    "HP-VENT-02": lambda: facesheet(setlinfo={"vent_used_dura": "6/0/0"}),
    "HP-COMA-01": lambda: facesheet(setlinfo={"pwcry_bfadm_coma_dura": "0/5/60"}),
    "HP-COMA-02": lambda: facesheet(setlinfo={"pwcry_afadm_coma_dura": "5/1/0"}),
    "HP-NURS-01": lambda: facesheet(setlinfo={"lv1_nurscare_days": 3, "scd_nurscare_days": 3}),
    "HP-BLD-01": lambda: facesheet(setlinfo={"bld_cat": "红细胞", "bld_amt": 2}),
    "HP-BLD-02": lambda: facesheet(setlinfo={"bld_amt": 2, "bld_unt": "U"}),
    "HP-NB-03": lambda: facesheet(setlinfo=MOTHER, diseinfo=DELIVERY),
    "HP-OP-02": lambda: facesheet(oprninfo=[{**STENT, "oper_dr_code": None}]),
    "HP-OP-03": lambda: facesheet(oprninfo=[{**STENT, "anst_way": "1"}]),
    "HP-OP-04": lambda: facesheet(
        oprninfo=[ANGIOGRAPHY, STENT], setlinfo={"oprn_oprt_code_cnt": 2}
    ),
    "HP-FEE-02": lambda: facesheet(setlinfo={"psn_selfpay": 30000, "psn_ownpay": 10000}),
    "HP-FEE-03": lambda: facesheet(iteminfo=without("01")),
    "HP-FEE-04": lambda: facesheet(iteminfo=without("07")),
    "HP-FEE-05": lambda: facesheet(oprninfo=[GENERAL], iteminfo=without("06")),
}

# Variants of the clean case that exercise the homepage rules and must pass them all.
HOMEPAGE_CLEAN: dict[str, Callable[[], FaceSheet]] = {
    "general anaesthesia with anaesthetist and operation fee": lambda: facesheet(
        oprninfo=[GENERAL]
    ),
    "live birth with the birth weight": lambda: facesheet(
        setlinfo={**MOTHER, "nwb_bir_wt": 3250}, diseinfo=DELIVERY
    ),
    "ventilator and coma within the stay": lambda: facesheet(
        setlinfo={
            "vent_used_dura": "1/2/30",
            "pwcry_bfadm_coma_dura": "12/23/59",
            "pwcry_afadm_coma_dura": "0/3/0",
        }
    ),
    "durations not applicable": lambda: facesheet(
        setlinfo={"vent_used_dura": "-", "pwcry_bfadm_coma_dura": "-", "bld_cat": "-"}
    ),
    "transfusion with amount and unit": lambda: facesheet(
        setlinfo={"bld_cat": "红细胞", "bld_amt": 2, "bld_unt": "U"}
    ),
    "nursing days within the stay": lambda: facesheet(
        setlinfo={"lv1_nurscare_days": 2, "scd_nurscare_days": 3}
    ),
    "self-pay within the total": lambda: facesheet(
        setlinfo={"psn_selfpay": 3000.5, "psn_ownpay": 5000}
    ),
    "one-day stay without bed or nursing fee": lambda: facesheet(
        setlinfo={"dscg_time": "2025-03-04 08:00:00", "act_ipt_days": 1},
        iteminfo=without("01", "07"),
    ),
    "admitted at midnight": lambda: facesheet(setlinfo={"adm_time": "2025-03-03 00:00:00"}),
    "unemployed patient without a work unit": lambda: facesheet(
        setlinfo={"prfs": "70", "emp_name": None, "emp_addr": None}
    ),
    "referred from another hospital without an outpatient diagnosis": lambda: facesheet(
        setlinfo={"adm_way": "3", "otp_wm_dise": None, "wm_dise_code": None}
    ),
    "principal procedure first of two": lambda: facesheet(
        oprninfo=[STENT, ANGIOGRAPHY], setlinfo={"oprn_oprt_code_cnt": 2}
    ),
}
ALL_CLEAN = {**CLEAN_VARIANTS, **HOMEPAGE_CLEAN}


def test_every_rule_has_a_breaking_case() -> None:
    assert set(BREAKS) == {rule.id for rule in PACK.rules}


def test_rule_ids_are_homepage_ids() -> None:
    assert all(rule.id.startswith("HP-") for rule in PACK.rules)


@pytest.mark.parametrize("rule_id", sorted(BREAKS))
def test_breaking_case_fails_exactly_that_rule(rule_id: str) -> None:
    findings = check(BREAKS[rule_id](), NATIONAL)
    assert rule_ids(findings) == {rule_id}, findings.to_string()
    assert (findings["severity"] == PACK.rule(rule_id).severity).all()
    assert findings["mdtrt_id"].notna().all()


@pytest.mark.parametrize("variant", sorted(ALL_CLEAN))
def test_clean_cases_pass_the_national_packs(variant: str) -> None:
    findings = check(ALL_CLEAN[variant](), NATIONAL)
    assert findings.empty, findings.to_string()


# clean variants whose diagnosis codes the shipped sample ICD-10 list does not hold
OUTSIDE_SAMPLE = {
    "dagger and star on one code",
    "dagger and star on two rows",
    "injury with external cause",
}


@pytest.mark.parametrize("variant", sorted(ALL_CLEAN))
def test_combined_national_default_is_silent_on_the_clean_cases(variant: str) -> None:
    loaded = None if variant in OUTSIDE_SAMPLE else codes()
    findings = check(ALL_CLEAN[variant](), DEFAULT, codes=loaded)
    assert findings.empty, findings.to_string()


@pytest.mark.parametrize("variant", sorted(CODE_CLEAN))
def test_code_validity_clean_cases_pass_the_homepage_pack(variant: str) -> None:
    findings = check(CODE_CLEAN[variant](), "nhsa-homepage+code-validity", codes=codes())
    assert findings.empty, findings.to_string()


def test_combined_default_runs_every_rule_with_codes() -> None:
    sheet = BREAKS["HP-OP-04"]()
    assert rule_ids(check(sheet, DEFAULT, codes=codes())) == {"HP-OP-04"}
    renamed = facesheet(oprninfo=[{**STENT, "oprn_oprt_name": "冠脉支架"}], setlinfo={"bld_amt": 2})
    assert rule_ids(check(renamed, DEFAULT, codes=codes())) == {"CV-OP-02", "HP-BLD-02"}


def test_national_packs_hold_at_least_60_rules() -> None:
    names = ("nhsa-settlement", "nhsa-homepage", "code-validity")
    assert sum(len(load_pack(name).rules) for name in names) >= 60


def test_durations_parse_to_minutes() -> None:
    text = pd.Series(["1/13/24", "0/0/5", "-", None, "12小时", " 2/0/0 "], dtype="string")
    assert minutes(text).tolist() == [2244, 5, pd.NA, pd.NA, pd.NA, 2880]


def test_duration_finding_shows_the_duration() -> None:
    findings = check(BREAKS["HP-VENT-02"](), "nhsa-homepage")
    assert findings.loc[0, "message_en"].endswith("(6/0/0)")
    assert findings.loc[0, "field"] == "vent_used_dura"


def test_coma_before_admission_may_be_longer_than_the_stay() -> None:
    sheet = facesheet(setlinfo={"pwcry_bfadm_coma_dura": "30/0/0"})
    assert check(sheet, "nhsa-homepage").empty


def test_one_midnight_time_is_not_a_bare_date() -> None:
    sheet = facesheet(setlinfo={"dscg_time": "2025-03-08 00:00:00"})
    assert check(sheet, "nhsa-homepage").empty


def test_fee_finding_names_the_missing_category() -> None:
    findings = check(BREAKS["HP-FEE-05"](), "nhsa-homepage")
    assert list(findings["field"]) == ["med_chrgitm"]
    assert findings.loc[0, "message_zh"].endswith("（06 = 0.00）")


def test_fee_rule_counts_only_positive_totals() -> None:
    refunded = [*without("01"), fee("01", claa=-50.0)]
    assert rule_ids(check(facesheet(iteminfo=refunded), "nhsa-homepage")) == {"HP-FEE-03"}


def test_twins_need_the_birth_weight_too() -> None:
    twins = [dx("O84.000", "多胎顺产", main=True), dx("Z37.200", "双胎活产")]
    findings = check(facesheet(setlinfo=MOTHER, diseinfo=twins), "nhsa-homepage")
    assert rule_ids(findings) == {"HP-NB-03"}
    stillbirth = [dx("O80.000", "单胎顺产", main=True), dx("Z37.100", "单胎死产")]
    assert check(facesheet(setlinfo=MOTHER, diseinfo=stillbirth), "nhsa-homepage").empty


def test_principal_procedure_rule_reads_each_case_separately() -> None:
    from qc_cases import combine

    good = facesheet(setlinfo={"mdtrt_id": "ZY1"})
    bad = facesheet(
        setlinfo={"mdtrt_id": "ZY2", "oprn_oprt_code_cnt": 2}, oprninfo=[ANGIOGRAPHY, STENT]
    )
    findings = check(combine(good, bad), "nhsa-homepage")
    assert list(findings["mdtrt_id"]) == ["ZY2"]


def test_a_case_without_fees_is_one_finding_not_three() -> None:
    findings = check(facesheet(iteminfo=[]), NATIONAL)
    assert rule_ids(findings) == {"SL-FEE-02"}
