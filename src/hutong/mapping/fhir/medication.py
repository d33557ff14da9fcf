"""MedicationRequest resources from the canonical ``medication`` table: a drug order (医嘱 or
HL7 v2 RXE/RXO) with its dose, route and frequency.

The drug is a ``medicationCodeableConcept`` (standard coding when mapped, then the vendor's own),
not a Medication resource. The dosage is kept as the text a clinician reads, plus the dose as a
quantity; route and frequency stay text, since sources write them in free local terms.
"""

from __future__ import annotations

import pandas as pd

from hutong.mapping.fhir.coded import code_concept, code_systems
from hutong.mapping.fhir.datatypes import (
    column,
    compact,
    date_times,
    decimals,
    quantity,
    reference,
    rows,
    status,
    texts,
)
from hutong.mapping.fhir.systems import vendor_system
from hutong.mapping.fhir.validate import allowed


def dosage(row: dict) -> dict | None:
    """The dosage instruction: text ``0.5 g 口服 tid``, dose quantity, route, frequency and the
    period the order runs (start and end time)."""
    dose = row["dose"]
    amount = None if dose is None else " ".join(x for x in (str(dose), row["dose_unit"]) if x)
    said = " ".join(x for x in (amount, row["route"], row["frequency"]) if x)
    bounds = compact({"start": row["start"], "end": row["end"]})
    timing = compact(
        {
            "repeat": {"boundsPeriod": bounds} if bounds else None,
            "code": {"text": row["frequency"]} if row["frequency"] else None,
        }
    )
    found = compact(
        {
            "text": said,
            "timing": timing,
            "route": {"text": row["route"]} if row["route"] else None,
            "doseAndRate": [{"doseQuantity": quantity(dose, row["dose_unit"])}]
            if dose is not None
            else None,
        }
    )
    return found or None


def medication_requests(frame: pd.DataFrame) -> list[dict]:
    """One MedicationRequest per row of a keyed medication frame with ``patient`` and
    ``encounter`` ids, and ``order`` (ServiceRequest id) where its order is in the output."""
    cols = texts(
        frame,
        "id",
        "key_system",
        "key_value",
        "vendor",
        "patient",
        "encounter",
        "order",
        "order_id",
        "code",
        "code_system",
        "name",
        "local_code",
        "local_name",
        "map_status",
        "dose_unit",
        "route",
        "frequency",
        "status",
    )
    cols.update(code_systems(frame, "medication", None))
    cols["dose"] = decimals(column(frame, "dose"))
    cols["start"] = date_times(column(frame, "start_time")).tolist()
    cols["end"] = date_times(column(frame, "end_time")).tolist()
    statuses = allowed("MedicationRequest", "status")
    out = []
    for row in rows(cols):
        identifiers = [{"system": row["key_system"], "value": row["key_value"]}]
        if row["order_id"] is not None:
            # The 医嘱号 the drug was ordered under, so the order can be found from the drug.
            system = vendor_system(row["vendor"], "order_id")
            identifiers.append({"system": system, "value": row["order_id"]})
        instruction = dosage(row)
        out.append(
            compact(
                {
                    "resourceType": "MedicationRequest",
                    "id": row["id"],
                    "identifier": identifiers,
                    "status": status(row["status"], statuses, "active"),
                    "intent": "order",
                    "medicationCodeableConcept": code_concept(row),
                    "subject": reference("Patient", row["patient"]),
                    "encounter": reference("Encounter", row["encounter"]),
                    "authoredOn": row["start"],
                    "basedOn": [reference("ServiceRequest", row["order"])]
                    if row["order"]
                    else None,
                    "dosageInstruction": [instruction] if instruction else None,
                }
            )
        )
    return out
