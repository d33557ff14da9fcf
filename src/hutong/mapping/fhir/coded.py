"""What diagnoses and procedures share: ids from the stay + ``seq``, and a code that keeps the
vendor's local code beside the standard one.

Keeping the local coding means a coder can audit every mapping from the FHIR output alone, and an
unmapped code (no standard code yet) still travels, as the local coding only.
"""

from __future__ import annotations

import pandas as pd

from hutong.mapping.fhir.datatypes import coding, concept, integers, per_value, text
from hutong.mapping.fhir.ids import resource_ids
from hutong.mapping.fhir.systems import code_system, local_system, vendor_system


def keyed(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    """The frame with the resource ``id`` from identifier ``<mdtrt_id>#<seq>``.

    ``seq`` is a whole number, so splitting the value at its last ``#`` is unambiguous even when
    a 就诊ID contains ``#``.
    """
    seq = integers(frame["seq"])
    out = frame.assign(
        key_system=per_value(text(frame["vendor"]), lambda v: vendor_system(v, kind)),
        key_value=text(frame["mdtrt_id"]) + "#" + seq.astype(str),
    )
    out["id"] = resource_ids(out["key_system"], out["key_value"])
    return out


def code_concept(
    vendor: str,
    kind: str,
    default_system: str,
    code: str | None,
    system_name: str | None,
    name: str | None,
    local_code: str | None,
    local_name: str | None,
) -> dict | None:
    """Standard coding (when mapped) then the local coding; text is what the vendor wrote."""
    standard = coding(code_system(system_name or default_system), code, name)
    local = coding(local_system(vendor, kind), local_code, local_name)
    return concept([standard, local], local_name or name)
