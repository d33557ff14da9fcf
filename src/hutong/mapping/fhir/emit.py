"""``emit_fhir``: canonical tables to FHIR R4 Patient, Encounter, Condition and Procedure JSON.

References are only written to resources that are emitted too: a diagnosis whose stay is missing
is not emitted, and goes to the reject path with its source and locator instead of dangling.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

import pandas as pd

from hutong import model
from hutong.mapping.fhir import coded, condition, encounter, patient, procedure
from hutong.mapping.fhir.datatypes import column, integers, text
from hutong.mapping.fhir.systems import hl7
from hutong.model import Reject

# Columns a row cannot be identified or linked without.
REQUIRED = {
    "patient": ["vendor", "patient_id"],
    "encounter": ["vendor", "mdtrt_id", "patient_id"],
    "diagnosis": ["vendor", "mdtrt_id", "seq"],
    "procedure": ["vendor", "mdtrt_id", "seq"],
}

ORPHAN = "{table}: no encounter {{mdtrt_id!r}} in the FHIR output / 无对应就诊记录"


def emit_fhir(
    tables: dict[str, pd.DataFrame], rejects: list[Reject] | None = None
) -> dict[str, list[dict]]:
    """FHIR R4 resources (JSON dicts) by type, each list sorted by id.

    ``tables`` holds canonical frames by table name (``patient``, ``encounter``, ``diagnosis``,
    ``procedure``; a missing table is empty, other tables are ignored). Rows that cannot be
    emitted are appended to ``rejects`` (``orphan``, ``missing_value`` or ``duplicate``), e.g. a
    diagnosis whose stay is not in the output. Typical use::

        rejects = []
        resources = emit_fhir({"patient": pt, "encounter": enc, "diagnosis": dx}, rejects)
        assert validate(resources) == []
    """
    found = [] if rejects is None else rejects
    with _paused_gc():
        return _emit(tables, found)


@contextmanager
def _paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building resources.

    Millions of small acyclic dicts trigger repeated full collections that find nothing and
    double the run time; reference counting still frees everything as usual.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _emit(tables: dict[str, pd.DataFrame], found: list[Reject]) -> dict[str, list[dict]]:
    people = patient.keyed(_usable(tables, "patient", found))
    patients = _unique(patient.patients(people), people, "patient_id", found)

    stays = encounter.keyed(_usable(tables, "encounter", found))
    stays = _attach(
        stays,
        people[["vendor", "patient_id", "id"]].rename(columns={"id": "patient"}),
        "patient_id",
        "encounter {mdtrt_id!r}: no patient {patient_id!r} in the patient table / 无对应患者",
        found,
    )
    stay_keys = stays[["vendor", "mdtrt_id", "id", "patient"]].rename(columns={"id": "encounter"})

    dx = coded.keyed(_usable(tables, "diagnosis", found), "diagnosis")
    dx = _attach(dx, stay_keys, "mdtrt_id", ORPHAN.format(table="diagnosis"), found)
    built = condition.conditions(dx)
    kept = _kept(built, dx, "mdtrt_id", found)
    conditions = [c for c, keep in zip(built, kept, strict=True) if keep]
    dx = dx[kept]
    dx = dx.assign(rank=condition.ranked(dx)).sort_values(["encounter", "rank"], kind="mergesort")
    entries: dict[str, list[dict]] = {}
    role_system = hl7("diagnosis_role")
    for stay_id, condition_id, rank in zip(dx["encounter"], dx["id"], dx["rank"], strict=True):
        entry = encounter.diagnosis_entry(condition_id, int(rank), role_system)
        entries.setdefault(stay_id, []).append(entry)
    encounters = _unique(encounter.encounters(stays, entries), stays, "mdtrt_id", found)

    px = coded.keyed(_usable(tables, "procedure", found), "procedure")
    px = _attach(px, stay_keys, "mdtrt_id", ORPHAN.format(table="procedure"), found)
    procedures = _unique(procedure.procedures(px), px, "mdtrt_id", found)

    out = {
        "Patient": patients,
        "Encounter": encounters,
        "Condition": conditions,
        "Procedure": procedures,
    }
    return {kind: sorted(items, key=lambda r: r["id"]) for kind, items in out.items()}


def _usable(tables: dict[str, pd.DataFrame], table: str, found: list[Reject]) -> pd.DataFrame:
    """The table's rows that have their required columns, cleaned and in a stable order."""
    frame = tables.get(table)
    frame = model.empty(table) if frame is None else frame.reset_index(drop=True)
    cleaned = {name: text(column(frame, name)) for name in REQUIRED[table]}
    if "seq" in cleaned:
        cleaned["seq"] = integers(column(frame, "seq"))
    frame = frame.assign(**cleaned)
    missing = pd.DataFrame(cleaned).isna()
    bad = missing.any(axis=1)
    for i in bad[bad].index:
        names = list(missing.columns[missing.loc[i]])
        message = f"{table} without {', '.join(names)}: not converted to FHIR / 必填值缺失"
        found.append(_reject(frame.loc[i], "missing_value", message, names[0]))
    keys = [k for k in model.KEYS[table] if k in frame.columns]
    order = keys + [k for k in ("source", "locator") if k in frame.columns]
    return (
        frame[~bad].sort_values(order, kind="mergesort", na_position="last").reset_index(drop=True)
    )


def _attach(
    frame: pd.DataFrame, keys: pd.DataFrame, field: str, message: str, found: list[Reject]
) -> pd.DataFrame:
    """Rows of ``frame`` joined to the ids in ``keys`` on vendor + ``field``; rows without a
    match are rejected as orphans (``message`` is formatted with the row)."""
    on = [c for c in keys.columns if c in frame.columns]
    merged = frame.merge(keys.drop_duplicates(on), how="left", on=on, validate="many_to_one")
    hit = merged[[c for c in keys.columns if c not in on]].notna().all(axis=1)
    for _, row in merged[~hit].iterrows():
        found.append(_reject(row, "orphan", message.format(**row.to_dict()), field))
    return merged[hit].reset_index(drop=True)


def _kept(resources: list[dict], frame: pd.DataFrame, field: str, found: list[Reject]) -> pd.Series:
    """Which rows give a new resource id. A repeat that says the same is dropped quietly (a
    wide export repeats the patient on every stay); a repeat that differs is rejected."""
    first: dict[str, dict] = {}
    kept = []
    for i, resource in enumerate(resources):
        earlier = first.setdefault(resource["id"], resource)
        kept.append(earlier is resource)
        if earlier is not resource and earlier != resource:
            ref = f"{resource['resourceType']}/{resource['id']}"
            message = f"differs from an earlier row for {ref}; first row kept / 重复记录"
            found.append(_reject(frame.iloc[i], "duplicate", message, field))
    return pd.Series(kept, index=frame.index, dtype=bool)


def _unique(
    resources: list[dict], frame: pd.DataFrame, field: str, found: list[Reject]
) -> list[dict]:
    kept = _kept(resources, frame, field, found)
    return [r for r, keep in zip(resources, kept, strict=True) if keep]


def _reject(row: pd.Series, reason: str, message: str, field: str) -> Reject:
    def plain(name: str) -> str | None:
        value = row.get(name)
        return None if value is None or pd.isna(value) else str(value)

    return Reject(
        plain("source") or "",
        plain("locator") or "",
        reason,
        message,
        field,
        plain(field),
    )
