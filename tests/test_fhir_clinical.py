"""FHIR emission of the clinical tables from hand-built canonical frames: an outpatient visit
(AMB) with a lab order and its report of three results (numeric with range and flag, coded,
text), a CT order with a study of 2 series / 3 instances and its report, two drug orders, and
rows whose patient, visit, study or series is missing."""

from __future__ import annotations

import copy
import json
import uuid
from decimal import Decimal

import pandas as pd
import pytest

from conftest import assert_no_empty_values, floats_in
from hutong import model
from hutong.mapping.fhir import emit_fhir, validate, write_ndjson
from hutong.mapping.fhir.datatypes import decimal, ucum
from hutong.mapping.fhir.ndjson import TYPES, ndjson_line
from hutong.mapping.fhir.systems import namespace
from hutong.model import Reject

T = pd.Timestamp
PROVENANCE = {"source": "lis.hl7", "vendor": "vendor-a"}
STUDY = "1.2.840.113619.2.55.3.604688119.969.1"
CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"


def canonical(table: str, rows: list[dict]) -> pd.DataFrame:
    """Rows as the hub hands them to emitters: conformed to the Arrow schema, then pandas."""
    frame = pd.DataFrame(
        [{**PROVENANCE, "locator": f"lis.hl7:{i + 1}", **r} for i, r in enumerate(rows)]
    )
    return model.conform(table, frame).to_pandas()


