"""The plausibility and regional-example packs: every rule fails on a case built to break it
and the clean cases pass, alone and combined with the national packs. Adding a rule to either
pack without a breaking case here fails the suite."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from hutong.mapping.facesheet import FaceSheet
from hutong.quality import builtin_packs, check, combine_packs, load_pack, parse_pack
from qc_cases import MAIN_DX, NEWBORN, STENT, dx, facesheet, fee, id_number, rule_ids
from test_qc_rules import CLEAN_VARIANTS

PLAUSIBILITY = load_pack("plausibility")
REGIONAL = load_pack("regional-example")
FEMALE = {"gend": "2", "certno": id_number("11010519640512124")}  # even 17th digit: female

BREAKS: dict[str, dict[str, Callable[[], FaceSheet]]] = {
    "plausibility": {
        "PL-AGE-01": lambda: facesheet(
            setlinfo=FEMALE, diseinfo=[MAIN_DX, dx("O80.000", "头位顺产")]
        ),
        "PL-AGE-02": lambda: facesheet(diseinfo=[MAIN_DX, dx("P07.300", "早产儿")]),
        "PL-AGE-03": lambda: facesheet(diseinfo=[MAIN_DX, dx("Z38.000", "单胎活产婴儿")]),
        "PL-SEX-01": lambda: facesheet(
            setlinfo=FEMALE, diseinfo=[MAIN_DX, dx("N40.x00", "前列腺增生")]
        ),
        "PL-SEX-02": lambda: facesheet(diseinfo=[MAIN_DX, dx("N80.000", "子宫内膜异位症")]),
        "PL-NB-01": lambda: facesheet(setlinfo={**NEWBORN, "nwb_bir_wt": 12000}),
        "PL-LOS-01": lambda: facesheet(
            setlinfo={"dscg_time": "2025-09-29 10:00:00", "act_ipt_days": 210}
        ),
        "PL-LOS-02": lambda: facesheet(
            setlinfo={"dscg_time": "2025-03-03 18:00:00", "act_ipt_days": 2},
            oprninfo=[{**STENT, "oprn_oprt_date": "2025-03-03 12:00:00"}],
        ),
        "PL-FEE-01": lambda: facesheet(
            iteminfo=[fee("08", clab=200000.00, own=100000.00), fee("01", claa=250.00)]
        ),
        "PL-DSC-01": lambda: facesheet(
            setlinfo={"dscg_way": "5", "days_rinp_flag_31": "2", "days_rinp_pup_31": "复查"}
        ),
        "PL-AGE-04": lambda: facesheet(
            setlinfo={"age": 130, "brdy": "1895-01-01", "patn_cert_type": "03", "certno": "E1"}
        ),
    },
    "regional-example": {
        "RG-REQ-01": lambda: facesheet(setlinfo={"hi_no": None}),
        "RG-REQ-02": lambda: facesheet(setlinfo={**NEWBORN, "nwb_adm_type": None}),
        "RG-PC-01": lambda: facesheet(setlinfo={"poscode": "10002"}),
        "RG-FEE-01": lambda: facesheet(
            iteminfo=[fee("08", clab=150000.00, own=60000.00), fee("01", claa=250.00)]
        ),
    },
}
PACKS = {"plausibility": PLAUSIBILITY, "regional-example": REGIONAL}
CASES = [(pack, rid) for pack, breaks in BREAKS.items() for rid in sorted(breaks)]
RULES = [(name, rule.id) for name, pack in PACKS.items() for rule in pack.rules]

# Regional variants of the clean case that must pass the regional pack too.
REGIONAL_CLEAN: dict[str, Callable[[], FaceSheet]] = {
    "six-digit postal code": lambda: facesheet(setlinfo={"poscode": "100020"}),
    "postal code '-'": lambda: facesheet(setlinfo={"poscode": "-"}),
}


@pytest.mark.parametrize("name", sorted(PACKS))
def test_every_rule_has_a_breaking_case(name: str) -> None:
    assert set(BREAKS[name]) == {rule.id for rule in PACKS[name].rules}


@pytest.mark.parametrize(("name", "rule_id"), CASES)
def test_breaking_case_fails_exactly_that_rule(name: str, rule_id: str) -> None:
    findings = check(BREAKS[name][rule_id](), name)
    assert rule_ids(findings) == {rule_id}, findings.to_string()
    assert (findings["severity"] == PACKS[name].rule(rule_id).severity).all()
    assert findings["mdtrt_id"].notna().all()


@pytest.mark.parametrize(("name", "rule_id"), RULES)
def test_every_rule_names_its_source_and_speaks_both_languages(name: str, rule_id: str) -> None:
    rule = PACKS[name].rule(rule_id)
    assert rule.source.strip() and rule.message_zh.strip() and rule.message_en.strip()


BUILTIN_RULES = [(name, rule.id) for name in builtin_packs() for rule in load_pack(name).rules]


@pytest.mark.parametrize(("name", "rule_id"), BUILTIN_RULES)
def test_every_builtin_rule_suggests_a_fix_in_both_languages(name: str, rule_id: str) -> None:
    rule = load_pack(name).rule(rule_id)
    assert rule.fix_zh.strip() and rule.fix_en.strip()
    assert rule.fix_zh != rule.message_zh and rule.fix_en != rule.message_en
    assert rule.to_dict()["fix_zh"] == rule.fix_zh
    assert rule.to_dict()["fix_en"] == rule.fix_en


def test_builtin_rule_ids_are_unique_across_packs() -> None:
    ids = [rule_id for _, rule_id in BUILTIN_RULES]
    assert len(ids) == len(set(ids))
    combine_packs(*(load_pack(name) for name in builtin_packs()))  # refuses a duplicate id


def test_fix_is_optional_but_never_blank() -> None:
    rule = parse_pack(REGIONAL_TOML.encode(), "r.toml").rules[0]
    assert (rule.fix_zh, rule.fix_en) == ("", "")
    assert "fix_zh" not in rule.to_dict()
    with pytest.raises(ValueError, match="'fix_en' must be non-empty text"):
        parse_pack((REGIONAL_TOML + 'fix_en = " "\n').encode(), "bad.toml")


def test_plausibility_rules_are_warnings() -> None:
    assert {rule.severity for rule in PLAUSIBILITY.rules} == {"warning"}


@pytest.mark.parametrize("variant", sorted(CLEAN_VARIANTS))
@pytest.mark.parametrize(
    "pack",
    [
        "plausibility",
        "nhsa-settlement+nhsa-homepage+code-validity+plausibility",
        "regional-example",
    ],
)
def test_clean_cases_pass(pack: str, variant: str) -> None:
    findings = check(CLEAN_VARIANTS[variant](), pack)
    assert findings.empty, findings.to_string()


@pytest.mark.parametrize("variant", sorted(REGIONAL_CLEAN))
def test_regional_clean_variants_pass(variant: str) -> None:
    findings = check(REGIONAL_CLEAN[variant](), "nhsa-settlement+regional-example")
    assert findings.empty, findings.to_string()


def test_combined_pack_loads_with_all_rules() -> None:
    pack = load_pack("nhsa-settlement+code-validity+plausibility")
    parts = [load_pack(n) for n in ("nhsa-settlement", "code-validity", "plausibility")]
    assert [r.id for r in pack.rules] == [r.id for p in parts for r in p.rules]


def test_breaking_case_also_fires_in_the_combination() -> None:
    sheet = BREAKS["plausibility"]["PL-SEX-02"]()
    assert rule_ids(check(sheet, "nhsa-settlement+code-validity+plausibility")) == {"PL-SEX-02"}


def test_thresholds_are_run_parameters() -> None:
    sheet = facesheet()  # a 5-day stay at about 6,720 CNY a day
    assert rule_ids(check(sheet, "plausibility", params={"max_los": 4})) == {"PL-LOS-01"}
    found = check(sheet, "plausibility", params={"max_fee_per_day": 5000})
    assert rule_ids(found) == {"PL-FEE-01"}
    assert found.loc[0, "message_en"].endswith("(6720.14)")


def test_obstetric_window_holds_for_a_woman_of_child_bearing_age() -> None:
    sheet = facesheet(
        setlinfo={
            **FEMALE,
            "brdy": "1994-05-12",
            "age": 30,
            "certno": id_number("11010519940512124"),
        },
        diseinfo=[MAIN_DX, dx("O80.000", "头位顺产")],
    )
    assert check(sheet, "nhsa-settlement+plausibility").empty


def test_regional_pack_counts_a_same_day_stay_as_zero_days() -> None:
    same_day = {"dscg_time": "2025-03-03 18:00:00"}
    stent = [{**STENT, "oprn_oprt_date": "2025-03-03 12:00:00"}]
    zero = facesheet(setlinfo={**same_day, "act_ipt_days": 0}, oprninfo=stent)
    one = facesheet(setlinfo={**same_day, "act_ipt_days": 1}, oprninfo=stent)
    combined = load_pack("nhsa-settlement+code-validity+regional-example")
    assert combined.rule("SL-LOS-01").params["same_day_los"] == 0
    assert combined.manifest()["params"] == {"same_day_los": 0}
    assert check(zero, combined).empty
    assert rule_ids(check(one, combined)) == {"SL-LOS-01"}
    assert rule_ids(check(zero)) == {"SL-LOS-01"}  # the national pack alone still counts 1


def test_pack_params_naming_no_rule_fail_when_combined() -> None:
    text = REGIONAL_TOML.replace("same_day_los = 0", "same_day_lost = 0")
    pack = parse_pack(text.encode(), "bad.toml")
    with pytest.raises(ValueError, match="same_day_lost"):
        combine_packs(load_pack("nhsa-settlement"), pack)


REGIONAL_TOML = """
[pack]
name = "r"
version = "1"
source = "s"
params = { same_day_los = 0 }

[[rule]]
id = "R-1"
severity = "error"
node = "setlinfo"
fields = ["hi_no"]
source = "s"
message_zh = "z"
message_en = "e"
kind = "required"
"""
