"""The synthetic cases: deterministic, valid where they should be, broken where they say so."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from importlib import resources

import pytest

from hutong.synthetic import generate_cases
from hutong.synthetic.broken import KINDS, level

PARTS = ("claa_sumfee", "clab_amt", "fulamt_ownpay_amt", "oth_amt")


def code_file(name: str) -> dict[str, str]:
    text = resources.files("hutong.terminologies").joinpath("data", name).read_text("utf-8")
    return dict(line.split(" ", 1) for line in text.splitlines())


def id_is_valid(certno: str) -> bool:
    """GB 11643-1999, written out here independently of the generator."""
    weights = [2 ** (17 - i) % 11 for i in range(17)]
    total = sum(int(d) * w for d, w in zip(certno[:17], weights, strict=True))
    return certno[17] == "10X98765432"[total % 11]


@pytest.fixture(scope="module", params=[2024, 2025])
def cases(request) -> list[dict]:
    return generate_cases(200, request.param)


def ok(case: dict, *kinds: str) -> bool:
    """True when the case is not broken in one of ``kinds`` (so the property must hold)."""
    return case["broken"] not in kinds


def test_same_seed_same_cases_other_seed_other_cases():
    assert generate_cases(40, 7) == generate_cases(40, 7)
    assert generate_cases(40, 7) != generate_cases(40, 8)


def test_a_case_does_not_depend_on_how_many_are_drawn():
    short, long = generate_cases(30, 11), generate_cases(300, 11)
    same = [
        a == b for a, b in zip(short, long, strict=False) if not a["broken"] and not b["broken"]
    ]
    assert same and all(same)


def test_id_numbers_are_valid_and_match_birth_date_and_sex(cases):
    for case in cases:
        p = case["patient"]
        assert len(p["certno"]) == 18
        assert p["certno"][6:14] == f"{p['brdy']:%Y%m%d}"
        assert int(p["certno"][16]) % 2 == (1 if p["gend"] == "1" else 0)
        assert id_is_valid(p["certno"]) == ok(case, "id_check_digit"), case["encounter"]


def test_fee_parts_add_up_and_lines_add_up_to_categories(cases):
    for case in cases:
        for charge in case["charges"]:
            assert all(charge[f].as_tuple().exponent == -2 for f in ("amt", *PARTS))
            adds_up = charge["amt"] == sum((charge[p] for p in PARTS), Decimal(0))
            assert adds_up or not ok(case, "fee_parts_mismatch")
        if ok(case, "fee_parts_mismatch"):
            for line in case["fee_lines"]:
                assert line["amt"] == sum((line[p] for p in PARTS), Decimal(0))
        for charge in case["charges"]:
            lines = [x for x in case["fee_lines"] if x["med_chrgitm"] == charge["med_chrgitm"]]
            assert 1 <= len(lines) <= 3
            for field in ("amt", *PARTS):
                assert sum((x[field] for x in lines), Decimal(0)) == charge[field]
        categories = [c["med_chrgitm"] for c in case["charges"]]
        assert categories == sorted(set(categories))
        assert {"12", "13"}.isdisjoint(categories)


def test_every_code_is_in_the_shipped_sample_lists(cases):
    diagnoses = code_file("sample-icd10-yb-2.0.txt")
    procedures = code_file("sample-icd9cm3-yb-2.0.txt")
    for case in cases:
        for dx in case["diagnoses"]:
            known = dx["code"] in diagnoses and diagnoses[dx["code"]] == dx["name"]
            assert known or not ok(case, "unknown_diag_code", "star_code_alone"), dx
        for px in case["procedures"]:
            assert procedures[px["code"]] == px["name"]
            assert px["local_code"] == px["code"]


def test_every_broken_kind_occurs_tagged_in_200_cases(cases):
    found = Counter(c["broken"] for c in cases if c["broken"])
    assert set(found) == set(KINDS)
    assert 0.03 * len(cases) <= sum(found.values()) <= 0.07 * len(cases)
    for case in cases:
        adapter = case["broken"] and level(case["broken"]) == "adapter"
        assert bool(case["raw"]) == bool(adapter)


def test_broken_kinds_break_what_they_say(cases):
    diagnoses = code_file("sample-icd10-yb-2.0.txt")
    for case in cases:
        enc, dx, kind = case["encounter"], case["diagnoses"], case["broken"]
        if kind == "bad_datetime":
            ((field, text),) = case["raw"]["encounter"].items()
            assert field in ("adm_time", "dscg_time") and text
        elif kind == "unknown_sex":
            assert case["raw"]["patient"]["gend"] not in ("0", "1", "2", "9")
        elif kind == "missing_case_id":
            assert case["raw"]["encounter"]["mdtrt_id"] == "" and enc["mdtrt_id"]
        elif kind == "transfer_without_receiver":
            assert enc["dscg_way"] == "2" and not enc["acp_medins_name"]
        elif kind == "newborn_without_birth_weight":
            assert enc["age"] == 0 and enc["nwb_bir_wt"] is None and enc["nwb_adm_wt"]
        elif kind == "main_diag_adm_cond_4":
            assert dx[0]["maindiag_flag"] == "1" and dx[0]["adm_cond_type"] == "4"
        elif kind == "discharge_before_admission":
            assert enc["dscg_time"] < enc["adm_time"]
        elif kind == "unknown_diag_code":
            assert dx[0]["code"] not in diagnoses and dx[0]["code"] == dx[0]["local_code"]
        elif kind == "star_code_alone":
            stars = [d for d in dx if d["code"].endswith("*") and "+" not in d["code"]]
            assert len(stars) == 1 and stars[0]["maindiag_flag"] == "0"


def test_times_lengths_of_stay_and_procedure_dates_are_consistent(cases):
    for case in cases:
        enc = case["encounter"]
        adm, dscg = enc["adm_time"], enc["dscg_time"]
        assert adm.year == dscg.year == 2024
        assert adm.second == dscg.second == 0
        if not ok(case, "discharge_before_admission"):
            continue
        assert adm <= dscg
        days = max((dscg.date() - adm.date()).days, 1)
        assert (enc["act_ipt_days"] == days) == ok(case, "los_mismatch")
        for px in case["procedures"]:
            assert adm <= px["oprn_oprt_date"] <= dscg
            assert px["oprn_lv"] in "1234" and px["oper_dr_name"] and px["oper_dr_code"]
            assert bool(px["anst_dr_name"]) == (px["anst_way"] in ("1", "2", "4"))
        assert [px["seq"] for px in case["procedures"]] == list(
            range(1, len(case["procedures"]) + 1)
        )
        assert len(case["procedures"]) <= 5


def test_diagnoses_are_ordered_with_one_main(cases):
    for case in cases:
        dx = case["diagnoses"]
        assert [d["seq"] for d in dx] == list(range(1, len(dx) + 1))
        assert [d["maindiag_flag"] for d in dx] == ["1"] + ["0"] * (len(dx) - 1)
        assert len(dx) <= 11
        assert len({d["code"] for d in dx}) == len(dx)


def test_newborns_deaths_transfers_and_day_surgery_occur(cases):
    enc = [c["encounter"] for c in cases]
    newborns = [e for e in enc if e["age"] == 0]
    assert newborns and all(0 <= e["nwb_age"] <= 28 for e in newborns)
    assert all(e["nwb_adm_type"] in ("1", "2", "3") for e in newborns)
    for case in cases:
        e = case["encounter"]
        for weight in (e["nwb_bir_wt"], e["nwb_adm_wt"]):
            assert weight is None or (weight % 10 == 0 and 500 <= weight <= 5000)
        if e["age"] == 0 and ok(case, "newborn_without_birth_weight"):
            assert e["nwb_bir_wt"] and e["nwb_adm_wt"]
    assert any(e["dscg_way"] == "5" for e in enc)
    transfers = [c for c in cases if c["encounter"]["dscg_way"] in ("2", "3")]
    assert any(c["encounter"]["acp_medins_name"] for c in transfers)
    assert all(c["encounter"]["acp_medins_name"] or c["broken"] for c in transfers)
    day = [e for e in enc if e["ipt_med_type"] == "2"]
    assert day and all(e["act_ipt_days"] == 1 for e in day)


def test_deliveries_are_women_with_a_live_birth_code_and_the_baby_weight(cases):
    births = [c for c in cases if c["scenario"] in ("delivery-vaginal", "cesarean")]
    assert births
    for case in births:
        assert case["patient"]["gend"] == "2" and 20 <= case["encounter"]["age"] <= 42
        assert any(d["code"].startswith("Z37.") for d in case["diagnoses"])
        assert case["encounter"]["nwb_bir_wt"]
    for case in cases:
        if case["scenario"] == "bph":
            assert case["patient"]["gend"] == "1"


def test_ages_match_birth_dates(cases):
    for case in cases:
        brdy, adm = case["patient"]["brdy"], case["encounter"]["adm_time"]
        if not ok(case, "discharge_before_admission"):
            adm = case["encounter"]["dscg_time"]
        assert isinstance(brdy, date) and not isinstance(brdy, datetime)
        years = adm.year - brdy.year - ((adm.month, adm.day) < (brdy.month, brdy.day))
        assert case["encounter"]["age"] == years


def test_sample_code_lists_have_the_official_format():
    folder = resources.files("hutong.terminologies").joinpath("data")
    for name, lo, hi in [
        ("sample-icd10-yb-2.0.txt", 120, 200),
        ("sample-icd9cm3-yb-2.0.txt", 50, 80),
        ("sample-icd10-yb-2.0-gray.txt", 3, 5),
    ]:
        raw = folder.joinpath(name).read_bytes()
        assert b"\r" not in raw and raw.endswith(b"\n")
        lines = raw.decode("utf-8").splitlines()
        assert lo <= len(lines) <= hi
        assert not lines[0].startswith("#")
        assert all(" " in line and not line.startswith(" ") for line in lines)
    gray = code_file("sample-icd10-yb-2.0-gray.txt")
    diagnoses = code_file("sample-icd10-yb-2.0.txt")
    assert gray.items() <= diagnoses.items()
    assert "E11.201+N08.3*" in diagnoses
