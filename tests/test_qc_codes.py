"""The code-validity pack: every rule fails on a case built to break it and passes the clean
case, with the sample ICD-10 / ICD-9-CM-3 医保版 systems loaded; without them it is skipped."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from hutong.mapping.facesheet import FaceSheet
from hutong.quality import check, combine_packs, load_pack, run_rule, skipped
from hutong.terminologies.codesystem import CodeSystem, sample_code_system
from qc_cases import MAIN_DX, OTHER_DX, STENT, dx, facesheet, rule_ids

PACK = load_pack("code-validity")
GRAY_PROCEDURE = "36.0601"  # the sample procedure list has no gray codes; the tests mark one


def codes() -> dict[str, CodeSystem]:
    procedure = sample_code_system("icd9cm3-yb-2.0")
    procedure.mark_gray({GRAY_PROCEDURE})
    return {"diagnosis": sample_code_system("icd10-yb-2.0"), "procedure": procedure}


BREAKS: dict[str, Callable[[], FaceSheet]] = {
    "CV-DX-01": lambda: facesheet(diseinfo=[MAIN_DX, dx("I10.x99", "高血压")]),
    "CV-DX-02": lambda: facesheet(diseinfo=[MAIN_DX, dx("I10.x00x002", "原发性高血压")]),
    "CV-DX-03": lambda: facesheet(diseinfo=[MAIN_DX, dx("I10.x00", "特发性（原发性）高血压")]),
    "CV-OP-01": lambda: facesheet(oprninfo=[{**STENT, "oprn_oprt_code": "36.0799"}]),
    "CV-OP-02": lambda: facesheet(oprninfo=[{**STENT, "oprn_oprt_name": "冠脉支架"}]),
    "CV-OP-03": lambda: facesheet(
        oprninfo=[
            {
                **STENT,
                "oprn_oprt_code": GRAY_PROCEDURE,
                "oprn_oprt_name": "冠状动脉药物涂层支架置入术",
            }
        ]
    ),
}

CLEAN_VARIANTS: dict[str, Callable[[], FaceSheet]] = {
    "clean": lambda: facesheet(),
    "half-width brackets and a stray space in the name": lambda: facesheet(
        diseinfo=[MAIN_DX, dx("I10.x03", " 高血压1级 ")],
        oprninfo=[
            {**STENT, "oprn_oprt_code": "60.2902", "oprn_oprt_name": "经尿道前列腺切除术(TURP)"}
        ],
    ),
    "dagger-star code written with a dagger sign": lambda: facesheet(
        diseinfo=[MAIN_DX, dx("E11.201†N08.3*", "2型糖尿病性肾病")]
    ),
    "TCM diagnosis is not an ICD-10 code": lambda: facesheet(
        diseinfo=[
            MAIN_DX,
            OTHER_DX,
            {
                "maindiag_flag": "0",
                "diag_type": "2",
                "diag_code": "A04.01.03",
                "diag_name": "胸痹心痛病",
            },
        ]
    ),
    "blank code and name are other rules' findings": lambda: facesheet(
        diseinfo=[MAIN_DX, {**OTHER_DX, "diag_code": None}, {**OTHER_DX, "diag_name": None}],
        oprninfo=[{**STENT, "oprn_oprt_code": " "}],
    ),
    "no procedures": lambda: facesheet(oprninfo=[]),
}


def test_every_rule_has_a_breaking_case() -> None:
    assert set(BREAKS) == {rule.id for rule in PACK.rules}


@pytest.mark.parametrize("variant", sorted(CLEAN_VARIANTS))
def test_clean_cases_pass_every_rule(variant: str) -> None:
    findings = check(CLEAN_VARIANTS[variant](), PACK, codes=codes())
    assert findings.empty, findings.to_string()


@pytest.mark.parametrize("rule_id", sorted(BREAKS))
def test_breaking_case_fails_exactly_that_rule(rule_id: str) -> None:
    findings = check(BREAKS[rule_id](), PACK, codes=codes())
    assert rule_ids(findings) == {rule_id}, findings.to_string()
    assert (findings["severity"] == PACK.rule(rule_id).severity).all()
    assert findings["mdtrt_id"].notna().all()


def test_messages_show_the_code_and_the_national_name() -> None:
    findings = check(BREAKS["CV-DX-02"](), PACK, codes=codes())
    assert findings.loc[0, "field"] == "diag_name"
    assert findings.loc[0, "message_zh"].endswith("（I10.x00x002：高血压）")
    findings = check(BREAKS["CV-DX-01"](), PACK, codes=codes())
    assert findings.loc[0, "message_en"].endswith("(I10.x99)")


def test_unknown_code_is_not_also_a_name_mismatch() -> None:
    findings = check(facesheet(diseinfo=[MAIN_DX, dx("I10.x99", "随便写的")]), PACK, codes=codes())
    assert rule_ids(findings) == {"CV-DX-01"}


def test_gray_severity_can_be_lowered_to_warning() -> None:
    findings = check(BREAKS["CV-DX-03"](), PACK, {"gray_severity": "warning"}, codes=codes())
    assert list(findings["severity"]) == ["warning"]
    assert PACK.with_params({"gray_severity": "warning"}).rule("CV-OP-03").severity == "warning"
    with pytest.raises(ValueError, match="gray_severity"):
        PACK.with_params({"gray_severity": "fatal"})


def test_without_code_systems_the_rules_are_skipped_and_listed() -> None:
    sheet = BREAKS["CV-DX-01"]()
    assert check(sheet, PACK).empty
    assert check(sheet, PACK, codes=None).empty
    gone = skipped(PACK, None)
    assert [s["rule_id"] for s in gone] == [rule.id for rule in PACK.rules]
    assert gone[0]["reason"] == "ICD-10 医保版 system not loaded / 未加载编码体系"
    assert gone[3]["reason"] == "ICD-9-CM-3 医保版 system not loaded / 未加载编码体系"
    with pytest.raises(ValueError, match="未加载编码体系"):
        run_rule(sheet, PACK.rule("CV-DX-01"))


def test_only_the_missing_system_is_skipped() -> None:
    only_dx = {"diagnosis": codes()["diagnosis"]}
    assert [s["rule_id"] for s in skipped(PACK, only_dx)] == ["CV-OP-01", "CV-OP-02", "CV-OP-03"]
    sheet = facesheet(
        diseinfo=[MAIN_DX, dx("I10.x99", "高血压")],
        oprninfo=[{**STENT, "oprn_oprt_code": "36.0799"}],
    )
    assert rule_ids(check(sheet, PACK, codes=only_dx)) == {"CV-DX-01"}
    assert skipped(PACK, codes()) == []
    assert skipped("nhsa-settlement") == []


def test_unknown_code_system_key_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown code system"):
        check(facesheet(), PACK, codes={"icd10": codes()["diagnosis"]})


def test_combined_pack_runs_both_and_the_clean_case_passes() -> None:
    both = load_pack("nhsa-settlement+code-validity")
    assert both.name == "nhsa-settlement+code-validity"
    assert [r.id for r in both.rules] == [
        *(r.id for r in load_pack("nhsa-settlement").rules),
        *(r.id for r in PACK.rules),
    ]
    assert check(facesheet(), both, codes=codes()).empty
    sheet = facesheet(setlinfo={"gend": "3"}, diseinfo=[MAIN_DX, dx("I10.x99", "高血压")])
    assert rule_ids(check(sheet, both, codes=codes())) == {"SL-DOM-01", "CV-DX-01"}
    assert rule_ids(check(sheet, "nhsa-settlement+code-validity")) == {"SL-DOM-01"}
    assert len(skipped(both)) == len(PACK.rules)


def test_combining_a_pack_with_itself_is_refused() -> None:
    with pytest.raises(ValueError, match="CV-DX-01"):
        combine_packs(PACK, PACK)
    with pytest.raises(ValueError, match="unknown rule pack"):
        load_pack("nhsa-settlement+nope")


def test_pack_digest_pins_the_parts() -> None:
    a = load_pack("nhsa-settlement+code-validity")
    b = load_pack("code-validity+nhsa-settlement")
    assert a.sha256 != b.sha256
    assert a.manifest()["rules"][-1]["params"] == {"system": "procedure", "gray_severity": None}
