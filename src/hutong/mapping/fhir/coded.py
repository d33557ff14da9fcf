"""What diagnoses and procedures share: ids from the stay + ``seq``, and a code that keeps the
vendor's local code beside the standard one.

Keeping the local coding means a coder can audit every mapping from the FHIR output alone, and an
unmapped code (no standard code yet) still travels, as the local coding only.
"""

from __future__ import annotations

import pandas as pd

from hutong.mapping.fhir.datatypes import coding, column, concept, integers, per_value, text
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


def code_systems(
    frame: pd.DataFrame, kind: str, default: str | None, vendor: pd.Series | None = None
) -> dict[str, list]:
    """System URIs per row: ``standard_system`` from ``code_system`` (``default`` when empty;
    no system when that is ``None`` too) and ``local_system`` from the vendor, resolved once per
    distinct value. ``vendor``: the frame's vendor column as :func:`text` gives it, when the
    caller has it already."""
    named = text(column(frame, "code_system"))
    vendor = text(frame["vendor"]) if vendor is None else vendor
    return {
        "standard_system": per_value(named.where(named.notna(), default), code_system).tolist(),
        "local_system": per_value(vendor, lambda v: local_system(v, kind)).tolist(),
    }


MAP_STATUS = "urn:hutong:ext:map-status"


def code_concept(row: dict) -> dict | None:
    """Standard coding (when mapped) then the local coding; text is what the vendor wrote.

    ``row`` holds the canonical coded columns plus the :func:`code_systems` columns. The
    standard coding carries how it was reached (``exact``, ``approved``, ``auto``, ...) so a
    reader can tell a coder's decision from an automatic one.
    """
    standard = coding(row["standard_system"], row["code"], row["name"])
    if standard is not None and row.get("map_status"):
        standard = {"extension": [{"url": MAP_STATUS, "valueCode": row["map_status"]}], **standard}
    local = coding(row["local_system"], row["local_code"], row["local_name"])
    return concept([standard, local], row["local_name"] or row["name"])


def code_concepts(columns: dict[str, list]) -> list[dict | None]:
    """Column form of :func:`code_concept`: the same elements, built for a whole batch.

    Strings of the columns are ``None`` or non-blank (as :func:`~.datatypes.text` gives them),
    so a present value is kept and a missing one left out, as ``compact`` would; the test
    ``test_code_concepts_match_code_concept`` pins the two to each other.
    """
    statuses = columns.get("map_status") or [None] * len(columns["code"])
    out: list[dict | None] = []
    append = out.append
    for system, code, name, status, own_system, local_code, local_name in zip(
        columns["standard_system"],
        columns["code"],
        columns["name"],
        statuses,
        columns["local_system"],
        columns["local_code"],
        columns["local_name"],
        strict=True,
    ):
        codings = []
        if code is not None:
            standard = _coding(system, code, name)
            if status:
                standard["extension"] = [{"url": MAP_STATUS, "valueCode": status}]
            codings.append(standard)
        if local_code is not None:
            codings.append(_coding(own_system, local_code, local_name))
        label = local_name or name
        if not codings and label is None:
            append(None)
            continue
        element: dict = {"coding": codings} if codings else {}
        if label:
            element["text"] = label
        append(element)
    return out


def _coding(system: str | None, code: str, display: str | None) -> dict:
    """``coding(system, code, display)`` for a present code, without a ``compact`` pass."""
    found = {"system": system, "code": code} if system else {"code": code}
    if display:
        found["display"] = display
    return found


def nameless(frame: pd.DataFrame, *also: str) -> pd.Series:
    """Rows with nothing to write as a code: no standard or local code and no name (nor any of
    the ``also`` columns). Resources whose code is required cannot be emitted from them."""
    names = ("code", "local_code", "name", "local_name", *also)
    return pd.concat([text(column(frame, n)).isna() for n in names], axis=1).all(axis=1)
