"""Encounter resources from the canonical ``encounter`` table: one visit per 就诊ID, an inpatient
stay unless ``enc_class`` says otherwise (AMB outpatient, EMER emergency).

The stay carries what the face sheet says about admission and discharge (入院途径, 离院方式) and
lists its diagnoses with their rank, rank 1 being the 主要诊断.
"""

from __future__ import annotations

import pandas as pd

from hutong.mapping.fhir.datatypes import (
    column,
    compact,
    date_times,
    integers,
    national,
    per_value,
    reference,
    rows,
    text,
    texts,
)
from hutong.mapping.fhir.ids import resource_ids
from hutong.mapping.fhir.systems import hl7, local_system, valueset_system, vendor_system

# v3 ActEncounterCode (the codes of the R4 Encounter.class binding) with their displays.
ENCOUNTER_CLASS = {
    "AMB": "ambulatory",
    "EMER": "emergency",
    "FLD": "field",
    "HH": "home health",
    "IMP": "inpatient encounter",
    "ACUTE": "inpatient acute",
    "NONAC": "inpatient non-acute",
    "OBSENC": "observation encounter",
    "PRENC": "pre-admission",
    "SS": "short stay",
    "VR": "virtual",
}
INPATIENT = {"code": "IMP", "display": ENCOUNTER_CLASS["IMP"]}
DISCHARGE_DIAGNOSIS = {"code": "DD", "display": "Discharge diagnosis"}


def keyed(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with the Encounter ``id`` and the identifier (``mdtrt_id``) it comes from."""
    out = frame.assign(
        key_system=per_value(text(frame["vendor"]), lambda v: vendor_system(v, "mdtrt_id")),
        key_value=text(frame["mdtrt_id"]),
    )
    out["id"] = resource_ids(out["key_system"], out["key_value"])
    return out


def encounter_class(value: str | None, vendor: str, act_code: str) -> dict:
    """Encounter.class (a Coding, required): the v3 ActEncounterCode of ``enc_class``, IMP when
    it is empty; a value outside ActEncounterCode is kept as the vendor's own code."""
    if value is None:
        return {"system": act_code, **INPATIENT}
    code = value.upper()
    if code in ENCOUNTER_CLASS:
        return {"system": act_code, "code": code, "display": ENCOUNTER_CLASS[code]}
    return {"system": local_system(vendor, "enc_class"), "code": value}


def diagnosis_entry(condition_id: str, rank: int, role_system: str) -> dict:
    """An Encounter.diagnosis entry: face-sheet diagnoses are discharge diagnoses (DD)."""
    return {
        "condition": {"reference": f"Condition/{condition_id}"},
        "use": {"coding": [{"system": role_system, **DISCHARGE_DIAGNOSIS}]},
        "rank": rank,
    }


def encounters(frame: pd.DataFrame, diagnoses: dict[str, list[dict]]) -> list[dict]:
    """One Encounter per row of a :func:`keyed` frame with a ``patient`` (Patient id) column.

    ``diagnoses`` maps an Encounter id to its :func:`diagnosis_entry` list, ordered by rank.
    """
    cols = texts(
        frame,
        "id",
        "key_system",
        "key_value",
        "vendor",
        "patient",
        "enc_class",
        "ipt_med_type",
        "adm_way",
        "dscg_way",
        "dscg_way_local",
    )
    cols["start"] = date_times(column(frame, "adm_time")).tolist()
    cols["end"] = date_times(column(frame, "dscg_time")).tolist()
    cols["days"] = integers(column(frame, "act_ipt_days")).tolist()
    systems = {key: valueset_system(key) for key in ("ipt_med_type", "adm_way", "dscg_way")}
    id_type_system, act_code = hl7("identifier_type"), hl7("act_code")
    ucum = hl7("ucum")
    out = []
    for row in rows(cols):
        kind = national("ipt_med_type", systems["ipt_med_type"], row["ipt_med_type"])
        discharged = row["end"] is not None or row["dscg_way"] is not None
        days = row["days"]
        stay = {
            "admitSource": national("adm_way", systems["adm_way"], row["adm_way"]),
            "dischargeDisposition": national(
                "dscg_way", systems["dscg_way"], row["dscg_way"], row["dscg_way_local"]
            ),
        }
        out.append(
            compact(
                {
                    "resourceType": "Encounter",
                    "id": row["id"],
                    "identifier": [
                        {
                            "type": {"coding": [{"system": id_type_system, "code": "VN"}]},
                            "system": row["key_system"],
                            "value": row["key_value"],
                        }
                    ],
                    "status": "finished" if discharged else "in-progress",
                    "class": encounter_class(row["enc_class"], row["vendor"], act_code),
                    # 日间手术 (ipt_med_type 2) is still IMP in v3 ActCode; the type says which.
                    "type": [kind] if kind else None,
                    "subject": reference("Patient", row["patient"]),
                    "period": compact({"start": row["start"], "end": row["end"]}),
                    "length": None
                    if days is None
                    else {"value": days, "unit": "天", "system": ucum, "code": "d"},
                    "diagnosis": diagnoses.get(row["id"]),
                    "hospitalization": compact(stay),
                }
            )
        )
    return out
