"""``validate`` catches what the R4B models catch, the required bindings they do not, and
references that leave the output."""

from __future__ import annotations

import copy

import pandas as pd
import pytest

from hutong.mapping.fhir import emit_fhir, validate
from hutong.model import Reject

PATIENT = {"resourceType": "Patient", "id": "p1", "gender": "male", "birthDate": "1960-05-01"}
ENCOUNTER = {
    "resourceType": "Encounter",
    "id": "e1",
    "status": "finished",
    "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
    "subject": {"reference": "Patient/p1"},
}
CONDITION = {
    "resourceType": "Condition",
    "id": "c1",
    "verificationStatus": {
        "coding": [
            {
                "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                "code": "confirmed",
            }
        ]
    },
    "code": {"text": "高血压"},
    "subject": {"reference": "Patient/p1"},
    "encounter": {"reference": "Encounter/e1"},
}


def resources(**changes: dict) -> dict[str, list[dict]]:
    out = {
        "Patient": [copy.deepcopy(PATIENT)],
        "Encounter": [copy.deepcopy(ENCOUNTER)],
        "Condition": [copy.deepcopy(CONDITION)],
    }
    for kind, patch in changes.items():
        out[kind][0].update(patch)
    return out


def test_good_resources_have_no_problems():
    assert validate(resources()) == []


def test_a_gender_outside_administrative_gender_is_reported():
    assert validate(resources(Patient={"gender": "mal"})) == [
        "Patient/p1: gender: 'mal' is not in administrative-gender"
    ]


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        ({"birthDate": "1960-13-01"}, "Patient/p1: birthDate: "),
        ({"name": [{"text": ""}]}, "Patient/p1: name.0.text: "),
        ({"nickname": "老张"}, "Patient/p1: nickname: Extra inputs are not permitted"),
    ],
)
def test_model_errors_are_one_line_naming_type_id_and_field(patch, expected):
    (problem,) = validate(resources(Patient=patch))
    assert problem.startswith(expected) and "\n" not in problem


def test_missing_required_element_is_reported():
    out = resources()
    del out["Encounter"][0]["class"]
    assert validate(out) == ["Encounter/e1: class: Field required"]


def test_bad_status_and_verification_status_are_reported():
    bad_status = validate(resources(Encounter={"status": "done"}))
    assert bad_status == ["Encounter/e1: status: 'done' is not in encounter-status"]
    wrong = {"coding": [{"system": "urn:x", "code": "confirmed"}]}
    assert validate(resources(Condition={"verificationStatus": wrong})) == [
        "Condition/c1: verificationStatus: no coding from "
        "http://terminology.hl7.org/CodeSystem/condition-ver-status"
    ]


def test_a_reference_outside_the_output_is_reported():
    out = resources(Condition={"encounter": {"reference": "Encounter/e9"}})
    assert validate(out) == ["Condition/c1: reference Encounter/e9 is not in the output"]


def test_duplicate_ids_and_misfiled_resources_are_reported():
    out = resources()
    out["Patient"].append(copy.deepcopy(PATIENT))
    out["Encounter"].append({**copy.deepcopy(PATIENT), "id": "p2"})
    assert sorted(validate(out)) == [
        "Patient/p1: duplicate id",
        "Patient/p2: listed under Encounter",
    ]


def test_emitting_from_a_plain_hand_built_frame_works():
    """Frames that skipped ``model.conform``: missing columns, string dates, pandas str dtype."""
    patient = pd.DataFrame(
        {"patient_id": ["X1"], "gend": ["9"], "brdy": ["1990-01-02"], "vendor": ["医院 HIS"]},
        dtype="str",
    )
    stay = pd.DataFrame(
        {
            "mdtrt_id": ["V1"],
            "patient_id": ["X1"],
            "adm_time": ["2025-01-01 08:00:00"],
            "vendor": ["医院 HIS"],
        }
    )
    rejects: list[Reject] = []
    out = emit_fhir({"patient": patient, "encounter": stay}, rejects)
    assert validate(out) == [] and rejects == []
    (person,) = out["Patient"]
    assert person["identifier"] == [
        {"system": "urn:hutong:sid:%E5%8C%BB%E9%99%A2%20HIS:patient_id", "value": "X1"}
    ]
    assert person["gender"] == "unknown" and person["birthDate"] == "1990-01-02"
    (visit,) = out["Encounter"]
    assert visit["status"] == "in-progress" and visit["period"] == {
        "start": "2025-01-01T08:00:00+08:00"
    }


def test_rows_without_their_key_are_rejected_with_their_locator():
    patient = pd.DataFrame(
        {"patient_id": ["X1", None], "vendor": ["v", "v"], "locator": ["a.csv:2", "a.csv:3"]}
    )
    rejects: list[Reject] = []
    out = emit_fhir({"patient": patient}, rejects)
    assert len(out["Patient"]) == 1
    assert rejects == [
        Reject(
            "",
            "a.csv:3",
            "missing_value",
            "patient without patient_id: not converted to FHIR / 必填值缺失",
            "patient_id",
        )
    ]
