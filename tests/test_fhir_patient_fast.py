"""The column-wise Patient builder writes exactly what the generic one did: each row's full
element passed through ``compact``. The generic builder is kept here as the reference, and both
run over random rows drawn from the values that change the shape (sex coded, local or missing,
names Han or not, addresses, phones, 病案号 and ID documents present or not)."""

from __future__ import annotations

import random

import pytest

from hutong.mapping.fhir import patient
from hutong.mapping.fhir.datatypes import compact, national, rows
from hutong.mapping.fhir.ndjson import ndjson_bytes
from hutong.mapping.fhir.systems import extension_url, valueset_system


def reference_patients(cols: dict[str, list]) -> list[dict]:
    """The generic builder: every element written out, then ``compact``."""
    gend_system = valueset_system("gend")
    gend_url = extension_url("gend")
    out = []
    for row in rows(cols):
        sex = national("gend", gend_system, row["gend"], row["gend_local"])
        address = compact({"text": row["curr_addr"], "postalCode": row["poscode"]})
        name = patient.human_name(row["name"])
        out.append(
            compact(
                {
                    "resourceType": "Patient",
                    "id": row["id"],
                    "extension": [{"url": gend_url, "valueCodeableConcept": sex}] if sex else None,
                    "identifier": patient.identifiers(
                        row["vendor"],
                        row["patient_id"],
                        row["medcasno"],
                        row["patn_cert_type"],
                        row["certno"],
                    ),
                    "name": [name] if name else None,
                    "telecom": [{"system": "phone", "value": row["tel"]}] if row["tel"] else None,
                    "gender": patient.GENDER.get(row["gend"]),
                    "birthDate": row["brdy"],
                    "address": [address] if address else None,
                }
            )
        )
    return out


CHOICES = {
    "id": ["0b1c6f36-0f0e-5a57-9d2e-3c4b5a6d7e8f", None],
    "vendor": ["vendor-a", "某 医院"],
    "patient_id": ["P001", "B0001"],
    "medcasno": [None, "B0001"],
    "name": [None, "王小明", "欧阳娜娜", "李娜之女", "Ayşe Yılmaz"],
    "gend": [None, "1", "2", "0", "9", "7"],
    "gend_local": [None, "男", "F"],
    "patn_cert_type": [None, "01", "06"],
    "certno": [None, "11010519491231002X", "E12345678"],
    "curr_addr": [None, "北京市东城区"],
    "poscode": [None, "100730"],
    "tel": [None, "13800000000"],
    "brdy": [None, "1949-12-31"],
}


@pytest.mark.parametrize("seed", range(5))
def test_patients_match_the_compact_builder(seed):
    rng = random.Random(seed)
    cols = {name: [rng.choice(values) for _ in range(2000)] for name, values in CHOICES.items()}
    fast = patient._build(cols)
    assert fast == reference_patients(cols)
    assert [ndjson_bytes(r) for r in fast] == [ndjson_bytes(r) for r in reference_patients(cols)]
    assert {"extension", "name", "telecom", "gender", "birthDate", "address"} <= {
        key for r in fast for key in r
    }  # the random rows reach every optional element


def test_patients_share_no_elements_between_resources():
    cols = {name: [values[-1]] * 2 for name, values in CHOICES.items()}
    first, second = patient._build(cols)
    assert first == second
    for key in ("extension", "identifier", "name", "telecom", "address"):
        assert first[key] is not second[key], key
    sex = first["extension"][0]["valueCodeableConcept"]
    assert sex is not second["extension"][0]["valueCodeableConcept"]
