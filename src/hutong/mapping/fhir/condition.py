"""Condition resources from the canonical ``diagnosis`` table (the face sheet's 出院诊断).

Each diagnosis is an encounter-diagnosis, confirmed (the face sheet records final diagnoses).
``clinicalStatus`` is left out: the face sheet does not say whether a condition was still active
at discharge, and FHIR requires it only for problem-list items.
"""

from __future__ import annotations

import pandas as pd

from hutong.mapping.fhir.coded import code_concept, code_systems
from hutong.mapping.fhir.datatypes import column, compact, national, reference, rows, text, texts
from hutong.mapping.fhir.systems import extension_url, hl7, valueset_system
from hutong.model import DIAGNOSIS_SYSTEM

ENCOUNTER_DIAGNOSIS = {"code": "encounter-diagnosis", "display": "Encounter Diagnosis"}


def ranked(frame: pd.DataFrame) -> pd.Series:
    """Rank of each diagnosis within its stay: 1 is the 主要诊断, the others follow by ``seq``.

    With the usual numbering (主要诊断 seq 1, others 2..n) rank equals seq. A stay without a
    主要诊断 starts at 2, so rank 1 always means the main diagnosis.
    """
    main = text(column(frame, "maindiag_flag")).eq("1")
    order = frame.assign(_main=main, _seq=pd.to_numeric(frame["seq"]))
    order = order.sort_values(["encounter", "_main", "_seq"], ascending=[True, False, True])
    position = order.groupby("encounter", sort=False).cumcount() + 1
    has_main = order.groupby("encounter", sort=False)["_main"].transform("any")
    return (position + (~has_main.astype(bool)).astype(int)).reindex(frame.index)


def conditions(frame: pd.DataFrame) -> list[dict]:
    """One Condition per row of a keyed diagnosis frame with ``patient`` and ``encounter`` ids."""
    cols = texts(
        frame,
        "id",
        "key_system",
        "key_value",
        "patient",
        "encounter",
        "diag_type",
        "code",
        "code_system",
        "name",
        "local_code",
        "local_name",
        "map_status",
        "adm_cond_type",
    )
    cols.update(code_systems(frame, "diagnosis", DIAGNOSIS_SYSTEM))
    status_system = hl7("condition_ver_status")
    category_system = hl7("condition_category")
    diag_type_system = valueset_system("diag_type")
    on_admission_system = valueset_system("adm_cond_type")
    on_admission_url = extension_url("adm_cond_type")
    out = []
    for row in rows(cols):
        # Fresh dicts per resource: a shared one would let an in-place edit of one resource
        # (de-identification, a fix-up) change them all.
        confirmed = {"coding": [{"system": status_system, "code": "confirmed"}]}
        encounter_diagnosis = {
            "coding": [{"system": category_system, **ENCOUNTER_DIAGNOSIS}],
        }
        on_admission = national("adm_cond_type", on_admission_system, row["adm_cond_type"])
        diag_type = national("diag_type", diag_type_system, row["diag_type"])
        out.append(
            compact(
                {
                    "resourceType": "Condition",
                    "id": row["id"],
                    "extension": [{"url": on_admission_url, "valueCodeableConcept": on_admission}]
                    if on_admission
                    else None,
                    "identifier": [{"system": row["key_system"], "value": row["key_value"]}],
                    "verificationStatus": confirmed,
                    "category": [encounter_diagnosis, diag_type]
                    if diag_type
                    else [encounter_diagnosis],
                    "code": code_concept(row),
                    "subject": reference("Patient", row["patient"]),
                    "encounter": reference("Encounter", row["encounter"]),
                }
            )
        )
    return out
