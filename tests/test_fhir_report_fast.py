"""The column-wise DiagnosticReport builder writes exactly what the generic one did: each row's
full element passed through ``compact``. The generic builder is kept here as the reference, and
both run over random rows drawn from the values that change the shape (literal or logical order
and study links, known, aliased and unknown sections, results or none)."""

from __future__ import annotations

import random
from functools import cache

import pytest

from hutong.mapping.fhir import report
from hutong.mapping.fhir.coded import code_concept
from hutong.mapping.fhir.datatypes import compact, reference, rows, status
from hutong.mapping.fhir.ndjson import ndjson_bytes
from hutong.mapping.fhir.systems import dicom, hl7, vendor_system
from hutong.mapping.fhir.validate import allowed
from test_fhir_observation_fast import CHOICES as OBSERVATION_CHOICES


def reference_reports(cols: dict[str, list], results: dict[str, list[str]]) -> list[dict]:
    """The generic builder: every element written out, then ``compact``."""
    statuses = allowed("DiagnosticReport", "status")
    section_system = hl7("diagnostic_service")
    uid_system = dicom("uid")
    order_systems = cache(lambda vendor: vendor_system(vendor, "order_id"))
    out = []
    for row in rows(cols):
        code = report.section(row["category"])
        kind = (
            {"coding": [{"system": section_system, "code": code, "display": report.SECTION[code]}]}
            if code
            else compact({"text": row["category"]})
        )
        order = reference("ServiceRequest", row["order"])
        if order is None and row["order_id"] is not None:
            order = {
                "type": "ServiceRequest",
                "identifier": {"system": order_systems(row["vendor"]), "value": row["order_id"]},
            }
        study = reference("ImagingStudy", row["study"])
        if study is None and row["study_uid"] is not None:
            study = {
                "type": "ImagingStudy",
                "identifier": {"system": uid_system, "value": f"urn:oid:{row['study_uid']}"},
            }
        members = results.get(row["id"], ())
        name = code_concept(row) or {"text": report.SECTION[code] if code else row["category"]}
        out.append(
            compact(
                {
                    "resourceType": "DiagnosticReport",
                    "id": row["id"],
                    "identifier": [{"system": row["key_system"], "value": row["key_value"]}],
                    "basedOn": [order] if order else None,
                    "status": status(row["status"], statuses, "final"),
                    "category": [kind] if kind else None,
                    "code": name,
                    "subject": reference("Patient", row["patient"]),
                    "encounter": reference("Encounter", row["encounter"]),
                    "effectiveDateTime": row["effective"],
                    "issued": row["issued"],
                    "result": [{"reference": f"Observation/{i}"} for i in members],
                    "imagingStudy": [study] if study else None,
                    "conclusion": row["conclusion"],
                }
            )
        )
    return out


CODED = ("code", "name", "map_status", "standard_system", "local_system", "local_code")
CHOICES = {
    **{name: OBSERVATION_CHOICES[name] for name in CODED},
    "local_name": [None, "血常规"],
    "id": ["r1", "r2", "r3", None],
    "key_system": ["urn:hutong:sid:LAB:report_id"],
    "key_value": ["R1", "R2"],
    "vendor": ["LAB", "PACS"],
    "patient": [None, "p1"],
    "encounter": [None, "e1"],
    "order": [None, "o1"],
    "order_id": [None, "ORD9"],
    "study": [None, "s1"],
    "study_uid": [None, "1.2.840.1"],
    "category": [None, "LAB", "rad", "检验", "病理", "XYZ", "其他"],
    "status": [None, "final", " F ", "amended", "bogus"],
    "conclusion": [None, "未见异常"],
    "effective": [None, "2025-03-01T08:30:00+08:00"],
    "issued": [None, "2025-03-01T09:00:00+08:00"],
}
RESULTS = {"r1": ["o1", "o2"], "r2": [], "r9": ["o3"]}


def random_columns(n: int, seed: int) -> dict[str, list]:
    """Rows that ``_named`` would keep: a code, a name or a category."""
    rng = random.Random(seed)
    cols = {name: [rng.choice(values) for _ in range(n)] for name, values in CHOICES.items()}
    for i in range(n):
        if not any(cols[c][i] for c in ("code", "local_code", "name", "local_name")):
            cols["category"][i] = cols["category"][i] or "XYZ"
    return cols


@pytest.mark.parametrize("seed", range(5))
def test_reports_match_the_compact_builder(seed):
    cols = random_columns(2000, seed)
    fast = report._build(cols, RESULTS)
    assert fast == reference_reports(cols, RESULTS)
    assert [ndjson_bytes(r) for r in fast] == [
        ndjson_bytes(r) for r in reference_reports(cols, RESULTS)
    ]
    assert {"basedOn", "imagingStudy", "result", "category", "conclusion"} <= {
        key for r in fast for key in r
    }  # the random rows reach every optional element


def test_reports_share_no_elements_between_resources():
    cols = {name: [values[-1]] * 2 for name, values in CHOICES.items()}
    cols["id"] = ["r1", "r1"]
    first, second = report._build(cols, RESULTS)
    assert first == second
    for key in ("identifier", "basedOn", "category", "code", "result", "imagingStudy"):
        assert first[key] is not second[key], key
