"""A run: vendor exports → canonical tables → codes → FHIR + face sheet → QC, with a manifest.

Every stage is a function of frames; this module only wires them and keeps the books: for each
input file, records read = converted + rejected, and every reject is written with its reason.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from hutong import __version__
from hutong.adapters.batch import Batch
from hutong.adapters.detect import detect, reader
from hutong.adapters.inspect import guess_profile
from hutong.adapters.profile import Profile
from hutong.adapters.table import batches, open_table
from hutong.linking import link
from hutong.mapping.facesheet import FaceSheet, build_facesheet, write_facesheet
from hutong.mapping.fhir import emit_fhir, validate, write_ndjson
from hutong.mapping.fhir.gate import validation_sample
from hutong.model import REJECT_REASONS, SCHEMAS, Reject, conform, sort_rows
from hutong.quality.job import DEFAULT_RULES, QcJob, load_job, run_qc
from hutong.terminologies.codesystem import CodeSystem
from hutong.terminologies.coding import (
    Coder,
    apply_codes,
    unmapped,
)
from hutong.terminologies.feed import feed_store, in_store

if TYPE_CHECKING:
    from hutong.terminologies.store import Store


@dataclass
class RunOptions:
    """What a run needs besides its inputs."""

    profile: Profile | None  # for table files; guessed from their headers when None
    out: Path
    diagnosis_codes: CodeSystem
    procedure_codes: CodeSystem
    rule_pack: str = DEFAULT_RULES
    validate: str = "auto"  # all | sample | none | auto (all up to SAMPLE_ABOVE resources)
    batch_size: int = 50_000
    hl7_profile: Path | None = None  # an HL7 v2 profile (Z-segment maps, extra message types)
    bundle: bool = False  # also write FHIR transaction Bundles (PUT, idempotent) to OUT/bundles
    drg_pack: Path | None = None  # a CHS-DRG pack folder: cases are grouped into OUT/qc/
    weights: Path | None = None  # DRG weights (drg,weight CSV); default: the pack's weights.csv
    base_rate: float | None = None  # 元 per DRG weight point, to price the findings
    dip_catalog: Path | None = None  # a DIP catalog: cases are grouped into OUT/qc/dip.csv
    dip_params: Path | None = None  # the DIP catalog's parameters (TOML)
    deid: str = "none"  # de-identification profile: none, research, share or a .toml path
    deid_key: bytes | None = None  # the HMAC key (never written anywhere)
    store: Store | None = None  # approved mappings come from it; new local terms go to it
    auto_map: float | None = None  # accept the matcher's best candidate at or above this score

    def systems(self) -> dict[str, CodeSystem]:
        return {"diagnosis": self.diagnosis_codes, "procedure": self.procedure_codes}

    def qc_job(self, title: str = "hutong QC") -> QcJob:
        return QcJob(
            rules=self.rule_pack, drg_pack=self.drg_pack, weights=self.weights,
            base_rate=self.base_rate, dip_catalog=self.dip_catalog, dip_params=self.dip_params,
            title=title,
        )  # fmt: skip


@dataclass
class RunResult:
    """What a run produced: the manifest (also on disk), rejects, tables, face sheet, findings."""

    manifest: dict
    rejects: list[Reject]
    tables: dict[str, pd.DataFrame]
    facesheet: FaceSheet
    findings: pd.DataFrame
    fhir_errors: list[str] = field(default_factory=list)


DOCS = ("README*", "*.md", "SOURCES*", "LICENSE*")  # notes beside the data, not data


def input_files(inputs: list[Path]) -> list[Path]:
    """Files to read: the files given, and every file inside folders given (walked in sorted
    order; hidden files and notes such as README.md skipped). Each goes to the adapter that
    recognises it; a file nobody recognises is rejected, not skipped."""
    files: list[Path] = []
    for item in inputs:
        if item.is_dir():
            found = sorted(p for p in item.rglob("*") if p.is_file())
            files.extend(
                p
                for p in found
                if not any(part.startswith(".") for part in p.relative_to(item).parts)
                and not any(p.match(pattern) for pattern in DOCS)
            )
        elif item.exists():
            files.append(item)
        else:
            raise FileNotFoundError(f"{item}: no such file or folder / 文件或目录不存在")
    return files


@dataclass
class _Books:
    """Per input file: kind, encoding, records read, rejects by reason, notes."""

    files: dict[str, dict] = field(default_factory=dict)
    rejects: list[Reject] = field(default_factory=list)

    def open(self, source: str, kind: str, encoding: str | None) -> None:
        self.files[source] = {
            "file": source,
            "kind": kind,
            "encoding": encoding,
            "read": 0,
            "notes": [],
        }

    def add(self, batch: Batch) -> None:
        entry = self.files[batch.source]
        entry["read"] += batch.read
        entry["notes"].extend(batch.notes)
        self.rejects.extend(batch.rejects)

    def summary(self) -> list[dict]:
        by_file: dict[str, Counter] = {s: Counter() for s in self.files}
        for r in self.rejects:
            by_file[r.source][r.reason] += 1
        out = []
        for source, entry in self.files.items():
            rejected = sum(by_file[source].values())
            out.append(
                {
                    **entry,
                    "converted": entry["read"] - rejected,
                    "rejected": rejected,
                    "rejected_by_reason": dict(sorted(by_file[source].items())),
                }
            )
        return out


def run(
    inputs: list[Path], options: RunOptions, on_file: Callable[[str, int], None] | None = None
) -> RunResult:
    """Convert ``inputs`` with ``options``; write every output under ``options.out``."""
    plan = [(path, detect(path)) for path in input_files(inputs)]
    qc = load_job(options.qc_job())  # rule packs, DRG pack, DIP catalog: bad files fail first
    # Each table file with the profile given, else the built-in one that fits it (a run may mix
    # a HIS export with a LIS export). All are opened first: a misfit fails before any work.
    opened = {
        path: (profile := options.profile or guess_profile([path]), *open_table(path, profile))
        for path, fmt in plan
        if fmt == "table"
    }
    used = {p.name: p for p, *_ in opened.values()}
    if options.profile is None and len(used) == 1:
        options.profile = next(iter(used.values()))
    books, parts = _read(plan, opened, options, on_file)

    tables = {
        t: pd.concat(p, ignore_index=True) if p else pd.DataFrame(columns=SCHEMAS[t].names)
        for t, p in parts.items()
    }
    tables, repeated = _imaging(tables)
    books.rejects.extend(repeated)
    # HL7 feeds and CDA documents describe one stay in several messages or documents.
    events = {s for s, entry in books.files.items() if entry["kind"] in ("hl7v2", "cda")}
    tables, linked, link_notes = link(tables, events)
    books.rejects.extend(linked)
    coders = _coders(options)
    for table, coder in coders.items():
        tables[table] = apply_codes(tables[table], coder, table)
    tables = {t: sort_rows(t, conform(t, f).to_pandas()) for t, f in tables.items()}
    deid_report = None
    if options.deid != "none":
        tables, deid_report = _deidentify(tables, options)
        books.rejects = [_without_value(r) for r in books.rejects]

    out = options.out
    out.mkdir(parents=True, exist_ok=True)
    sheet = build_facesheet(_inpatient(tables))
    write_facesheet(sheet, out / "facesheet")

    dropped: list[Reject] = []  # rows the emitters could not reference (should stay empty)
    resources = emit_fhir(tables, dropped)
    mode, checked = validation_sample(options.validate, resources)
    fhir_errors = validate(checked) if mode != "none" else []
    fhir_counts = write_ndjson(resources, out / "fhir")
    if options.bundle:
        from hutong.mapping.fhir.bundle import write_bundles

        write_bundles(resources, out / "bundles")

    title = f"hutong QC · {', '.join(sorted(used)) or 'run'}"
    qc = replace(qc, job=options.qc_job(title))
    removed = deid_fields(deid_report) if deid_report else frozenset()
    findings, qc_summary = run_qc(sheet, out / "qc", qc, options.systems(), removed)

    queue = unmapped(tables, coders)
    if options.store is not None:
        feed_store(options.store, tables, coders)
    queue.to_csv(out / "unmapped.csv", index=False, encoding="utf-8-sig", lineterminator="\n")
    rejects = sorted(books.rejects, key=lambda r: (r.source, _locator_key(r.locator)))
    _write_rejects(rejects, out / "rejects.ndjson")

    manifest = _manifest(options, books, tables, sheet, fhir_counts, fhir_errors, qc_summary, queue)
    manifest["fhir"]["validated"] = mode
    manifest["deid"] = deid_report
    manifest["linking"] = link_notes
    manifest["profiles"] = sorted(used)
    manifest["fhir"]["dropped"] = [r.line() for r in dropped]
    (out / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", "utf-8"
    )
    return RunResult(manifest, rejects, tables, sheet, findings, fhir_errors)


NAME_COLUMNS = {
    "patient": ("name", "coner_name"),
    "encounter": ("chfpdr_name",),
    "procedure": ("oper_dr_name", "anst_dr_name"),
    "order": ("requester",),
}


def input_names(inputs: list[Path], profile: Profile | None = None) -> set[str]:
    """The people's names in the inputs (patients, contacts, doctors): what a scan of a
    de-identified output must not find."""
    names: set[str] = set()
    for path in input_files(inputs):
        fmt = detect(path)
        if fmt is None:
            continue
        if fmt == "table":
            fitting = profile or guess_profile([path])
            raw, kind = open_table(path, fitting)
            stream = batches(raw, kind, fitting)
        else:
            stream = reader(fmt)(path)
        for batch in stream:
            for table, columns in NAME_COLUMNS.items():
                frame = batch.tables.get(table)
                for column in columns if frame is not None else ():
                    if column in frame:
                        names |= {str(v) for v in frame[column].dropna() if len(str(v)) >= 2}
    return names


def deid_fields(report: dict) -> frozenset[str]:
    """Face-sheet fields a de-identification emptied (removed columns; birth dates of the
    elderly), so QC does not report them as missing."""
    renamed = {"patient.name": "psn_name"}  # the face sheet's names for canonical columns
    fields = {renamed.get(spec, spec.split(".", 1)[1]) for spec in report.get("removed", {})}
    if report.get("ages_grouped"):
        fields.add("brdy")
    return frozenset(fields)


def _deidentify(tables: dict[str, pd.DataFrame], options: RunOptions) -> tuple[dict, dict]:
    """De-identified tables (every output is built from them) and the report for the manifest."""
    from hutong.mapping.deid import deidentify, k_anonymity, load_deid_profile

    if not options.deid_key:
        raise ValueError("--deid needs a key: --deid-key-file PATH or HUTONG_DEID_KEY / 缺少密钥")
    profile = load_deid_profile(options.deid)
    out, report = deidentify(tables, profile, options.deid_key)
    out = {t: sort_rows(t, conform(t, f).to_pandas()) for t, f in out.items()}
    k = getattr(profile, "k", 5)
    return out, {"profile": profile.name, **report, "k_anonymity": k_anonymity(out, k)}


_QUOTED = re.compile(r": '.*'$")


def _without_value(reject: Reject) -> Reject:
    """A reject as written in a de-identified run: where and why, not the offending value
    (a malformed birth date or name is personal data too)."""
    return Reject(reject.source, reject.locator, reject.reason, _QUOTED.sub("", reject.message),
                  reject.field, None)  # fmt: skip


def _read(plan, opened, options: RunOptions, on_file) -> tuple[_Books, dict[str, list]]:
    """Every input through its adapter, batch by batch, keeping the books per file."""
    books = _Books()
    parts: dict[str, list[pd.DataFrame]] = {t: [] for t in SCHEMAS}
    for path, fmt in plan:
        source = path.as_posix()
        if fmt == "table":
            profile, raw, kind = opened[path]
            books.open(source, f"{profile.name}:{kind.name}", raw.encoding)
            stream = batches(raw, kind, profile, options.batch_size)
        elif fmt is None:
            books.open(source, "unrecognized", None)
            why = "no adapter recognizes this file / 无法识别的文件格式"
            reject = Reject(source, path.name, "unrecognized", why)
            stream = iter([Batch(source, "unrecognized", 1, {}, [reject])])
        elif fmt == "hl7v2" and options.hl7_profile is not None:
            books.open(source, fmt, None)
            stream = reader(fmt)(path, profile=options.hl7_profile)
        else:
            books.open(source, fmt, None)
            stream = reader(fmt)(path)
        for batch in stream:
            books.add(batch)
            for table, frame in batch.tables.items():
                parts[table].append(frame)
        if on_file:
            on_file(source, books.files[source]["read"])
    return books, parts


def _imaging(tables: dict[str, pd.DataFrame]) -> tuple[dict[str, pd.DataFrame], list[Reject]]:
    """Study and series rows from every DICOM instance of the run (a study spans batches).

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


