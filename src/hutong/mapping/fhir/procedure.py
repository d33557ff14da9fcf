"""Procedure resources from the canonical ``procedure`` table (the face sheet's 手术及操作)."""

from __future__ import annotations

import pandas as pd

from hutong.mapping.fhir.coded import code_concept, code_systems
from hutong.mapping.fhir.datatypes import column, compact, date_times, reference, rows, texts
from hutong.model import PROCEDURE_SYSTEM


def procedures(frame: pd.DataFrame) -> list[dict]:
    """One Procedure per row of a keyed procedure frame with ``patient`` and ``encounter`` ids."""
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
    )
    cols.update(code_systems(frame, "procedure", PROCEDURE_SYSTEM))
    cols["performed"] = date_times(column(frame, "oprn_oprt_date")).tolist()
    out = []
    for row in rows(cols):
        out.append(
            compact(
                {
                    "resourceType": "Procedure",
                    "id": row["id"],
                    "identifier": [{"system": row["key_system"], "value": row["key_value"]}],
                    "status": "completed",
                    "code": code_concept(row),
                    "subject": reference("Patient", row["patient"]),
                    "encounter": reference("Encounter", row["encounter"]),
                    "performedDateTime": row["performed"],
                }
            )
        )
    return out
