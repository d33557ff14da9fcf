"""ServiceRequest resources from the canonical ``order`` table: a lab or imaging order (HL7 v2
ORC/OBR), the request a DiagnosticReport is ``basedOn``.

The requester is written as a display name only: hutong emits no Practitioner resources.
"""

from __future__ import annotations

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
from hutong.mapping.fhir.validate import allowed

# request-priority by the FHIR code itself, HL7 v2 priority (ORC-7 / TQ1-9: S stat, A asap,
# R routine) and Chinese order priorities. Anything else is left out rather than guessed.
PRIORITY = {
    "routine": "routine",
    "urgent": "urgent",
    "asap": "asap",
    "stat": "stat",
    "r": "routine",
    "a": "asap",
    "s": "stat",
    "常规": "routine",
    "普通": "routine",
    "急": "urgent",
    "急诊": "urgent",
    "加急": "urgent",
    "紧急": "urgent",
    "特急": "stat",
}


def priority(value: str | None) -> str | None:
    """The request-priority code of a canonical ``priority``, or ``None`` when not known."""
    return None if value is None else PRIORITY.get(value.lower())


def service_requests(frame: pd.DataFrame) -> list[dict]:
    """One ServiceRequest per row of a keyed order frame with ``patient`` and ``encounter`` ids."""
    cols = texts(
        frame,
        "id",
        "key_system",
        "key_value",
        "patient",
        "encounter",
        "code",
        "code_system",
        "name",
        "local_code",
        "local_name",
        "map_status",
        "status",
        "priority",
        "requester",
    )
    cols.update(code_systems(frame, "order", None))
    cols["authored"] = date_times(column(frame, "ordered_time")).tolist()
    statuses = allowed("ServiceRequest", "status")
    out = []
    for row in rows(cols):
        out.append(
            compact(
                {
                    "resourceType": "ServiceRequest",
                    "id": row["id"],
                    "identifier": [{"system": row["key_system"], "value": row["key_value"]}],
                    "status": status(row["status"], statuses, "active"),
                    "intent": "order",
                    "priority": priority(row["priority"]),
                    "code": code_concept(row),
                    "subject": reference("Patient", row["patient"]),
                    "encounter": reference("Encounter", row["encounter"]),
                    "authoredOn": row["authored"],
                    "requester": {"display": row["requester"]} if row["requester"] else None,
                }
            )
        )
    return out