def tables() -> dict[str, pd.DataFrame]:
    patient = canonical(
        "patient",
        [
            {"patient_id": "P1", "medcasno": "B0001", "name": "张伟", "gend": "1"},
            {"patient_id": "P2", "medcasno": "B0002", "name": "李娜", "gend": "2"},
        ],
    )
    encounter = canonical(
        "encounter",
        [
            {
                "mdtrt_id": "MZ001",
                "patient_id": "P1",
                "enc_class": "AMB",
                "adm_time": T("2025-03-01 08:10"),
                "dscg_time": T("2025-03-01 11:00"),
            },
            {"mdtrt_id": "ZY002", "patient_id": "P2", "adm_time": T("2025-03-02 09:00")},
        ],
    )
    order = canonical(
        "order",
        [
            {
                "order_id": "ORD1",
                "patient_id": "P1",
                "mdtrt_id": "MZ001",
                "local_code": "LIS-BIO",
                "local_name": "生化检查",
                "status": "completed",
                "priority": "S",
                "ordered_time": T("2025-03-01 08:20"),
                "requester": "王医生",
            },
            {
                "order_id": "ORD2",
                "patient_id": "P1",
                "mdtrt_id": "MZ001",
                "code": "24627-2",
                "code_system": "LN",
                "name": "CT Chest",
                "local_code": "CT-01",
                "local_name": "胸部CT平扫",
                "priority": "普通",
                "ordered_time": T("2025-03-01 08:25"),
            },
            {"order_id": "ORD9", "patient_id": "P1", "mdtrt_id": "ZY999", "name": "血常规"},
        ],
    )
    report = canonical(
        "report",
        [
            {
                "report_id": "R1",
                "patient_id": "P1",
                "mdtrt_id": "MZ001",
                "order_id": "ORD1",
                "local_code": "LIS-BIO",
                "local_name": "生化检查",
                "category": "LAB",
                "status": "final",
                "effective_time": T("2025-03-01 08:30"),
                "issued_time": T("2025-03-01 10:05"),
            },
            {
                "report_id": "R2",
                "patient_id": "P1",
                "mdtrt_id": "MZ001",
                "order_id": "ORD2",
                "name": "胸部CT平扫报告",
                "category": "RAD",
                "effective_time": T("2025-03-01 09:00"),
                "issued_time": T("2025-03-01 10:40"),
                "conclusion": "双肺未见明显异常。",
                "study_uid": STUDY,
            },
            {
                # an earlier report whose order and study are not in this export
                "report_id": "R3",
                "patient_id": "P1",
                "order_id": "ORD-OLD",
                "category": "RAD",
                "status": "final",
                "study_uid": "1.2.3.4",
            },
        ],
    )
    observation = canonical(
        "observation",
        [
            {
                "observation_id": "R1-1",
                "patient_id": "P1",
                "mdtrt_id": "MZ001",
                "report_id": "R1",
                "seq": 1,
                "local_code": "GLU",
                "local_name": "葡萄糖",
                "code": "2345-7",
                "code_system": "LOINC",
                "name": "Glucose [Moles/volume] in Serum or Plasma",
                "map_status": "approved",
                "value_type": "NM",
                "value_num": 7.10,
                "value_text": "7.10",
                "unit": "mmol/L",
                "ref_low": 3.9,
                "ref_high": 6.1,
                "ref_range": "3.90-6.10",
                "abnormal_flag": "H",
                "status": "final",
            },
            {
                "observation_id": "R1-3",
                "patient_id": "P1",
                "mdtrt_id": "MZ001",
                "report_id": "R1",
                "seq": 3,
                "local_code": "COLOR",
                "local_name": "血清外观",
                "value_type": "ST",
                "value_text": "淡黄色，清亮",
            },
            {
                "observation_id": "R1-2",
                "patient_id": "P1",
                "mdtrt_id": "MZ001",
                "report_id": "R1",
                "seq": 2,
                "local_code": "HBSAG",
                "local_name": "乙肝表面抗原",
                "value_type": "CWE",
                "value_code": "NEG",
                "value_text": "阴性",
                "abnormal_flag": "N",
            },
            {
                "observation_id": "X-1",  # no such patient
                "patient_id": "P9",
                "local_code": "GLU",
                "value_num": 5.0,
            },
        ],
    )
    imaging_study = canonical(
        "imaging_study",
        [
            {
                "study_uid": STUDY,
                "patient_id": "P1",
                "mdtrt_id": "MZ001",
                "accession": "CT20250301001",
                "study_time": T("2025-03-01 08:50"),
                "description": "胸部CT平扫",
                "modalities": "CT",
                "referrer": "王医生",
            }
        ],
    )
    imaging_series = canonical(
        "imaging_series",
        [
            {
                "series_uid": f"{STUDY}.2",
                "study_uid": STUDY,
                "number": 2,
                "body_part": "CHEST",
                "description": "Lung 1.25mm",
                "series_time": T("2025-03-01 08:52"),
            },
            {
                "series_uid": f"{STUDY}.1",
                "study_uid": STUDY,
                "number": 1,
                "modality": "CT",
                "description": "Scout",
            },
            {"series_uid": "9.9.9", "study_uid": "9.9", "number": 1, "modality": "MR"},
        ],
    )
    imaging_instance = canonical(
        "imaging_instance",
        [
            {
                "sop_instance_uid": f"{STUDY}.1.1",
                "series_uid": f"{STUDY}.1",
                "study_uid": STUDY,
                "sop_class_uid": CT_IMAGE,
                "number": 1,
            },
            {
                "sop_instance_uid": f"{STUDY}.2.2",
                "series_uid": f"{STUDY}.2",
                "study_uid": STUDY,
                "sop_class_uid": CT_IMAGE,
                "number": 2,
            },
            {
                "sop_instance_uid": f"{STUDY}.2.1",
                "series_uid": f"{STUDY}.2",
                "study_uid": STUDY,
                "sop_class_uid": CT_IMAGE,
                "number": 1,
            },
            {
                "sop_instance_uid": "9.9.9.1",
                "series_uid": "9.9.9",
                "study_uid": "9.9",
                "sop_class_uid": CT_IMAGE,
            },
        ],
    )
    medication = canonical(
        "medication",
        [
            {
                "med_id": "M1",
                "patient_id": "P1",
                "mdtrt_id": "MZ001",
                "order_id": "YZ1001",
                "local_code": "AMX-500",
                "local_name": "阿莫西林胶囊",
                "dose": 0.5,
                "dose_unit": "g",
                "route": "口服",
                "frequency": "tid",
                "start_time": T("2025-03-01 10:30"),
                "end_time": T("2025-03-08 10:30"),
            },
            {
                "med_id": "M2",  # the visit ZY002 is the other patient's
                "patient_id": "P1",
                "mdtrt_id": "ZY002",
                "local_name": "布洛芬缓释胶囊",
                "status": "stopped",
            },
        ],
    )
    return {
        "patient": patient,
        "encounter": encounter,
        "order": order,
        "report": report,
        "observation": observation,
        "imaging_study": imaging_study,
        "imaging_series": imaging_series,
        "imaging_instance": imaging_instance,
        "medication": medication,
    }


