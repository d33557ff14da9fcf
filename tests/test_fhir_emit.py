"""FHIR emission from hand-built canonical tables: a man with a day-surgery stay, a newborn girl,
main and other diagnoses (one unmapped, one dagger/star code), a procedure and an orphan row."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pandas as pd
import pytest

from conftest import assert_no_empty_values, floats_in
from hutong import model
from hutong.mapping.fhir import emit_fhir, validate, write_ndjson
from hutong.mapping.fhir.datatypes import date_times
from hutong.mapping.fhir.ndjson import ndjson_bytes, ndjson_lines
from hutong.mapping.fhir.systems import namespace
from hutong.model import Reject

T = pd.Timestamp
PROVENANCE = {"source": "cases.csv", "vendor": "vendor-a"}


def canonical(table: str, rows: list[dict]) -> pd.DataFrame:
    """Rows as the hub hands them to emitters: conformed to the Arrow schema, then pandas."""
    frame = pd.DataFrame(
        [{**PROVENANCE, "locator": f"cases.csv:{i + 2}", **r} for i, r in enumerate(rows)]
    )
    return model.conform(table, frame).to_pandas()


def tables() -> dict[str, pd.DataFrame]:
    patient = canonical(
        "patient",
        [
            {
                "patient_id": "B0001",
                "medcasno": "B0001",
                "name": "张伟",
                "gend": "1",
                "gend_local": "男",
                "brdy": dt.date(1960, 5, 1),
                "patn_cert_type": "01",
                "certno": "11010519600501123X",
                "tel": "13800000000",
            },
            {
                "patient_id": "B0002",
                "medcasno": "B0002",
                "name": "李娜之女",
                "gend": "2",
                "brdy": dt.date(2025, 3, 1),
            },
        ],
    )
    encounter = canonical(
        "encounter",
        [
            {
                "mdtrt_id": "ZY001",
                "patient_id": "B0001",
                "ipt_med_type": "2",
                "adm_way": "2",
                "adm_time": T("2025-03-05 08:00"),
                "dscg_time": T("2025-03-05 18:30"),
                "act_ipt_days": 1,
                "dscg_way": "1",
                "dscg_way_local": "医嘱离院",
            },
            {
                "mdtrt_id": "ZY002",
                "patient_id": "B0002",
                "ipt_med_type": "1",
                "adm_way": "9",
                "adm_time": T("2025-03-01 12:00"),
                "dscg_time": T("2025-03-06 09:15"),
                "dscg_way": "1",
            },
        ],
    )
    diagnosis = canonical(
        "diagnosis",
        [
            dx("ZY001", 1, "1", "DM-NEPH", "糖尿病肾病", "E11.200x011+N08.3*", "2型糖尿病性肾病"),
            dx("ZY001", 2, "0", "HBP", "高血压", "I10.x00x002", "高血压"),
            dx("ZY001", 3, "0", "ZY-001", "腰痛待查", None, None),
            dx("ZY002", 1, "1", "XSE-01", "新生儿黄疸", "P59.900", "新生儿黄疸"),
            dx("ZY999", 1, "1", "HBP", "高血压", "I10.x00x002", "高血压"),  # no such stay
        ],
    )
    procedure = canonical(
        "procedure",
        [
            {
                "mdtrt_id": "ZY001",
                "seq": 1,
                "main_flag": "1",
                "local_code": "SS-01",
                "local_name": "经皮肾穿刺活检",
                "code": "55.2300",
                "code_system": model.PROCEDURE_SYSTEM,
                "name": "闭合性[经皮][针吸]肾活组织检查",
                "map_status": "approved",
                "oprn_oprt_date": T("2025-03-05 10:30"),
            }
        ],
    )
    return {
        "patient": patient,
        "encounter": encounter,
        "diagnosis": diagnosis,
        "procedure": procedure,
    }


def dx(stay, seq, main, local_code, local_name, code, name) -> dict:
    return {
        "mdtrt_id": stay,
        "seq": seq,
        "maindiag_flag": main,
        "diag_type": "1",
        "local_code": local_code,
        "local_name": local_name,
        "code": code,
        "code_system": model.DIAGNOSIS_SYSTEM if code else None,
        "name": name,
        "map_status": "approved" if code else "unmapped",
        "adm_cond_type": "1",
    }


@pytest.fixture(scope="module")
def out() -> dict[str, list[dict]]:
    return emit_fhir(tables())


def by_identifier(resources: list[dict], value: str) -> dict:
    return next(r for r in resources if any(i["value"] == value for i in r["identifier"]))


def test_every_resource_validates_and_every_reference_resolves(out):
    assert validate(out) == []
    assert {k: len(v) for k, v in out.items()} == {
        "Patient": 2,
        "Encounter": 2,
        "Condition": 4,
        "Procedure": 1,
    }


def test_ids_are_uuid5_of_identifier_and_stable(out):
    again = emit_fhir(tables())
    assert again == out
    for resources in out.values():
        for r in resources:
            first = r["identifier"][0]
            expected = uuid.uuid5(namespace(), f"{first['system']}|{first['value']}")
            assert r["id"] == str(expected) and uuid.UUID(r["id"]).version == 5


def test_a_different_identifier_gives_a_different_id(out):
    t = tables()
    t["patient"].loc[0, "medcasno"] = "B0009"
    changed = emit_fhir(t)["Patient"]
    assert {p["id"] for p in changed} != {p["id"] for p in out["Patient"]}
    assert len({p["id"] for p in changed} & {p["id"] for p in out["Patient"]}) == 1


def test_row_order_does_not_change_the_output(out):
    t = {name: frame.iloc[::-1].reset_index(drop=True) for name, frame in tables().items()}
    assert emit_fhir(t) == out


def test_gender_maps_gb_t_2261_and_keeps_the_national_code(out):
    man = by_identifier(out["Patient"], "B0001")
    girl = by_identifier(out["Patient"], "B0002")
    assert (man["gender"], girl["gender"]) == ("male", "female")
    national = man["extension"][0]["valueCodeableConcept"]
    assert national["coding"] == [
        {"system": "urn:oid:2.16.156.10011.2.3.3.4", "code": "1", "display": "男"}
    ]
    assert national["text"] == "男"


@pytest.mark.parametrize(("gend", "gender"), [("0", "unknown"), ("9", "unknown")])
def test_unknown_and_unstated_sex_are_unknown(gend, gender):
    t = tables()
    t["patient"].loc[1, "gend"] = gend
    girl = by_identifier(emit_fhir(t)["Patient"], "B0002")
    assert girl["gender"] == gender
    assert girl["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == gend


def test_patient_identifiers_name_and_birth_date(out):
    man = by_identifier(out["Patient"], "B0001")
    assert [i["system"] for i in man["identifier"]] == [
        "urn:hutong:sid:vendor-a:medcasno",
        "urn:hutong:sid:gb11643",
    ]
    assert man["name"] == [{"text": "张伟", "family": "张", "given": ["伟"]}]
    assert man["birthDate"] == "1960-05-01"
    girl = by_identifier(out["Patient"], "B0002")
    assert girl["name"] == [{"text": "李娜之女"}]  # a mother's name, not a surname + given name
    assert "telecom" not in girl and len(girl["identifier"]) == 1


def test_encounter_period_is_china_time_with_offset(out):
    stay = by_identifier(out["Encounter"], "ZY001")
    assert stay["period"] == {
        "start": "2025-03-05T08:00:00+08:00",
        "end": "2025-03-05T18:30:00+08:00",
    }
    assert stay["status"] == "finished"
    assert stay["class"]["code"] == "IMP"


def test_encounter_keeps_national_admission_and_discharge_codes(out):
    stay = by_identifier(out["Encounter"], "ZY001")
    assert stay["type"] == [
        {"coding": [{"system": "urn:hutong:cs:ipt_med_type", "code": "2", "display": "日间手术"}]}
    ]
    stay_info = stay["hospitalization"]
    assert stay_info["admitSource"]["coding"] == [
        {"system": "urn:oid:2.16.156.10011.2.3.1.270", "code": "2", "display": "门诊"}
    ]
    assert stay_info["dischargeDisposition"]["coding"] == [
        {"system": "urn:hutong:cs:dscg_way", "code": "1", "display": "医嘱离院"}
    ]


def test_encounter_lists_its_diagnoses_with_the_main_one_ranked_first(out):
    stay = by_identifier(out["Encounter"], "ZY001")
    conditions = {f"Condition/{c['id']}": c for c in out["Condition"]}
    ranked = [(d["rank"], conditions[d["condition"]["reference"]]) for d in stay["diagnosis"]]
    assert [(rank, c["identifier"][0]["value"]) for rank, c in ranked] == [
        (1, "ZY001#1"),
        (2, "ZY001#2"),
        (3, "ZY001#3"),
    ]
    assert ranked[0][1]["code"]["text"] == "糖尿病肾病"


def test_condition_keeps_the_local_coding_beside_the_standard_one(out):
    main = by_identifier(out["Condition"], "ZY001#1")
    assert main["code"] == {
        "coding": [
            {
                "extension": [{"url": "urn:hutong:ext:map-status", "valueCode": "approved"}],
                "system": "urn:hutong:cs:icd10-yb-2.0",
                "code": "E11.200x011+N08.3*",
                "display": "2型糖尿病性肾病",
            },
            {
                "system": "urn:hutong:cs:local:vendor-a:diagnosis",
                "code": "DM-NEPH",
                "display": "糖尿病肾病",
            },
        ],
        "text": "糖尿病肾病",
    }
    stay = by_identifier(out["Encounter"], "ZY001")
    assert main["encounter"] == {"reference": f"Encounter/{stay['id']}"}
    assert main["subject"] == stay["subject"]
    assert main["verificationStatus"]["coding"][0]["code"] == "confirmed"


def test_unmapped_diagnosis_has_only_the_local_coding(out):
    unmapped = by_identifier(out["Condition"], "ZY001#3")
    assert unmapped["code"] == {
        "coding": [
            {
                "system": "urn:hutong:cs:local:vendor-a:diagnosis",
                "code": "ZY-001",
                "display": "腰痛待查",
            }
        ],
        "text": "腰痛待查",
    }


def test_procedure(out):
    (proc,) = out["Procedure"]
    assert proc["status"] == "completed"
    assert proc["performedDateTime"] == "2025-03-05T10:30:00+08:00"
    assert [c["system"] for c in proc["code"]["coding"]] == [
        "urn:hutong:cs:icd9cm3-yb-2.0",
        "urn:hutong:cs:local:vendor-a:procedure",
    ]
    assert proc["encounter"] == {
        "reference": f"Encounter/{by_identifier(out['Encounter'], 'ZY001')['id']}"
    }


def test_orphan_diagnosis_is_rejected_not_emitted():
    rejects: list[Reject] = []
    out = emit_fhir(tables(), rejects)
    assert not any(
        i["value"].startswith("ZY999") for c in out["Condition"] for i in c["identifier"]
    )
    assert rejects == [
        Reject(
            "cases.csv",
            "cases.csv:6",
            "orphan",
            "diagnosis: no encounter 'ZY999' in the FHIR output / 无对应就诊记录",
            "mdtrt_id",
            "ZY999",
        )
    ]


def test_encounter_of_an_unknown_patient_takes_its_diagnoses_with_it():
    t = tables()
    t["patient"] = t["patient"].iloc[:1]
    rejects: list[Reject] = []
    out = emit_fhir(t, rejects)
    assert validate(out) == []
    assert len(out["Encounter"]) == 1 and len(out["Condition"]) == 3
    assert [(r.reason, r.field, r.value) for r in rejects] == [
        ("orphan", "patient_id", "B0002"),
        ("orphan", "mdtrt_id", "ZY002"),
        ("orphan", "mdtrt_id", "ZY999"),
    ]


def test_repeated_patient_rows_merge_and_conflicting_ones_are_rejected():
    t = tables()
    t["patient"] = pd.concat([t["patient"], t["patient"].iloc[[1]]], ignore_index=True)
    rejects: list[Reject] = []
    assert len(emit_fhir(t, rejects)["Patient"]) == 2
    assert [r.reason for r in rejects] == ["orphan"]  # only the ZY999 diagnosis
    t["patient"].loc[2, ["name", "locator"]] = ["李娜之子", "cases.csv:9"]
    rejects = []
    assert len(emit_fhir(t, rejects)["Patient"]) == 2
    (duplicate,) = rejects[:-1]
    assert (duplicate.reason, duplicate.locator) == ("duplicate", "cases.csv:9")
    assert "differs from an earlier row for Patient/" in duplicate.message


def test_missing_values_are_left_out_never_empty(out):
    assert_no_empty_values(out)


def test_decimals_are_never_floats(out):
    assert floats_in(out) == []  # what write_ndjson(floats=False) relies on


def test_empty_tables_give_empty_output():
    assert emit_fhir({}) == {"Patient": [], "Encounter": [], "Condition": [], "Procedure": []}


def test_ndjson_is_byte_identical_on_two_writes(out, tmp_path):
    counts = write_ndjson(out, tmp_path / "a")
    write_ndjson(emit_fhir(tables()), tmp_path / "b")
    assert counts == {"Condition": 4, "Encounter": 2, "Patient": 2, "Procedure": 1}
    for kind in counts:
        first = (tmp_path / "a" / f"{kind}.ndjson").read_bytes()
        assert first == (tmp_path / "b" / f"{kind}.ndjson").read_bytes()
    lines = (tmp_path / "a" / "Patient.ndjson").read_text("utf-8").splitlines()
    assert [json.loads(line)["id"] for line in lines] == sorted(p["id"] for p in out["Patient"])
    assert "张伟" in lines[0] + lines[1] and ": " not in lines[0]


def test_released_resources_are_written_the_same_and_let_go_of(out, tmp_path):
    counts = write_ndjson(out, tmp_path / "kept")
    given = emit_fhir(tables())
    assert write_ndjson(given, tmp_path / "released", floats=False, release=True) == counts
    for kind in counts:
        kept = (tmp_path / "kept" / f"{kind}.ndjson").read_bytes()
        assert kept == (tmp_path / "released" / f"{kind}.ndjson").read_bytes()
    assert given == {kind: [] for kind in counts}  # nothing held once written
    assert sum(len(v) for v in out.values()) == sum(counts.values())  # the default keeps them


def test_ndjson_lines_let_go_of_each_resource_as_its_line_is_made():
    items = emit_fhir(tables())["Condition"]
    expected = [ndjson_bytes(r) + b"\n" for r in items]
    lines = ndjson_lines(items, release=True)
    assert next(lines) == expected[0] and items[0] is None and items[1] is not None
    assert [expected[0], *lines] == expected and items == [None] * len(expected)


def test_a_stay_without_main_diagnosis_has_no_rank_1():
    t = tables()
    t["diagnosis"].loc[t["diagnosis"]["mdtrt_id"] == "ZY001", "maindiag_flag"] = "0"
    stay = by_identifier(emit_fhir(t)["Encounter"], "ZY001")
    assert [d["rank"] for d in stay["diagnosis"]] == [2, 3, 4]


def test_china_summer_time_keeps_its_true_offset():
    """China observed summer time 1986-1991; a naive local time then was +09:00."""
    moments = pd.Series([T("1988-07-01 12:00"), T("1988-01-01 12:00"), pd.NaT])
    assert date_times(moments).tolist() == [
        "1988-07-01T12:00:00+09:00",
        "1988-01-01T12:00:00+08:00",
        None,
    ]
