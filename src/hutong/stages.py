"""One partition of a run, from canonical rows to every output part: a pure function of the
partition's tables and the run's context, so the in-process engine and Spark run the same code.

``process(tables, context, folder)`` links the rows, applies the codes, de-identifies when
asked, builds the face sheet, emits and gates FHIR, runs the QC job's part, and writes into
``folder``: ``facesheet/``, ``fhir/``, ``bundles/``, ``qc/``, ``parquet/`` (with
``--format parquet``), ``rejects.ndjson``, ``unmapped.csv``, ``terms/`` (local terms for the
store) and ``counts.json``; ``done`` is written last, so a resumed run knows what is finished.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from hutong.gcpause import relaxed_gc
from hutong.linking import link
from hutong.mapping.facesheet import FaceSheet, build_facesheet, write_facesheet
from hutong.mapping.fhir import emit_fhir, validate, write_ndjson
from hutong.mapping.fhir.gate import SAMPLE_SIZE, validation_sample
from hutong.model import Reject, canonical, is_in
from hutong.quality.job import LoadedJob, qc_part
from hutong.terminologies.coding import TERM, Coder, apply_codes, unmapped

DONE = "done"
QUOTED = re.compile(r": '.*'$")  # the offending value a reject message ends with
COUNTS = "counts.json"
TERM_COLUMNS = [*TERM, "map_status", "code", "mdtrt_id", "locator", "vendor"]


@dataclass
class Context:
    """What every partition of a run shares (it is pickled to Spark executors as it is)."""

    coders: dict[str, Coder]
    qc: LoadedJob
    codes: dict[str, Any]  # code systems by role, for the QC code rules
    events: frozenset[str]  # sources whose repeated visits are one stay (HL7, CDA)
    validate: str = "auto"  # auto: all in a one-partition run up to 20,000, else a sample
    sample_size: int = SAMPLE_SIZE  # resources of each type this partition validates
    bundle: bool = False
    fhir: bool = True  # a coding office may want only the face sheet and QC
    parquet: bool = False
    deid: str = "none"
    deid_key: bytes | None = None
    terms: bool = True  # the local terms written for the driver to feed the store (a store given)


@relaxed_gc()
def process(tables: dict[str, pd.DataFrame], ctx: Context, folder: Path) -> dict[str, Any]:
    """Every output part of one partition into ``folder``; returns its counts."""
    folder.mkdir(parents=True, exist_ok=True)
    tables, rejects = imaging(tables)
    tables, linked, notes = link(tables, set(ctx.events))
    rejects += linked
    for table, coder in ctx.coders.items():
        tables[table] = apply_codes(tables[table], coder, table)
    tables = {t: canonical(t, f) for t, f in tables.items()}
    if ctx.terms:
        _write_terms(tables, folder / "terms")
    counts: dict[str, Any] = {"linking": notes}
    removed: frozenset[str] = frozenset()
    if ctx.deid != "none":
        tables, counts["deid"], sizes = _deidentify(tables, ctx)
        sizes.rename("size").reset_index().to_csv(folder / "kanon.csv", index=False)
        rejects = [without_value(r) for r in rejects]
        removed = deid_fields(counts["deid"])

    sheet = build_facesheet(inpatient(tables))
    write_facesheet(sheet, folder / "facesheet")
    counts.update(_fhir(tables, ctx, folder) if ctx.fhir else NO_FHIR)
    qc_part(sheet, folder / "qc", ctx.qc, ctx.codes, removed)
    unmapped(tables, ctx.coders, best=False).to_csv(
        folder / "unmapped.csv", index=False, encoding="utf-8-sig", lineterminator="\n"
    )
    if ctx.parquet:
        _write_parquet(tables, sheet, folder / "parquet")
    with (folder / "rejects.ndjson").open("w", encoding="utf-8", newline="\n") as out:
        for r in rejects:
            out.write(json.dumps(r.to_dict(), ensure_ascii=False) + "\n")
    counts["tables"] = {t: len(f) for t, f in tables.items()}
    counts["facesheet"] = {n: len(sheet.node(n)) for n in ("setlinfo", "diseinfo", "oprninfo",
                                                              "iteminfo")}  # fmt: skip
    counts["coding"] = {
        t: {k: int(v) for k, v in tables[t]["map_status"].value_counts().sort_index().items()}
        for t in ("diagnosis", "procedure")
    }
    (folder / COUNTS).write_text(json.dumps(counts, ensure_ascii=False, sort_keys=True), "utf-8")
    (folder / DONE).write_text("", "utf-8")
    return counts


NO_FHIR = {"fhir_errors": [], "fhir_validated": "none", "fhir": {}, "dropped": []}


def _fhir(tables: dict[str, pd.DataFrame], ctx: Context, folder: Path) -> dict[str, Any]:
    """FHIR NDJSON (and Bundles) of the partition, gated; its counts."""
    dropped: list[Reject] = []
    resources = emit_fhir(tables, dropped)
    mode, checked = validation_sample(ctx.validate, resources, ctx.sample_size)
    errors = validate(checked) if mode != "none" else []
    if ctx.bundle:
        from hutong.mapping.fhir.bundle import write_bundles

        write_bundles(resources, folder / "bundles")
    return {
        "fhir_errors": errors,
        "fhir_validated": mode,
        # emit_fhir writes every decimal as a Decimal, never a float (tests walk its output);
        # written last, each resource is let go of as its line is written
        "fhir": write_ndjson(resources, folder / "fhir", floats=False, release=True),
        "dropped": [r.line() for r in dropped],
    }


def imaging(tables: dict[str, pd.DataFrame]) -> tuple[dict[str, pd.DataFrame], list[Reject]]:
    """Study and series rows from every DICOM instance (a study spans batches).

    The same instance met again (a copy, another encoding of it, a DICOMDIR entry for a file
    also walked) is a duplicate record: rejected, so each instance counts once.
    """
    instances = tables["imaging_instance"]
    if instances.empty:
        return tables, []
    from hutong.adapters.dicom import aggregate

    dup = instances.duplicated("sop_instance_uid", keep="first")
    rejects = [
        Reject(
            r.source,
            r.locator,
            "duplicate",
            "instance already read / 重复的影像实例",
            "(0008,0018) SOPInstanceUID",
            r.sop_instance_uid,
        )
        for r in instances[dup].itertuples()
    ]
    instances = instances[~dup]
    studies, series = aggregate(instances, tables["imaging_study"], tables["imaging_series"])
    return {**tables, "imaging_instance": instances, "imaging_study": studies,
            "imaging_series": series}, rejects  # fmt: skip


def inpatient(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Only discharged inpatient stays get a face sheet (结算清单 is for settled stays)."""
    enc = tables["encounter"]
    keep = (enc["enc_class"] == "IMP") & enc["dscg_time"].notna()
    stays = enc.loc[keep, "mdtrt_id"]
    out = dict(tables)
    out["encounter"] = enc[keep]
    for table in ("diagnosis", "procedure", "charge"):
        out[table] = tables[table][is_in(tables[table]["mdtrt_id"], stays)]
    return out