@pytest.fixture(scope="module")
def emitted() -> tuple[dict[str, list[dict]], list[Reject]]:
    rejects: list[Reject] = []
    return emit_fhir(tables(), rejects), rejects


@pytest.fixture(scope="module")
def out(emitted) -> dict[str, list[dict]]:
    return emitted[0]


def by_identifier(resources: list[dict], value: str) -> dict:
    return next(r for r in resources if any(i["value"] == value for i in r["identifier"]))


def ref(resource: dict) -> dict:
    return {"reference": f"{resource['resourceType']}/{resource['id']}"}


def test_everything_validates_and_every_reference_resolves(out):
    assert validate(out) == []
    assert {k: len(v) for k, v in out.items()} == {
        "Patient": 2,
        "Encounter": 2,
        "Condition": 0,
        "Procedure": 0,
        "ServiceRequest": 2,
        "DiagnosticReport": 3,
        "Observation": 3,
        "ImagingStudy": 1,
        "MedicationRequest": 1,
    }
    for resources in out.values():
        assert [r["id"] for r in resources] == sorted(r["id"] for r in resources)


def test_ids_are_uuid5_of_the_first_identifier_and_stable(out):
    assert emit_fhir(tables()) == out
    for resources in out.values():
        for r in resources:
            first = r["identifier"][0]
            assert r["id"] == str(uuid.uuid5(namespace(), f"{first['system']}|{first['value']}"))
    (study,) = out["ImagingStudy"]
    assert study["identifier"][0] == {"system": "urn:dicom:uid", "value": f"urn:oid:{STUDY}"}
    result = by_identifier(out["Observation"], "R1-1")
    assert result["identifier"] == [
        {"system": "urn:hutong:sid:vendor-a:observation_id", "value": "R1-1"}
    ]


def test_row_order_does_not_change_the_output(out):
    reversed_tables = {n: f.iloc[::-1].reset_index(drop=True) for n, f in tables().items()}
    assert emit_fhir(reversed_tables) == out


def test_outpatient_visit_is_ambulatory(out):
    visit = by_identifier(out["Encounter"], "MZ001")
    assert visit["class"] == {
        "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
        "code": "AMB",
        "display": "ambulatory",
    }
    assert by_identifier(out["Encounter"], "ZY002")["class"]["code"] == "IMP"  # the default


def test_unknown_encounter_class_is_kept_as_the_vendors_code():
    t = tables()
    t["encounter"].loc[0, "enc_class"] = "门诊"
    visit = by_identifier(emit_fhir(t)["Encounter"], "MZ001")
    assert visit["class"] == {"system": "urn:hutong:cs:local:vendor-a:enc_class", "code": "门诊"}


