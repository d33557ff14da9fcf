"""The face-sheet items of the synthetic cases (contact address, employer, 门（急）诊诊断): drawn
apart from the core case, realistic, carried to the face sheet and de-identified."""

from __future__ import annotations

import re

import pytest

from hutong.mapping.deid import deidentify, load_deid_profile
from hutong.mapping.facesheet import build_facesheet
from hutong.synthetic import generate_cases, homepage
from test_deid_cases import KEY, tables

EMPLOYED = {"11", "13", "17", "21", "24", "37"}  # the occupations HP-OCC-01 asks an employer of
NEW = {"patient": ("coner_addr", "emp_name", "emp_addr", "emp_tel"),
       "encounter": ("otp_wm_dise", "otp_wm_dise_code")}  # fmt: skip


@pytest.fixture(scope="module", params=[2024, 2025])
def cases(request) -> list[dict]:
    return generate_cases(200, request.param)


def without_new_items(cases: list[dict]) -> list[dict]:
    out = []
    for case in cases:
        case = dict(case)
        for table, fields in NEW.items():
            case[table] = {k: v for k, v in case[table].items() if k not in fields}
        out.append(case)
    return out


def test_new_items_leave_every_other_value_unchanged(monkeypatch):
    """The items come from their own stream: without them, the cases are exactly as before."""
    full = generate_cases(60, 2024)
    monkeypatch.setattr(homepage, "add_items", lambda rng, mix, case: None)
    core = generate_cases(60, 2024)
    assert "coner_addr" not in core[0]["patient"]
    assert without_new_items(full) == core


def test_every_case_has_a_contact_address_often_the_patients_own(cases):
    same = 0
    for case in cases:
        p = case["patient"]
        assert re.match(r"^(河北省|北京市|天津市)\S+号", p["coner_addr"]), p["coner_addr"]
        same += p["coner_addr"] == p["curr_addr"]
    assert 0.3 * len(cases) < same < 0.95 * len(cases)


def test_employer_only_for_the_employed_occupations(cases):
    employed = 0
    for case in cases:
        p = case["patient"]
        fields = (p["emp_name"], p["emp_addr"], p["emp_tel"])
        if p["prfs"] in EMPLOYED:
            employed += 1
            assert "-" not in (p["emp_name"], p["emp_addr"])
            assert re.match(r"^(河北省|北京市|天津市)\S+\d+号$", p["emp_addr"])
            assert re.fullmatch(r"0\d{2,3}-\d{7,8}", p["emp_tel"]) and len(p["emp_tel"]) == 12
        else:
            assert fields == ("-", "-", "-")
    assert employed > 20


def test_outpatient_diagnosis_exactly_for_clinic_and_emergency_admissions(cases):
    clinic = homepage.items()["outpatient"]["clinic"]
    same = other = 0
    for case in cases:
        enc, main = case["encounter"], case["diagnoses"][0]
        name, code = enc["otp_wm_dise"], enc["otp_wm_dise_code"]
        if enc["adm_way"] not in ("1", "2"):
            assert name is None and code is None
            continue
        assert name and code
        if case["broken"] in ("unknown_diag_code", "star_code_alone"):
            continue  # the discharge diagnosis was broken after the clinic wrote its own
        if (code, name) == (main["code"], main["name"]):
            same += 1
        else:
            other += 1
            assert f"{code} {name}" in clinic[main["code"][:3]]
    assert same > other > 0


def test_new_items_are_writable_in_gbk(cases):
    for case in cases:
        for table, fields in NEW.items():
            for field in fields:
                value = case[table][field]
                assert value is None or value.encode("gbk").decode("gbk") == value


def test_facesheet_takes_the_outpatient_code_not_the_discharge_diagnosis():
    t = tables()
    t["patient"]["coner_addr"] = "河北省廊坊市安次区建设路1号"
    t["patient"]["emp_name"] = "廊坊市第三中学"
    t["patient"]["emp_addr"] = "河北省廊坊市广阳区人民路2号"
    t["encounter"]["otp_wm_dise"] = "胸痛"
    t["encounter"]["otp_wm_dise_code"] = "R07.400"
    s = build_facesheet(t).setlinfo.iloc[0]
    assert s["wm_dise_code"] == "R07.400" and s["otp_wm_dise"] == "胸痛"
    assert s["coner_addr"] == "河北省廊坊市安次区建设路1号"
    assert (s["emp_name"], s["emp_addr"]) == ("廊坊市第三中学", "河北省廊坊市广阳区人民路2号")
    t["encounter"]["otp_wm_dise_code"] = None  # no clinic diagnosis: no code, not the main one
    assert build_facesheet(t).setlinfo["wm_dise_code"].isna().all()


@pytest.mark.parametrize(("profile", "region"), [("research", "河北省廊坊市"), ("share", "河北省")])
def test_contact_and_employer_are_de_identified_like_the_home_address(profile, region):
    t = tables()
    t["patient"]["coner_addr"] = "河北省廊坊市安次区建设路1号幸福小区3号楼"
    t["patient"]["emp_addr"] = "河北省廊坊市广阳区人民路2号"
    t["patient"]["emp_name"] = "廊坊市华翔汽车零部件厂"
    t["patient"]["emp_tel"] = "0316-2345678"
    safe, report = deidentify(t, load_deid_profile(profile), KEY)
    pat = safe["patient"]
    assert set(pat["coner_addr"]) == set(pat["emp_addr"]) == {region}
    assert pat["emp_name"].isna().all() and pat["emp_tel"].isna().all()
    assert report["removed"]["patient.emp_name"] == len(pat)
