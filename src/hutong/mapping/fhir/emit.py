"""``emit_fhir``: canonical tables to FHIR R4 JSON: Patient, Encounter, Condition and Procedure
from the face sheet tables; ServiceRequest, DiagnosticReport, Observation, ImagingStudy and
MedicationRequest from the clinical (LIS / PACS / EMR) tables.

References are only written to resources that are emitted too: a diagnosis whose stay is missing
is not emitted, and goes to the reject path with its source and locator instead of dangling. So
does a clinical row whose patient is missing, or whose 就诊ID names a visit that is missing or is
another patient's, or an imaging series / instance whose study / series is missing. Optional
links (a report's order and study, a result's report, a drug's order) are literal references
when the target is emitted for the same patient; otherwise the report keeps its order and study
as logical references by identifier and the other links are left out, so no row is lost to them.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from hutong import model
from hutong.gcpause import paused_gc
from hutong.mapping.fhir import (
    claim,
    coded,
    condition,
    encounter,
    imaging,
    medication,
    observation,
    order,
    patient,
    procedure,
    report,
)
from hutong.mapping.fhir.datatypes import column, integers, text
from hutong.mapping.fhir.ids import vendor_keyed
from hutong.mapping.fhir.rows import (
    _attach,
    _firsts,
    _in_order,
    _kept,
    _link,
    _named,
    _only,
    _reject,
    _unique,
)
from hutong.mapping.fhir.systems import hl7
from hutong.model import Reject
from hutong.terminologies.valuesets import valueset

# Columns a row cannot be identified or linked without.
REQUIRED = {
    "patient": ["vendor", "patient_id"],
    "encounter": ["vendor", "mdtrt_id", "patient_id"],
    "diagnosis": ["vendor", "mdtrt_id", "seq"],
    "procedure": ["vendor", "mdtrt_id", "seq"],
    "order": ["vendor", "order_id", "patient_id"],
    "report": ["vendor", "report_id", "patient_id"],
    "observation": ["vendor", "observation_id", "patient_id"],
    "imaging_study": ["vendor", "study_uid", "patient_id"],
    "imaging_series": ["series_uid", "study_uid"],
    "imaging_instance": ["sop_instance_uid", "series_uid", "study_uid", "sop_class_uid"],
    "medication": ["vendor", "med_id", "patient_id"],
    "charge": ["vendor", "mdtrt_id"],
}
# Columns that link a row to another table when they are given (cleaned like the required ones).
LINKS = {
    "order": ["mdtrt_id"],
    "report": ["mdtrt_id", "order_id", "study_uid"],
    "observation": ["mdtrt_id", "report_id"],
    "imaging_study": ["mdtrt_id"],
    "medication": ["mdtrt_id", "order_id"],
    "charge": ["med_chrgitm"],
}
# The resource type each clinical table gives; the type is in the output when one of its tables
# is given and not empty (a face-sheet-only run has the four face sheet types, as before).
CLINICAL = {
    "ServiceRequest": ["order"],
    "DiagnosticReport": ["report"],
    "Observation": ["observation"],
    "ImagingStudy": ["imaging_study", "imaging_series", "imaging_instance"],
    "MedicationRequest": ["medication"],
}

ORPHAN = "{table}: no encounter {{mdtrt_id!r}} in the FHIR output / 无对应就诊记录"


def emit_fhir(
    tables: dict[str, pd.DataFrame], rejects: list[Reject] | None = None
) -> dict[str, list[dict]]:
    """FHIR R4 resources (JSON dicts) by type, each list sorted by id.

    ``tables`` holds canonical frames by table name (``patient``, ``encounter``, ``diagnosis``,
    ``procedure``, and the clinical ``order``, ``report``, ``observation``, ``imaging_study``,
    ``imaging_series``, ``imaging_instance``, ``medication``, and ``charge``; a missing table is
    empty, other tables such as ``patient_link`` are ignored). The four face sheet types are
    always in the result; a clinical type only when one of its tables is given and not empty,
    and ``Claim`` (one per inpatient stay with charges) only when ``charge`` is not empty.
    Rows that cannot be emitted are appended to ``rejects`` (``orphan``, ``missing_value`` or
    ``duplicate``), e.g. a diagnosis whose stay is not in the output. Typical use::

        rejects = []
        resources = emit_fhir({"patient": pt, "encounter": enc, "diagnosis": dx}, rejects)
        assert validate(resources) == []
    """
    found = [] if rejects is None else rejects
    with paused_gc():
        return _emit(tables, found)


def _emit(tables: dict[str, pd.DataFrame], found: list[Reject]) -> dict[str, list[dict]]:
    people = patient.keyed(_usable(tables, "patient", found))
    patients = _unique(patient.patients(people), people, "patient_id", found)

    stays = encounter.keyed(_usable(tables, "encounter", found))
    stays = _attach(
        stays,
        people[["patient_id", "id"]].rename(columns={"id": "patient"}),
        "patient_id",
        "encounter {mdtrt_id!r}: no patient {patient_id!r} in the patient table / 无对应患者",
        found,
    )
    # The pipeline links identities across systems first (one patient per patient_id, one stay
    # per mdtrt_id), so rows join on the identifier alone: a PACS study finds the HIS patient.
    stay_keys = stays[["mdtrt_id", "id", "patient"]].rename(columns={"id": "encounter"})

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
    given = {t for t, frame in tables.items() if frame is not None and len(frame)}
    if "charge" in given:
        out["Claim"] = _claims(tables, found, stays, encounters, entries)
    if given & {t for names in CLINICAL.values() for t in names}:
        clinical = _clinical(tables, found, people, stay_keys)
        out.update({kind: clinical[kind] for kind, names in CLINICAL.items() if given & set(names)})
    return {kind: sorted(items, key=lambda r: r["id"]) for kind, items in out.items()}


def _claims(
    tables: dict[str, pd.DataFrame],
    found: list[Reject],
    stays: pd.DataFrame,
    encounters: list[dict],
    diagnoses: dict[str, list[dict]],
) -> list[dict]:
    """One Claim per emitted inpatient (IMP) stay with charge rows. A charge row whose stay is
    not an emitted inpatient stay is an orphan; one without a known fee category or amount, or
    whose stay has neither discharge nor admission time (Claim.created), is rejected too."""
    inpatient = {e["id"] for e in encounters if e["class"].get("code") == "IMP"}
    billed = stays[stays["id"].isin(inpatient)].drop_duplicates("id").reset_index(drop=True)
    keys = billed[["mdtrt_id", "id"]].rename(columns={"id": "encounter"})
    message = "charge: no inpatient encounter {mdtrt_id!r} in the FHIR output / 无对应住院记录"
    charges = _attach(_usable(tables, "charge", found), keys, "mdtrt_id", message, found)
    undated = set(billed.loc[claim.created(billed).isna(), "id"])
    fees = valueset("med_chrgitm")
    amounts = claim.amounts(column(charges, "amt"))
    usable = []
    for i, (category, stay, value) in enumerate(
        zip(charges["med_chrgitm"].tolist(), charges["encounter"].tolist(), amounts, strict=True)
    ):
        if category is None:
            problem = ("missing_value", "med_chrgitm", "without fee category / 必填值缺失")
        elif category not in fees:
            problem = ("unknown_code", "med_chrgitm", "fee category not in med_chrgitm / 未知代码")
        elif value is None:
            problem = ("missing_value", "amt", "without amount / 必填值缺失")
        elif stay in undated:
            problem = ("missing_value", "dscg_time", "stay has no discharge or admission time")
        else:
            usable.append(True)
            continue
        usable.append(False)
        reason, field, why = problem
        row = charges.iloc[i]
        text = f"charge of encounter {row['mdtrt_id']!r} {why}: not converted to FHIR"
        found.append(_reject(row, reason, text, field))
    kept = charges[pd.Series(usable, index=charges.index, dtype=bool)]
    return claim.claims(billed, kept, diagnoses)


def _clinical(
    tables: dict[str, pd.DataFrame],
    found: list[Reject],
    people: pd.DataFrame,
    stay_keys: pd.DataFrame,
) -> dict[str, list[dict]]:
    """The clinical resources. ``people`` is the keyed patient frame, ``stay_keys`` the
    vendor / mdtrt_id / Encounter id / Patient id of every emitted encounter."""
    patient_keys = people[["patient_id", "id"]].rename(columns={"id": "patient"})

    def placed(table: str, key: str) -> pd.DataFrame:
        """Usable rows of ``table`` with their Patient id and, when they name one, Encounter id."""
        frame = _attach(
            _usable(tables, table, found),
            patient_keys,
            "patient_id",
            f"{table} {{{key}!r}}: no patient {{patient_id!r}} in the patient table / 无对应患者",
            found,
        )
        message = (
            f"{table} {{{key}!r}}: no encounter {{mdtrt_id!r}} of patient {{patient_id!r}} in "
            "the FHIR output / 无对应就诊记录"
        )
        return _attach(frame, stay_keys, "mdtrt_id", message, found, optional=True)

    orders = vendor_keyed(placed("order", "order_id"), "order_id")
    requests = _unique(order.service_requests(orders), orders, "order_id", found)
    order_keys = orders[["vendor", "order_id", "patient", "id"]].rename(columns={"id": "order"})

    studies, series_of, instances_of = _imaging(tables, found, placed)
    study_keys = studies[["study_uid", "patient", "id"]].rename(columns={"id": "study"})
    imaging_studies = _unique(
        imaging.imaging_studies(studies, series_of, instances_of), studies, "study_uid", found
    )

    reports = _named(placed("report", "report_id"), "report", "report_id", found, "category")
    reports = vendor_keyed(reports, "report_id")
    reports = _link(_link(reports, order_keys), study_keys)

    results = placed("observation", "observation_id")
    results = vendor_keyed(
        _named(results, "observation", "observation_id", found), "observation_id"
    )
    report_keys = reports[["vendor", "report_id", "patient", "id"]].assign(
        report_category=column(reports, "category"),
        report_time=column(reports, "effective_time"),
    )
    report_keys = report_keys.rename(columns={"id": "report"})
    results = _link(results, report_keys)
    built = observation.observations(results)
    kept = _kept(built, results, "observation_id", found)
    observations = [o for o, keep in zip(built, kept, strict=True) if keep]
    # only the columns the membership needs are filtered and sorted, not the whole result table
    in_report = kept & results["report"].notna()
    listed = results.loc[in_report, ["report", "id", "observation_id"]].assign(
        _seq=pd.to_numeric(column(results, "seq")[in_report], errors="coerce")
    )
    listed = listed.sort_values(["_seq", "observation_id"], kind="mergesort", na_position="last")
    members: dict[str, list[str]] = {}
    for report_id, observation_id in zip(listed["report"], listed["id"], strict=True):
        members.setdefault(report_id, []).append(observation_id)
    diagnostic_reports = _unique(report.reports(reports, members), reports, "report_id", found)

    drugs = _named(placed("medication", "med_id"), "medication", "med_id", found)
    drugs = _link(vendor_keyed(drugs, "med_id"), order_keys)
    medication_requests = _unique(medication.medication_requests(drugs), drugs, "med_id", found)
    return {
        "ServiceRequest": requests,
        "DiagnosticReport": diagnostic_reports,
        "Observation": observations,
        "ImagingStudy": imaging_studies,
        "MedicationRequest": medication_requests,
    }


def _imaging(
    tables: dict[str, pd.DataFrame],
    found: list[Reject],
    placed: Callable[[str, str], pd.DataFrame],
) -> tuple[pd.DataFrame, dict[str, list[dict]], dict[str, list[dict]]]:
    """The keyed study frame, its series by study id and their instances by series UID.

    A series whose study is not emitted, or an instance whose series is not, is an orphan.
    Series and instances are keyed by their UIDs alone: a repeated UID that says the same is
    dropped quietly, one that differs is rejected as a duplicate.
    """
    studies = imaging.keyed(placed("imaging_study", "study_uid"))
    series = _attach(
        _usable(tables, "imaging_series", found),
        studies[["study_uid", "id"]].rename(columns={"id": "study"}),
        "study_uid",
        "imaging_series {series_uid!r}: no study {study_uid!r} in the FHIR output / 无对应检查",
        found,
    )
    elements = imaging.series(series)
    kept = _firsts(
        [{"study": s, **e} for s, e in zip(series["study"], elements, strict=True)],
        series["series_uid"].tolist(),
        [f"series {uid}" for uid in series["series_uid"]],
        series,
        "series_uid",
        found,
    )
    series = series[kept]
    series_of: dict[str, list[dict]] = {}
    for study_id, element in zip(series["study"], _only(elements, kept), strict=True):
        series_of.setdefault(study_id, []).append(element)

    instances = _attach(
        _usable(tables, "imaging_instance", found),
        series[["series_uid", "study_uid", "study"]],
        "series_uid",
        "imaging_instance {sop_instance_uid!r}: no series {series_uid!r} of study "
        "{study_uid!r} in the FHIR output / 无对应序列",
        found,
    )
    elements = imaging.instances(instances)
    kept = _firsts(
        [{"series": s, **e} for s, e in zip(instances["series_uid"], elements, strict=True)],
        instances["sop_instance_uid"].tolist(),
        [f"instance {uid}" for uid in instances["sop_instance_uid"]],
        instances,
        "sop_instance_uid",
        found,
    )
    instances_of: dict[str, list[dict]] = {}
    for series_uid, element in zip(
        instances.loc[kept, "series_uid"], _only(elements, kept), strict=True
    ):
        instances_of.setdefault(series_uid, []).append(element)
    return studies, series_of, instances_of


def _usable(tables: dict[str, pd.DataFrame], table: str, found: list[Reject]) -> pd.DataFrame:
    """The table's rows that have their required columns, cleaned and in a stable order."""
    frame = tables.get(table)
    frame = model.empty(table) if frame is None else frame.reset_index(drop=True)
    cleaned = {name: text(column(frame, name)) for name in REQUIRED[table]}
    if "seq" in cleaned:
        cleaned["seq"] = integers(column(frame, "seq"))
    links = {name: text(column(frame, name)) for name in LINKS.get(table, [])}
    frame = frame.assign(**cleaned, **links)
    missing = pd.DataFrame(cleaned).isna()
    bad = missing.any(axis=1)
    for i in bad[bad].index:
        names = list(missing.columns[missing.loc[i]])
        message = f"{table} without {', '.join(names)}: not converted to FHIR / 必填值缺失"
        found.append(_reject(frame.loc[i], "missing_value", message, names[0]))
    keys = [k for k in model.KEYS[table] if k in frame.columns]
    order = keys + [k for k in ("source", "locator") if k in frame.columns]
    if bad.any():
        frame = frame[~bad]
    if _in_order(frame, order):  # as the pipeline hands tables over: sorted by their key
        return frame.reset_index(drop=True)
    return frame.sort_values(order, kind="mergesort", na_position="last").reset_index(drop=True)