def test_numeric_result_keeps_precision_range_unit_and_flag(out):
    glucose = by_identifier(out["Observation"], "R1-1")
    mmol = {"unit": "mmol/L", "system": UCUM, "code": "mmol/L"}
    assert glucose["valueQuantity"] == {"value": Decimal("7.10"), **mmol}
    assert str(glucose["valueQuantity"]["value"]) == "7.10"
    assert glucose["referenceRange"] == [
        {
            "low": {"value": Decimal("3.90"), **mmol},
            "high": {"value": Decimal("6.10"), **mmol},
            "text": "3.90-6.10",
        }
    ]
    assert glucose["interpretation"] == [
        {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                    "code": "H",
                    "display": "High",
                }
            ]
        }
    ]
    assert glucose["code"]["coding"][0]["system"] == LOINC
    assert glucose["code"]["coding"][1] == {
        "system": "urn:hutong:cs:local:vendor-a:observation",
        "code": "GLU",
        "display": "葡萄糖",
    }
    assert glucose["status"] == "final"


def test_coded_and_text_results_keep_their_type(out):
    antigen = by_identifier(out["Observation"], "R1-2")
    assert antigen["valueCodeableConcept"] == {
        "coding": [
            {
                "system": "urn:hutong:cs:local:vendor-a:observation-value",
                "code": "NEG",
                "display": "阴性",
            }
        ],
        "text": "阴性",
    }
    assert antigen["interpretation"][0]["coding"][0]["code"] == "N"
    colour = by_identifier(out["Observation"], "R1-3")
    assert colour["valueString"] == "淡黄色，清亮"
    assert not {"valueQuantity", "valueCodeableConcept"} & set(colour)
    assert colour["code"] == {
        "coding": [
            {
                "system": "urn:hutong:cs:local:vendor-a:observation",
                "code": "COLOR",
                "display": "血清外观",
            }
        ],
        "text": "血清外观",
    }


def test_results_take_category_and_time_from_their_report(out):
    report = by_identifier(out["DiagnosticReport"], "R1")
    visit = by_identifier(out["Encounter"], "MZ001")
    for result in out["Observation"]:
        assert result["category"][0]["coding"][0]["code"] == "laboratory"
        assert result["effectiveDateTime"] == "2025-03-01T08:30:00+08:00"
        assert result["subject"] == report["subject"] and result["encounter"] == ref(visit)


def test_lab_report_lists_results_by_seq_and_points_to_its_order(out):
    report = by_identifier(out["DiagnosticReport"], "R1")
    results = [by_identifier(out["Observation"], f"R1-{i}") for i in (1, 2, 3)]
    assert report["result"] == [ref(r) for r in results]
    assert report["basedOn"] == [ref(by_identifier(out["ServiceRequest"], "ORD1"))]
    assert report["category"] == [
        {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/v2-0074",
                    "code": "LAB",
                    "display": "Laboratory",
                }
            ]
        }
    ]
    assert report["code"]["coding"] == [
        {"system": "urn:hutong:cs:local:vendor-a:report", "code": "LIS-BIO", "display": "生化检查"}
    ]
    assert report["status"] == "final"
    assert report["effectiveDateTime"] == "2025-03-01T08:30:00+08:00"
    assert report["issued"] == "2025-03-01T10:05:00+08:00"


def test_imaging_report_points_to_its_study_and_keeps_the_conclusion(out):
    report = by_identifier(out["DiagnosticReport"], "R2")
    (study,) = out["ImagingStudy"]
    assert report["imagingStudy"] == [ref(study)]
    assert report["basedOn"] == [ref(by_identifier(out["ServiceRequest"], "ORD2"))]
    assert report["code"] == {"text": "胸部CT平扫报告"}  # no code at all: text only
    assert report["conclusion"] == "双肺未见明显异常。"
    assert "result" not in report


def test_order_and_study_outside_the_output_stay_logical_references(out):
    report = by_identifier(out["DiagnosticReport"], "R3")
    assert report["basedOn"] == [
        {
            "type": "ServiceRequest",
            "identifier": {"system": "urn:hutong:sid:vendor-a:order_id", "value": "ORD-OLD"},
        }
    ]
    assert report["imagingStudy"] == [
        {
            "type": "ImagingStudy",
            "identifier": {"system": "urn:dicom:uid", "value": "urn:oid:1.2.3.4"},
        }
    ]
    assert report["code"] == {"text": "Radiology"}  # neither code nor name: the section
    assert "encounter" not in report


