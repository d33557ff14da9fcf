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

from hutong.mapping.fhir.coded import code_concepts, code_systems
from hutong.mapping.fhir.datatypes import column, date_times, status, texts
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
    return _build(cols, results)


def _build(cols: dict[str, list], results: dict[str, list[str]]) -> list[dict]:
    """The DiagnosticReports of prepared columns, one dict literal per row.

    The shape is what ``compact`` of the full element gives (present keys only), written out
    as the Observations' builder is; ``tests/test_fhir_report_fast.py`` pins it to the generic
    builder. What depends on the category or status alone is worked out once per value; every
    row gets fresh dicts (resources share no sub-elements)."""
    statuses = allowed("DiagnosticReport", "status")
    section_system = hl7("diagnostic_service")
    uid_system = dicom("uid")
    order_systems = cache(lambda vendor: vendor_system(vendor, "order_id"))
    codes = code_concepts(cols)
    sections: dict[str | None, str | None] = {}
    status_of: dict[str | None, str] = {}
    out = []
    append = out.append
    for (
        rid, key_system, key_value, vendor, patient, encounter, order, study, order_id,
        study_uid, category, row_status, conclusion, effective, issued, code,
    ) in zip(
        cols["id"], cols["key_system"], cols["key_value"], cols["vendor"], cols["patient"],
        cols["encounter"], cols["order"], cols["study"], cols["order_id"], cols["study_uid"],
        cols["category"], cols["status"], cols["conclusion"], cols["effective"],
        cols["issued"], codes, strict=True,
    ):  # fmt: skip
        element: dict = {"resourceType": "DiagnosticReport"}
        if rid:
            element["id"] = rid
        element["identifier"] = [{"system": key_system, "value": key_value}]
        if order is not None:
            element["basedOn"] = [{"reference": f"ServiceRequest/{order}"}]
        elif order_id is not None:
            element["basedOn"] = [
                {
                    "type": "ServiceRequest",
                    "identifier": {"system": order_systems(vendor), "value": order_id},
                }
            ]
        said_status = status_of.get(row_status)
        if said_status is None:
            said_status = status_of[row_status] = status(row_status, statuses, "final")
        element["status"] = said_status
        if category not in sections:
            sections[category] = section(category)
        kind = sections[category]
        if kind:
            element["category"] = [
                {"coding": [{"system": section_system, "code": kind, "display": SECTION[kind]}]}
            ]
        elif category:
            element["category"] = [{"text": category}]
        element["code"] = code or {"text": SECTION[kind] if kind else category}
        if patient is not None:
            element["subject"] = {"reference": f"Patient/{patient}"}
        if encounter is not None:
            element["encounter"] = {"reference": f"Encounter/{encounter}"}
        if effective:
            element["effectiveDateTime"] = effective
        if issued:
            element["issued"] = issued
        members = results.get(rid)
        if members:
            element["result"] = [{"reference": f"Observation/{i}"} for i in members]
        if study is not None:
            element["imagingStudy"] = [{"reference": f"ImagingStudy/{study}"}]
        elif study_uid is not None:
            element["imagingStudy"] = [
                {
                    "type": "ImagingStudy",
                    "identifier": {"system": uid_system, "value": f"urn:oid:{study_uid}"},
                }
            ]
        if conclusion:
            element["conclusion"] = conclusion
        append(element)
    return out
