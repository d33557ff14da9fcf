"""Every rule of the built-in pack: the clean case passes it, a case built to break it fails
exactly that rule. Adding a rule to the pack without a breaking case here fails the suite."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import pytest

from hutong.mapping.facesheet import FaceSheet
from hutong.quality import check, load_pack
from qc_cases import (
    MAIN_DX,
    NEWBORN,
    OTHER_DX,
    STENT,
    dx,
    facesheet,
    fee,
    id_number,
    rule_ids,
)

PACK = load_pack("nhsa-settlement")


BREAKS: dict[str, Callable[[], FaceSheet]] = {
    "SL-REQ-01": lambda: facesheet(setlinfo={"psn_name": None}),
    "SL-DSC-02": lambda: facesheet(setlinfo={"dscg_way": "2"}),
    "SL-RA-01": lambda: facesheet(setlinfo={"days_rinp_flag_31": "2"}),
    "SL-NB-01": lambda: facesheet(setlinfo={**NEWBORN, "nwb_adm_wt": None}),
    "SL-DOM-01": lambda: facesheet(setlinfo={"gend": "3"}),
    "SL-DOM-02": lambda: facesheet(setlinfo={"adm_way": "5"}),
    "SL-DOM-03": lambda: facesheet(setlinfo={"dscg_way": "6"}),
    "SL-DOM-04": lambda: facesheet(setlinfo={"ipt_med_type": "3"}),
    "SL-DOM-05": lambda: facesheet(setlinfo={"hi_type": "3"}),
    "SL-DOM-06": lambda: facesheet(diseinfo=[MAIN_DX, {**OTHER_DX, "adm_cond_type": "5"}]),
    "SL-DOM-07": lambda: facesheet(iteminfo=[fee("15", claa=300.0)]),
    # discharged an hour before admission on the same day; the stay and procedure agree
    "SL-TIME-02": lambda: facesheet(
        setlinfo={
            "adm_time": "2025-03-08 11:00:00",
            "dscg_time": "2025-03-08 10:00:00",
            "act_ipt_days": 1,
        },
        oprninfo=[{**STENT, "oprn_oprt_date": "2025-03-08 10:30:00"}],
    ),
    "SL-LOS-01": lambda: facesheet(setlinfo={"act_ipt_days": 6}),
    "SL-TIME-01": lambda: facesheet(oprninfo=[{**STENT, "oprn_oprt_date": "2025-03-10 09:00"}]),
    "SL-AGE-01": lambda: facesheet(setlinfo={"age": 58}),
    "SL-ID-01": lambda: facesheet(setlinfo={"certno": "110105196405121232"}),
    "SL-ID-02": lambda: facesheet(setlinfo={"certno": id_number("11010519640513123")}),
    "SL-NB-02": lambda: facesheet(setlinfo={**NEWBORN, "nwb_bir_wt": 150}),
    "SL-MAIN-01": lambda: facesheet(diseinfo=[{**MAIN_DX, "maindiag_flag": "0"}, OTHER_DX]),
    "SL-OP-01": lambda: facesheet(oprninfo=[{**STENT, "oprn_oprt_type": "2"}]),
    "SL-DX-01": lambda: facesheet(diseinfo=[{**MAIN_DX, "adm_cond_type": "4"}, OTHER_DX]),
    # a wound infection after surgery with its external cause, but nothing saying what it is
    "SL-DX-03": lambda: facesheet(
        diseinfo=[
            dx("T81.400x001", "操作后伤口感染", main=True),
            dx("Y62.000", "在手术中无菌预防措施的失败"),
        ]
    ),
    "SL-DX-04": lambda: facesheet(diseinfo=[dx("R50.900", "发热", main=True), OTHER_DX]),
    "SL-DX-05": lambda: facesheet(diseinfo=[MAIN_DX, {**OTHER_DX, "diag_name": None}]),
    "SL-DX-06": lambda: facesheet(diseinfo=[MAIN_DX, dx("G01*", "细菌性疾病引起的脑膜炎")]),
    "SL-DX-07": lambda: facesheet(diseinfo=[dx("S72.000", "股骨颈骨折", main=True), OTHER_DX]),
    "SL-SEX-01": lambda: facesheet(diseinfo=[MAIN_DX, dx("O80.000", "头位顺产")]),
    "SL-CNT-01": lambda: facesheet(setlinfo={"diag_code_cnt": 3}),
    "SL-CNT-02": lambda: facesheet(setlinfo={"oprn_oprt_code_cnt": 2}),
    "SL-FEE-01": lambda: facesheet(iteminfo=[{**fee("01", claa=250.0), "amt": 251.0}]),
    "SL-FEE-02": lambda: facesheet(iteminfo=[]),
    "SL-REQ-02": lambda: facesheet(setlinfo={"chfpdr_code": None}),
    "SL-DOM-08": lambda: facesheet(setlinfo={**NEWBORN, "nwb_adm_type": "5"}),
    "SL-DOM-09": lambda: facesheet(setlinfo={"trt_type": "4"}),
    "SL-DOM-10": lambda: facesheet(setlinfo={"hi_paymtd": "7"}),
    "SL-DOM-11": lambda: facesheet(setlinfo={"days_rinp_flag_31": "0"}),
    "SL-DOM-12": lambda: facesheet(diseinfo=[MAIN_DX, {**OTHER_DX, "diag_type": "4"}]),
    "SL-DOM-13": lambda: facesheet(diseinfo=[MAIN_DX, {**OTHER_DX, "maindiag_flag": "2"}]),
    "SL-DOM-14": lambda: facesheet(
        oprninfo=[STENT, {**STENT, "oprn_oprt_type": "3"}], setlinfo={"oprn_oprt_code_cnt": 2}
    ),
    # the settlement ends the day after discharge
    "SL-TIME-03": lambda: facesheet(setlinfo={"setl_end_date": "2025-03-09"}),
    # start and end swapped, both inside the stay
    "SL-TIME-04": lambda: facesheet(
        setlinfo={"setl_begn_date": "2025-03-07", "setl_end_date": "2025-03-05"}
    ),
    "SL-AGE-02": lambda: facesheet(setlinfo={**NEWBORN, "nwb_age": None}),
    "SL-AGE-03": lambda: facesheet(setlinfo={**NEWBORN, "nwb_age": 5}),
    "SL-OP-02": lambda: facesheet(
        setlinfo={"ipt_med_type": "2", "oprn_oprt_code_cnt": 0}, oprninfo=[]
    ),
}

# Variants of the clean case that must still pass every rule.
CLEAN_VARIANTS: dict[str, Callable[[], FaceSheet]] = {
    "clean": lambda: facesheet(),
    "newborn": lambda: facesheet(setlinfo=NEWBORN),
    "transfer with receiving institution": lambda: facesheet(
        setlinfo={"dscg_way": "2", "acp_medins_name": "示例市第二人民医院"}
    ),
    "dagger and star on one code": lambda: facesheet(
        diseinfo=[MAIN_DX, dx("A39.000+G01*", "脑膜炎球菌性脑膜炎")]
    ),
    "dagger and star on two rows": lambda: facesheet(
        diseinfo=[MAIN_DX, dx("A17.000+", "结核性脑膜炎"), dx("G01*", "脑膜炎")],
        setlinfo={"diag_code_cnt": 3},
    ),
    "injury with external cause": lambda: facesheet(
        diseinfo=[dx("S72.000", "股骨颈骨折", main=True), dx("W01.x00", "滑倒、绊倒和摔倒")]
    ),
    "symptom alone": lambda: facesheet(
        diseinfo=[dx("R50.900", "发热", main=True)], setlinfo={"diag_code_cnt": 1}
    ),
    "no procedures": lambda: facesheet(oprninfo=[], setlinfo={"oprn_oprt_code_cnt": 0}),
    "day surgery with its operation": lambda: facesheet(setlinfo={"ipt_med_type": "2"}),
    "interim settlement inside the stay": lambda: facesheet(
        setlinfo={"setl_begn_date": "2025-03-04", "setl_end_date": "2025-03-06"}
    ),
    "born on the day of admission": lambda: facesheet(
        setlinfo={
            **NEWBORN,
            "brdy": "2025-03-03",
            "nwb_age": 0,
            "certno": id_number("11010520250303123"),
        }
    ),
    "passport holder": lambda: facesheet(setlinfo={"patn_cert_type": "03", "certno": "E12345678"}),
    "same-day stay": lambda: facesheet(
        setlinfo={"dscg_time": "2025-03-03 18:00:00", "act_ipt_days": 1},
        oprninfo=[{**STENT, "oprn_oprt_date": "2025-03-03 12:00:00"}],
    ),
    "diagnosis type not given": lambda: facesheet(
        diseinfo=[{**MAIN_DX, "diag_type": None}, {**OTHER_DX, "diag_type": None}]
    ),
    "TCM main diagnosis beside the western one": lambda: facesheet(
        diseinfo=[
            *[MAIN_DX, OTHER_DX],
            {
                "maindiag_flag": "1",
                "diag_type": "2",
                "diag_code": "A04.01.03",
                "diag_name": "胸痹心痛病",
            },
        ],
        setlinfo={"diag_code_cnt": 3},
    ),
}


def test_every_rule_has_a_breaking_case() -> None:
    assert set(BREAKS) == {rule.id for rule in PACK.rules}


@pytest.mark.parametrize("variant", sorted(CLEAN_VARIANTS))
def test_clean_cases_pass_every_rule(variant: str) -> None:
    findings = check(CLEAN_VARIANTS[variant]())
    assert findings.empty, findings.to_string()


@cache
def clean_findings() -> frozenset[str]:
    """Rule ids fired by the clean case and its variants (computed once for all rules)."""
    return frozenset(rid for make in CLEAN_VARIANTS.values() for rid in rule_ids(check(make())))


@pytest.mark.parametrize("rule_id", [rule.id for rule in PACK.rules])
def test_clean_case_passes_rule(rule_id: str) -> None:
    assert rule_id not in clean_findings()


@pytest.mark.parametrize("rule_id", sorted(BREAKS))
def test_breaking_case_fails_exactly_that_rule(rule_id: str) -> None:
    findings = check(BREAKS[rule_id]())
    assert rule_ids(findings) == {rule_id}, findings.to_string()
    assert (findings["severity"] == PACK.rule(rule_id).severity).all()
    assert findings["mdtrt_id"].notna().all()


def test_required_gives_one_finding_per_missing_field() -> None:
    findings = check(facesheet(setlinfo={"psn_name": None, "gend": "  ", "dscg_caty": None}))
    assert list(findings["field"]) == ["dscg_caty", "gend", "psn_name"]
    assert set(findings["rule_id"]) == {"SL-REQ-01"}


def test_dash_counts_as_filled_in() -> None:
    assert check(facesheet(setlinfo={"fixmedins_name": "-"})).empty


def test_value_set_finding_shows_the_bad_code() -> None:
    findings = check(facesheet(setlinfo={"gend": "M"}))
    assert findings.loc[0, "message_zh"] == "性别代码不在 GB/T 2261.1 值域内（M）"
    assert findings.loc[0, "message_en"] == "sex code is not in GB/T 2261.1 (M)"


def test_case_without_diagnoses_has_no_main_diagnosis() -> None:
    findings = check(facesheet(diseinfo=[], setlinfo={"diag_code_cnt": 0}))
    assert rule_ids(findings) == {"SL-MAIN-01"}
    assert findings.loc[0, "field"] == "maindiag_flag"


def test_two_main_diagnoses_fire_once_for_the_case() -> None:
    findings = check(facesheet(diseinfo=[MAIN_DX, {**OTHER_DX, "maindiag_flag": "1"}]))
    assert list(findings["rule_id"]) == ["SL-MAIN-01"]
    assert findings.loc[0, "message_en"].endswith("(2)")


def test_code_without_name_and_name_without_code() -> None:
    sheet = facesheet(
        diseinfo=[MAIN_DX, {**OTHER_DX, "diag_code": None}],
        oprninfo=[{**STENT, "oprn_oprt_name": ""}],
    )
    findings = check(sheet)
    assert rule_ids(findings) == {"SL-DX-05"}
    assert sorted(findings["field"]) == ["diag_code", "oprn_oprt_name"]


def test_id_number_with_lower_case_x_is_valid() -> None:
    certno = id_number("11010519640512001")
    assert certno.endswith("X")
    assert check(facesheet(setlinfo={"certno": certno.lower()})).empty


def test_fifteen_digit_id_number_fails_the_check() -> None:
    findings = check(facesheet(setlinfo={"certno": "110105640512123"}))
    assert rule_ids(findings) == {"SL-ID-01"}


def test_male_obstetric_diagnosis_is_fine_for_a_woman() -> None:
    certno = id_number("11010519640512124")  # even 17th digit: female
    sheet = facesheet(
        setlinfo={"gend": "2", "certno": certno},
        diseinfo=[MAIN_DX, dx("O80.000", "头位顺产")],
    )
    assert check(sheet).empty


def test_newborn_both_weights_missing_gives_two_findings() -> None:
    sheet = facesheet(setlinfo={**NEWBORN, "nwb_bir_wt": None, "nwb_adm_wt": None})
    findings = check(sheet)
    assert list(findings["field"]) == ["nwb_adm_wt", "nwb_bir_wt"]


def test_child_past_newborn_period_needs_no_weights() -> None:
    older = {
        **NEWBORN,
        "brdy": "2025-01-01",
        "nwb_age": 61,
        "nwb_bir_wt": None,
        "nwb_adm_wt": None,
        "certno": id_number("11010520250101123"),
    }
    assert check(facesheet(setlinfo=older)).empty


def test_fee_within_one_cent_passes() -> None:
    row = {**fee("09", claa=900.20, clab=440.00), "amt": 1340.21}
    assert check(facesheet(iteminfo=[row])).empty


def test_tcm_main_diagnosis_does_not_count_as_the_western_main() -> None:
    tcm = {
        "maindiag_flag": "1",
        "diag_type": "2",
        "diag_code": "A04.01.03",
        "diag_name": "胸痹心痛病",
    }
    sheet = facesheet(diseinfo=[{**MAIN_DX, "maindiag_flag": "0"}, tcm])
    assert rule_ids(check(sheet)) == {"SL-MAIN-01"}


def test_reversed_stay_is_one_finding_not_also_a_reversed_settlement_period() -> None:
    sheet = facesheet(
        setlinfo={
            "adm_time": "2025-03-08 09:00:00",
            "dscg_time": "2025-03-05 10:00:00",
            "oprn_oprt_code_cnt": 0,
        },
        oprninfo=[],
    )
    assert sheet.setlinfo.loc[0, "setl_begn_date"] > sheet.setlinfo.loc[0, "setl_end_date"]
    assert rule_ids(check(sheet)) == {"SL-TIME-02"}


def test_age_in_days_counts_the_birth_day_as_day_zero() -> None:
    sheet = facesheet(setlinfo={**NEWBORN, "nwb_age": 3})  # born 03-01, admitted 03-03: 2 days
    findings = check(sheet)
    assert rule_ids(findings) == {"SL-AGE-03"}
    assert check(facesheet(setlinfo={**NEWBORN, "nwb_age": 2})).empty