def test_service_request(out):
    lab = by_identifier(out["ServiceRequest"], "ORD1")
    visit = by_identifier(out["Encounter"], "MZ001")
    assert (lab["status"], lab["intent"], lab["priority"]) == ("completed", "order", "stat")
    assert lab["requester"] == {"display": "王医生"}
    assert lab["authoredOn"] == "2025-03-01T08:20:00+08:00"
    assert lab["encounter"] == ref(visit) and lab["subject"] == visit["subject"]
    ct = by_identifier(out["ServiceRequest"], "ORD2")
    assert (ct["status"], ct["priority"]) == ("active", "routine")
    assert ct["code"]["coding"][0]["system"] == LOINC  # code_system LN is LOINC too


def test_imaging_study_nests_sorted_series_and_instances(out):
    (study,) = out["ImagingStudy"]
    assert study["identifier"][1] == {
        "type": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "ACSN"}]
        },
        "system": "urn:hutong:sid:vendor-a:accession",
        "value": "CT20250301001",
    }
    dcm = "http://dicom.nema.org/resources/ontology/DCM"
    assert study["status"] == "available"
    assert study["modality"] == [{"system": dcm, "code": "CT"}]
    assert (study["numberOfSeries"], study["numberOfInstances"]) == (2, 3)
    assert study["started"] == "2025-03-01T08:50:00+08:00"
    assert study["referrer"] == {"display": "王医生"}
    assert study["encounter"] == ref(by_identifier(out["Encounter"], "MZ001"))
    first, second = study["series"]
    assert first == {
        "uid": f"{STUDY}.1",
        "number": 1,
        "modality": {"system": dcm, "code": "CT"},
        "description": "Scout",
        "numberOfInstances": 1,
        "instance": [
            {
                "uid": f"{STUDY}.1.1",
                "sopClass": {"system": "urn:ietf:rfc:3986", "code": f"urn:oid:{CT_IMAGE}"},
                "number": 1,
            }
        ],
    }
    # no modality of its own: the study's single modality
    assert second["modality"] == {"system": dcm, "code": "CT"}
    assert second["bodySite"] == {"display": "CHEST"}
    assert second["started"] == "2025-03-01T08:52:00+08:00"
    assert [i["number"] for i in second["instance"]] == [1, 2]


def test_study_counts_from_the_pacs_win_over_counting_the_input():
    t = tables()
    t["imaging_study"].loc[0, ["series_count", "instance_count"]] = [4, 420]
    (study,) = emit_fhir(t)["ImagingStudy"]
    assert (study["numberOfSeries"], study["numberOfInstances"]) == (4, 420)


def test_medication_request(out):
    (drug,) = out["MedicationRequest"]
    assert (drug["status"], drug["intent"]) == ("active", "order")
    assert drug["identifier"][1] == {
        "system": "urn:hutong:sid:vendor-a:order_id",
        "value": "YZ1001",
    }
    assert drug["medicationCodeableConcept"] == {
        "coding": [
            {
                "system": "urn:hutong:cs:local:vendor-a:medication",
                "code": "AMX-500",
                "display": "阿莫西林胶囊",
            }
        ],
        "text": "阿莫西林胶囊",
    }
    assert drug["authoredOn"] == "2025-03-01T10:30:00+08:00"
    assert drug["dosageInstruction"] == [
        {
            "text": "0.5 g 口服 tid",
            "timing": {
                "repeat": {
                    "boundsPeriod": {
                        "start": "2025-03-01T10:30:00+08:00",
                        "end": "2025-03-08T10:30:00+08:00",
                    }
                },
                "code": {"text": "tid"},
            },
            "route": {"text": "口服"},
            "doseAndRate": [
                {
                    "doseQuantity": {
                        "value": Decimal("0.5"),
                        "unit": "g",
                        "system": UCUM,
                        "code": "g",
                    }
                }
            ],
        }
    ]
    assert "basedOn" not in drug  # YZ1001 is not an order in the output


