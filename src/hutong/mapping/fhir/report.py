"""DiagnosticReport resources from the canonical ``report`` table: a lab report (HL7 v2 OBR) or
an imaging report, with its results, the order it fulfils and the study it reads.

Links are literal references when the target is in the same output. An order or study named by
the report but not in the output (an export of results without the orders, or without the PACS
data) is kept as a logical reference by identifier, which a FHIR server can resolve later; the
report is not dropped for it.
"""

from __future__ import annotations

from functools import cache

import pandas as pd

from hutong.mapping.fhir.coded import code_concept, code_systems
from hutong.mapping.fhir.datatypes import (
    column,
    compact,
    date_times,
    reference,
    rows,
    status,
    texts,
)
from hutong.mapping.fhir.systems import dicom, hl7, vendor_system
from hutong.mapping.fhir.validate import allowed

# HL7 v2 table 0074, diagnostic service section ID.
SECTION = {
    "AU": "Audiology",
    "BG": "Blood Gases",
    "BLB": "Blood Bank",
    "CG": "Cytogenetics",
    "CH": "Chemistry",
    "CP": "Cytopathology",
    "CT": "CAT Scan",
    "CTH": "Cardiac Catheterization",
    "CUS": "Cardiac Ultrasound",
    "EC": "Electrocardiac (e.g., EKG, EEC, Holter)",
    "EN": "Electroneuro (EEG, EMG,EP,PSG)",
    "GE": "Genetics",
    "HM": "Hematology",
    "ICU": "Bedside ICU Monitoring",
    "IMM": "Immunology",
    "LAB": "Laboratory",
    "MB": "Microbiology",
    "MCB": "Mycobacteriology",
    "MYC": "Mycology",
    "NMR": "Nuclear Magnetic Resonance",
    "NMS": "Nuclear Medicine Scan",
    "NRS": "Nursing Service Measures",
    "OSL": "Outside Lab",
    "OT": "Occupational Therapy",
    "OTH": "Other",
    "OUS": "OB Ultrasound",
    "PF": "Pulmonary Function",
    "PHR": "Pharmacy",
    "PHY": "Physician (Hx. Dx, admission note, etc.)",
    "PT": "Physical Therapy",
    "RAD": "Radiology",
    "RC": "Respiratory Care (therapy)",
    "RT": "Radiation Therapy",
    "RUS": "Radiology Ultrasound",
    "RX": "Radiograph",
    "SP": "Surgical Pathology",
    "SR": "Serology",
    "TX": "Toxicology",
    "URN": "Urinalysis",
    "VR": "Virology",
    "VUS": "Vascular Ultrasound",
    "XRC": "Cineradiograph",
}
SECTION_ALIASES = {
    "检验": "LAB",
    "化验": "LAB",
    "放射": "RAD",
    "影像": "RAD",
    "超声": "RUS",
    "病理": "SP",
    "心电": "EC",
    "心电图": "EC",
}


def section(category: str | None) -> str | None:
    """The v2 0074 code of a canonical ``category`` (``LAB``, ``lab``, ``检验``), or ``None``."""
    if category is None:
        return None
    code = SECTION_ALIASES.get(category, category.upper())
    return code if code in SECTION else None


def reports(frame: pd.DataFrame, results: dict[str, list[str]]) -> list[dict]:
    """One DiagnosticReport per row of a keyed report frame with ``patient`` and ``encounter``
    ids, and ``order`` (ServiceRequest) and ``study`` (ImagingStudy) ids where those are in the
    output. ``results`` maps a report id to its Observation ids, in order."""
    cols = texts(
        frame,
        "id",
        "key_system",
        "key_value",
        "vendor",
        "patient",
        "encounter",
        "order",
        "study",
        "order_id",
        "study_uid",
        "code",
        "code_system",
        "name",
        "local_code",
        "local_name",
        "map_status",
        "category",
        "status",
        "conclusion",
    )
    cols.update(code_systems(frame, "report", None))
    cols["effective"] = date_times(column(frame, "effective_time")).tolist()
    cols["issued"] = date_times(column(frame, "issued_time")).tolist()
    statuses = allowed("DiagnosticReport", "status")
    section_system = hl7("diagnostic_service")
    uid_system = dicom("uid")
    order_systems = cache(lambda vendor: vendor_system(vendor, "order_id"))
    out = []
    for row in rows(cols):
        code = section(row["category"])
        kind = (
            {"coding": [{"system": section_system, "code": code, "display": SECTION[code]}]}
            if code
            else compact({"text": row["category"]})
        )
        order = reference("ServiceRequest", row["order"])
        if order is None and row["order_id"] is not None:
            order = {
                "type": "ServiceRequest",
                "identifier": {
                    "system": order_systems(row["vendor"]),
                    "value": row["order_id"],
                },
            }
        study = reference("ImagingStudy", row["study"])
        if study is None and row["study_uid"] is not None:
            study = {
                "type": "ImagingStudy",
                "identifier": {"system": uid_system, "value": f"urn:oid:{row['study_uid']}"},
            }
        members = results.get(row["id"], ())
        name = code_concept(row) or {"text": SECTION[code] if code else row["category"]}
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
