"""ImagingStudy resources from the canonical ``imaging_study``, ``imaging_series`` and
``imaging_instance`` tables (DICOM headers or a PACS export): one study with its series and
their instances nested, as FHIR R4 models them.

A study is identified by its Study Instance UID (``urn:dicom:uid`` / ``urn:oid:<uid>``), which
DICOM makes globally unique: its id is the same whichever system exported it, and series,
instances and reports find their study by UID alone.
"""

from __future__ import annotations

import re

import pandas as pd

from hutong.mapping.fhir.datatypes import (
    column,
    compact,
    date_times,
    integers,
    reference,
    rows,
    text,
    texts,
)
from hutong.mapping.fhir.ids import resource_ids
from hutong.mapping.fhir.systems import dicom, hl7, vendor_system

# DICOM "other" modality: for a series whose modality the source does not give (FHIR requires
# one) and whose study does not name a single one either.
OTHER = "OT"


def uid_value(uid: str) -> str:
    """A DICOM UID as a FHIR identifier value / URI: ``urn:oid:<uid>``."""
    return uid if uid.startswith("urn:oid:") else f"urn:oid:{uid}"


def keyed(frame: pd.DataFrame) -> pd.DataFrame:
    """The study frame with its ``id`` from the Study Instance UID identifier."""
    out = frame.assign(
        key_system=dicom("uid"),
        key_value=text(frame["study_uid"]).map(uid_value, na_action="ignore"),
    )
    out["id"] = resource_ids(out["key_system"], out["key_value"])
    return out


def modalities(value: str | None) -> list[str]:
    """DICOM modality codes of a list as sources write it (``CT SR``, ``CT\\SR``, ``CT,SR``)."""
    return [] if value is None else [m for m in re.split(r"[\s\\,;]+", value.upper()) if m]


def _ordered(elements: list[dict]) -> list[dict]:
    return sorted(elements, key=lambda e: (e.get("number") is None, e.get("number") or 0, e["uid"]))


def instances(frame: pd.DataFrame) -> list[dict]:
    """One ``series.instance`` element per row of the instance table."""
    cols = texts(frame, "sop_instance_uid", "sop_class_uid")
    cols["number"] = integers(column(frame, "number")).tolist()
    sop_class = dicom("sop_class")
    return [
        compact(
            {
                "uid": row["sop_instance_uid"],
                "sopClass": {"system": sop_class, "code": uid_value(row["sop_class_uid"])},
                "number": row["number"],
            }
        )
        for row in rows(cols)
    ]


def series(frame: pd.DataFrame) -> list[dict]:
    """One ``series`` element per row of the series table, without its instances."""
    cols = texts(frame, "series_uid", "modality", "body_part", "description")
    cols["number"] = integers(column(frame, "number")).tolist()
    cols["count"] = integers(column(frame, "instance_count")).tolist()
    cols["started"] = date_times(column(frame, "series_time")).tolist()
    modality_system = dicom("modality")
    return [
        compact(
            {
                "uid": row["series_uid"],
                "number": row["number"],
                "modality": {"system": modality_system, "code": row["modality"].upper()}
                if row["modality"]
                else None,
                "description": row["description"],
                "numberOfInstances": row["count"],
                # BodyPartExamined is a DICOM defined term, not a code of a FHIR code system.
                "bodySite": {"display": row["body_part"]} if row["body_part"] else None,
                "started": row["started"],
            }
        )
        for row in rows(cols)
    ]


def imaging_studies(
    frame: pd.DataFrame,
    study_series: dict[str, list[dict]],
    series_instances: dict[str, list[dict]],
) -> list[dict]:
    """One ImagingStudy per row of a :func:`keyed` study frame with ``patient`` and
    ``encounter`` ids. ``study_series`` maps a study id to its :func:`series` elements and
    ``series_instances`` a series UID to its :func:`instances` elements.

    The counts are the study's own (a PACS knows how many series and instances it holds); when
    the study row has none, they are counted from the series and instances in the input.
    """
    cols = texts(
        frame,
        "id",
        "key_system",
        "key_value",
        "vendor",
        "patient",
        "encounter",
        "accession",
        "description",
        "modalities",
        "referrer",
    )
    cols["started"] = date_times(column(frame, "study_time")).tolist()
    cols["series_count"] = integers(column(frame, "series_count")).tolist()
    cols["instance_count"] = integers(column(frame, "instance_count")).tolist()
    modality_system = dicom("modality")
    accession_type = {"coding": [{"system": hl7("identifier_type"), "code": "ACSN"}]}
    out = []
    for row in rows(cols):
        named = modalities(row["modalities"])
        parts = []
        for element in _ordered(study_series.get(row["id"], [])):
            element = dict(element)
            members = _ordered(series_instances.get(element["uid"], []))
            if members:
                element["instance"] = members
                element.setdefault("numberOfInstances", len(members))
            if "modality" not in element:
                code = named[0] if len(named) == 1 else OTHER
                element["modality"] = {"system": modality_system, "code": code}
            parts.append(element)
        codes = list(dict.fromkeys(named + [p["modality"]["code"] for p in parts]))
        counted = [p.get("numberOfInstances") for p in parts]
        instance_total = row["instance_count"]
        if instance_total is None and parts and None not in counted:
            instance_total = sum(counted)
        series_total = row["series_count"]
        if series_total is None and parts:
            series_total = len(parts)
        accession = None
        if row["accession"]:
            accession = {
                "type": {"coding": [dict(c) for c in accession_type["coding"]]},
                "system": vendor_system(row["vendor"], "accession"),
                "value": row["accession"],
            }
        uid = {"system": row["key_system"], "value": row["key_value"]}
        out.append(
            compact(
                {
                    "resourceType": "ImagingStudy",
                    "id": row["id"],
                    "identifier": [uid, accession] if accession else [uid],
                    "status": "available",
                    "modality": [{"system": modality_system, "code": c} for c in codes],
                    "subject": reference("Patient", row["patient"]),
                    "encounter": reference("Encounter", row["encounter"]),
                    "started": row["started"],
                    "referrer": {"display": row["referrer"]} if row["referrer"] else None,
                    "numberOfSeries": series_total,
                    "numberOfInstances": instance_total,
                    "description": row["description"],
                    "series": parts,
                }
            )
        )
    return out