def test_orphans_are_rejected_with_their_locator(emitted):
    out, rejects = emitted
    assert [(r.reason, r.locator, r.field, r.value) for r in rejects] == [
        ("orphan", "lis.hl7:3", "mdtrt_id", "ZY999"),
        ("orphan", "lis.hl7:3", "study_uid", "9.9"),
        ("orphan", "lis.hl7:4", "series_uid", "9.9.9"),
        ("orphan", "lis.hl7:4", "patient_id", "P9"),
        ("orphan", "lis.hl7:2", "mdtrt_id", "ZY002"),
    ]
    assert rejects[0].message == (
        "order 'ORD9': no encounter 'ZY999' of patient 'P1' in the FHIR output / 无对应就诊记录"
    )
    assert rejects[3].message == (
        "observation 'X-1': no patient 'P9' in the patient table / 无对应患者"
    )
    identifiers = {i["value"] for rs in out.values() for r in rs for i in r.get("identifier", [])}
    assert not {"ORD9", "X-1", "M2"} & identifiers


def test_a_report_whose_patient_is_missing_takes_its_results_with_it():
    t = tables()
    t["patient"] = t["patient"].iloc[1:]
    rejects: list[Reject] = []
    out = emit_fhir(t, rejects)
    assert validate(out) == []
    assert out["DiagnosticReport"] == out["Observation"] == out["ImagingStudy"] == []
    assert out["ServiceRequest"] == out["MedicationRequest"] == []
    orphans = [(r.field, r.value) for r in rejects if r.reason == "orphan"]
    assert orphans.count(("patient_id", "P1")) == 13
    assert ("series_uid", f"{STUDY}.1") in orphans


def test_rows_without_code_or_name_are_rejected():
    t = tables()
    t["observation"].loc[1, ["local_code", "local_name"]] = None
    t["medication"].loc[0, ["local_code", "local_name"]] = None
    rejects: list[Reject] = []
    out = emit_fhir(t, rejects)
    missing = [(r.reason, r.value) for r in rejects if r.reason == "missing_value"]
    assert [r.message for r in rejects if r.reason == "missing_value"] == [
        "observation 'R1-3' without code or name: not converted to FHIR / 必填值缺失",
        "medication 'M1' without code or name: not converted to FHIR / 必填值缺失",
    ]
    assert len(missing) == 2 and len(out["Observation"]) == 2 and out["MedicationRequest"] == []
    assert validate(out) == []


def test_conflicting_repeat_of_a_result_is_rejected_and_a_same_one_merged():
    t = tables()
    obs = t["observation"]
    t["observation"] = pd.concat([obs, obs.iloc[[0]]], ignore_index=True)
    rejects: list[Reject] = []
    assert len(emit_fhir(t, rejects)["Observation"]) == 3
    assert [r.reason for r in rejects].count("duplicate") == 0
    t["observation"].loc[4, ["value_num", "value_text", "locator"]] = [7.2, "7.2", "lis.hl7:99"]
    rejects = []
    assert len(emit_fhir(t, rejects)["Observation"]) == 3
    (duplicate,) = [r for r in rejects if r.reason == "duplicate"]
    assert duplicate.locator == "lis.hl7:99" and "Observation/" in duplicate.message


def test_statuses_default_and_unknown_values_become_unknown():
    t = tables()
    t["observation"].loc[0, "status"] = "F"  # a v2 code, not an observation-status
    t["report"].loc[0, "status"] = None
    t["order"].loc[0, ["status", "priority"]] = ["COMPLETED", "whenever"]
    out = emit_fhir(t)
    assert by_identifier(out["Observation"], "R1-1")["status"] == "unknown"
    assert by_identifier(out["DiagnosticReport"], "R1")["status"] == "final"
    lab = by_identifier(out["ServiceRequest"], "ORD1")
    assert lab["status"] == "completed" and "priority" not in lab
    assert validate(out) == []