def _inpatient(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Only discharged inpatient stays get a face sheet (结算清单 is for settled stays)."""
    enc = tables["encounter"]
    keep = (enc["enc_class"] == "IMP") & enc["dscg_time"].notna()
    stays = set(enc.loc[keep, "mdtrt_id"])
    out = dict(tables)
    out["encounter"] = enc[keep]
    for table in ("diagnosis", "procedure", "charge"):
        out[table] = tables[table][tables[table]["mdtrt_id"].isin(stays)]
    return out


def _coders(options: RunOptions) -> dict[str, Coder]:
    """One coder per coded table, with the approved mappings of the store when it has them."""
    coders = {}
    for table, system in options.systems().items():
        approved = None
        if options.store is not None and in_store(options.store, system):
            approved = options.store.approved(system.id)
        coders[table] = Coder(system, approved=approved, auto_map=options.auto_map)
    return coders


def _locator_key(locator: str) -> tuple:
    """Sort ``file.csv:9`` before ``file.csv:10``."""
    head, _, tail = locator.rpartition(":")
    number = tail.split("#", 1)[0]
    return (head, int(number) if number.isdigit() else 0, locator)


def _write_rejects(rejects: list[Reject], path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for r in rejects:
            out.write(json.dumps(r.to_dict(), ensure_ascii=False) + "\n")


QC_SUMMARY = ("findings", "by_severity", "top_rules", "score", "indicators", "suppressed_by_deid")


def _manifest(options, books, tables, sheet, fhir_counts, fhir_errors, qc, queue) -> dict:
    profile = options.profile
    rules = qc["rules"]
    return {
        "hutong": __version__,
        "profile": (
            {"name": profile.name, "version": profile.version, "path": profile.path}
            if profile
            else None
        ),
        "rule_pack": {
            "name": rules["name"],
            "version": rules["version"],
            "rules": len(rules["rules"]),
            "skipped": qc["skipped_rules"],
        },
        "code_systems": [
            {"id": s.id, "source": s.source, "codes": len(s), "gray": len(s.gray)}
            for s in (options.diagnosis_codes, options.procedure_codes)
        ],
        "inputs": books.summary(),
        "reject_reasons": REJECT_REASONS,
        "tables": {t: len(f) for t, f in tables.items()},
        "facesheet": {
            n: len(sheet.node(n)) for n in ("setlinfo", "diseinfo", "oprninfo", "iteminfo")
        },
        "fhir": {
            "resources": fhir_counts,
            "validated": options.validate,
            "errors": fhir_errors[:100],
        },
        "qc": {k: qc[k] for k in QC_SUMMARY if k in qc},
        "drg": qc.get("drg"),
        "dip": qc.get("dip"),
        "unmapped_codes": len(queue),
        "coding": {
            t: {k: int(v) for k, v in tables[t]["map_status"].value_counts().sort_index().items()}
            for t in ("diagnosis", "procedure")
        },
        "auto_map": options.auto_map,
    }