def deid_fields(report: dict) -> frozenset[str]:
    """Face-sheet fields a de-identification emptied (removed columns; birth dates of the
    elderly), so QC does not report them as missing."""
    renamed = {"patient.name": "psn_name"}  # the face sheet's names for canonical columns
    fields = {renamed.get(spec, spec.split(".", 1)[1]) for spec in report.get("removed", {})}
    if report.get("ages_grouped"):
        fields.add("brdy")
    return frozenset(fields)


def without_value(reject: Reject) -> Reject:
    """A reject as written in a de-identified run: where and why, not the offending value
    (a malformed birth date or name is personal data too)."""
    message = QUOTED.sub("", reject.message)
    return Reject(reject.source, reject.locator, reject.reason, message, reject.field, None)


def _deidentify(tables: dict[str, pd.DataFrame], ctx: Context):
    """De-identified tables, the report (without k-anonymity: that is over the whole run) and
    this partition's quasi-identifier class sizes."""
    from hutong.mapping.deid import deidentify, load_deid_profile
    from hutong.mapping.deid_kanon import class_sizes

    if not ctx.deid_key:
        raise ValueError("--deid needs a key: --deid-key-file PATH or HUTONG_DEID_KEY / 缺少密钥")
    profile = load_deid_profile(ctx.deid)
    out, report = deidentify(tables, profile, ctx.deid_key)
    out = {t: canonical(t, f) for t, f in out.items()}
    return out, {"profile": profile.name, **report}, class_sizes(out)


def _write_terms(tables: dict[str, pd.DataFrame], folder: Path) -> None:
    """The coded rows' local terms and statuses, for the store (fed by the driver), with the
    department of their stay (discharge, else admission), so coders can filter by it."""
    folder.mkdir(parents=True, exist_ok=True)
    enc = tables["encounter"].drop_duplicates("mdtrt_id")
    dept = enc["dscg_caty"].where(enc["dscg_caty"].notna(), enc["adm_caty"])
    by_stay = pd.Series(dept.to_numpy(), index=enc["mdtrt_id"].to_numpy())
    for table in ("diagnosis", "procedure"):
        frame = tables[table].reindex(columns=TERM_COLUMNS)
        frame["department"] = frame["mdtrt_id"].map(by_stay)
        frame.to_parquet(folder / f"{table}.parquet", index=False)


def _write_parquet(tables: dict[str, pd.DataFrame], sheet: FaceSheet, folder: Path) -> None:
    """Canonical tables and face-sheet nodes as Parquet (one file per partition)."""
    for table, frame in tables.items():
        target = folder / "tables" / table
        target.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(target / "part.parquet", index=False)  # already conformed
    for node in ("setlinfo", "diseinfo", "oprninfo", "iteminfo"):
        target = folder / "facesheet" / node
        target.mkdir(parents=True, exist_ok=True)
        sheet.node(node).to_parquet(target / "part.parquet", index=False)