@pytest.mark.parametrize(
    ("kind", "path", "bad", "label"),
    [
        ("Observation", "status", "done", "observation-status"),
        ("DiagnosticReport", "status", "done", "diagnostic-report-status"),
        ("ServiceRequest", "status", "done", "request-status"),
        ("ServiceRequest", "intent", "done", "request-intent"),
        ("ServiceRequest", "priority", "soon", "request-priority"),
        ("ImagingStudy", "status", "done", "imagingstudy-status"),
        ("MedicationRequest", "status", "done", "medicationrequest-status"),
        ("MedicationRequest", "intent", "done", "medicationrequest-intent"),
    ],
)
def test_validate_checks_the_required_bindings_of_the_new_types(out, kind, path, bad, label):
    broken = copy.deepcopy(out)
    broken[kind][0][path] = bad
    (problem,) = validate(broken)
    assert problem == f"{kind}/{broken[kind][0]['id']}: {path}: {bad!r} is not in {label}"


def test_a_structured_numeric_keeps_its_comparator():
    t = tables()
    t["observation"].loc[0, ["value_type", "value_num", "value_text"]] = ["SN", None, "<0.50"]
    glucose = by_identifier(emit_fhir(t)["Observation"], "R1-1")
    assert glucose["valueQuantity"]["comparator"] == "<"
    assert str(glucose["valueQuantity"]["value"]) == "0.50"


def test_only_the_clinical_types_given_are_in_the_output():
    t = tables()
    results = t["observation"].assign(mdtrt_id=None)  # results that name no visit
    only = emit_fhir({"patient": t["patient"], "observation": results})
    assert list(only) == ["Patient", "Encounter", "Condition", "Procedure", "Observation"]
    assert len(only["Observation"]) == 3 and validate(only) == []
    assert "DiagnosticReport" not in emit_fhir({**t, "report": model.empty("report")})


def test_ndjson_writes_decimals_as_spelled_and_drops_stale_files(out, tmp_path):
    counts = write_ndjson(out, tmp_path)
    line = next(
        line
        for line in (tmp_path / "Observation.ndjson").read_text("utf-8").splitlines()
        if '"R1-1"' in line
    )
    assert '"value":7.10}' in line and '"value":3.90}' in line
    assert json.loads(line, parse_float=Decimal)["valueQuantity"]["value"] == Decimal("7.10")
    assert counts["Observation"] == 3
    face_sheet_only = {k: v for k, v in out.items() if k in ("Patient", "Encounter")}
    write_ndjson(face_sheet_only, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Encounter.ndjson", "Patient.ndjson"]
    assert set(out) <= set(TYPES)


def test_ndjson_line_without_decimals_is_plain_json():
    resource = {"resourceType": "Patient", "id": "p1", "name": [{"text": "张伟"}], "b": 1.5}
    assert ndjson_line(resource) == json.dumps(
        resource, ensure_ascii=False, sort_keys=True, separators=(",", ":")
    )
    nested = {"z": [{"value": Decimal("1.50")}, 2], "a": {"b": Decimal("-0.0100")}}
    assert ndjson_line(nested) == '{"a":{"b":-0.0100},"z":[{"value":1.50},2]}'


@pytest.mark.parametrize(
    ("number", "spelled", "written"),
    [
        (7.1, "7.10", "7.10"),
        (7.1, None, "7.1"),
        (120.0, None, "120"),
        (120.0, "120.0", "120.0"),
        (-2.0, "-2.0~2.0", "-2.0"),
        (0.0, "0.00", "0.00"),
        (0.1 + 0.2, None, "0.30000000000000004"),
        (3.9, "3.90-6.10", "3.90"),
        (6.1, "3.90-6.10", "6.10"),
    ],
)
def test_decimal_keeps_the_source_spelling_of_the_same_number(number, spelled, written):
    assert str(decimal(number, spelled)) == written


@pytest.mark.parametrize(
    ("unit", "code"),
    [
        ("mmol/L", "mmol/L"),
        ("μmol/L", "umol/L"),
        ("×10^9/L", "10*9/L"),
        ("mg/dl", "mg/dL"),
        ("毫克", "mg"),
        ("个/HP", None),
        (None, None),
    ],
)
def test_units_get_a_ucum_code_only_when_known(unit, code):
    assert ucum(unit) == code


def test_missing_values_are_left_out_never_empty(out):
    assert_no_empty_values(out)


def test_decimals_are_never_floats(out):
    assert floats_in(out) == []  # what write_ndjson(floats=False) relies on


def test_plain_hand_built_frames_work():
    """Frames that skipped ``model.conform``: missing columns, string times and numbers."""
    person = pd.DataFrame({"patient_id": ["X1"], "vendor": ["医院 LIS"]})
    results = pd.DataFrame(
        {
            "observation_id": ["X1-1", "X1-2"],
            "patient_id": ["X1", "X1"],
            "vendor": ["医院 LIS", "医院 LIS"],
            "name": ["血红蛋白", "体温"],
            "value_num": ["135", "36.50"],
            "unit": ["g/L", "℃"],
            "effective_time": ["2025-01-01 08:00:00", None],
            "category": ["laboratory", "vital-signs"],
        }
    )
    rejects: list[Reject] = []
    out = emit_fhir({"patient": person, "observation": results}, rejects)
    assert validate(out) == [] and rejects == []
    hb, temperature = (by_identifier(out["Observation"], i) for i in ("X1-1", "X1-2"))
    assert hb["valueQuantity"] == {
        "value": Decimal(135),
        "unit": "g/L",
        "system": UCUM,
        "code": "g/L",
    }
    assert str(temperature["valueQuantity"]["value"]) == "36.5"  # a float column forgets the 0
    assert temperature["valueQuantity"]["code"] == "Cel"
    assert hb["effectiveDateTime"] == "2025-01-01T08:00:00+08:00"
    assert temperature["category"][0]["coding"][0]["code"] == "vital-signs"


def test_repeated_abnormal_flags_are_each_an_interpretation():
    t = tables()
    t["observation"].loc[0, "abnormal_flag"] = "H~A~??"
    glucose = by_identifier(emit_fhir(t)["Observation"], "R1-1")
    assert [c.get("coding", [{}])[0].get("code") for c in glucose["interpretation"]] == [
        "H",
        "A",
        None,
    ]
    assert glucose["interpretation"][2] == {"text": "??"}


@pytest.mark.parametrize(
    ("value_system", "system"),
    [
        ("SCT", "http://snomed.info/sct"),
        ("HL70136", "http://terminology.hl7.org/CodeSystem/v2-0136"),
        ("99LIS", "urn:hutong:cs:99LIS"),
    ],
)
def test_coded_values_name_their_system(value_system, system):
    t = tables()
    t["observation"].loc[2, "value_system"] = value_system
    antigen = by_identifier(emit_fhir(t)["Observation"], "R1-2")
    assert antigen["valueCodeableConcept"]["coding"][0]["system"] == system


def test_a_plain_report_frame_with_few_columns_works():
    person = pd.DataFrame({"patient_id": ["X1"], "vendor": ["v"]})
    report = pd.DataFrame(
        {"report_id": ["R"], "patient_id": ["X1"], "vendor": ["v"], "name": ["血常规"]}
    )
    results = pd.DataFrame(
        {"observation_id": ["R-1"], "patient_id": ["X1"], "vendor": ["v"], "report_id": ["R"]}
        | {"name": ["白细胞"], "value_text": ["正常"]}
    )
    out = emit_fhir({"patient": person, "report": report, "observation": results})
    assert validate(out) == []
    (lab,) = out["DiagnosticReport"]
    (result,) = out["Observation"]
    assert lab["result"] == [ref(result)] and result["valueString"] == "正常"
    assert "category" not in result and "effectiveDateTime" not in result
