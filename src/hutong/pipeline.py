"""A run: vendor exports → canonical tables → codes → FHIR + face sheet → QC, with a manifest.

Memory is bounded by the partition size, not the input size: every input is read batch by
batch and spilled to disk (``OUT/.hutong-work``), rows are dealt into partitions that hold whole
patients (:mod:`hutong.partitions`), each partition goes through every stage alone
(:mod:`hutong.stages`; in this process, or on Spark with ``engine="spark"``) and the outputs are
assembled in partition order (:mod:`hutong.assemble`). A run killed part-way and started again
with ``resume=True`` reuses the spill and the finished partitions and writes the same bytes.
This module wires that and keeps the books: for each input file, records read = converted +
rejected, and every reject is written with its reason.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from hutong import PARTITION_SIZE, __version__, assemble
from hutong.adapters.batch import Batch
from hutong.adapters.detect import detect, reader
from hutong.adapters.inspect import guess_profile
from hutong.adapters.profile import Profile
from hutong.adapters.table import batches, open_table
from hutong.inputs import input_files
from hutong.mapping.fhir.gate import SAMPLE_SIZE
from hutong.model import REJECT_REASONS, SCHEMAS, Reject
from hutong.parallel import Beside
from hutong.partitions import PARTS, SPILL, Spill, deal, partition_count, read_tables
from hutong.quality.job import DEFAULT_RULES, QcJob, load_job, per_case_files, qc_finish
from hutong.stages import DONE, Context, process, without_value
from hutong.terminologies.codesystem import CodeSystem
from hutong.terminologies.coding import Coder, with_best
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
    batch_size: int = 5_000  # records per adapter batch (a wide export row is a whole case)
    partition_size: int = PARTITION_SIZE  # stays per partition: what bounds a run's memory
    hl7_profile: Path | None = None  # an HL7 v2 profile (Z-segment maps, extra message types)
    bundle: bool = False  # also write FHIR transaction Bundles (PUT, idempotent) to OUT/bundles
    fhir: bool = True  # write FHIR (off: face sheet, QC and grouping only)
    drg_pack: Path | None = None  # a CHS-DRG pack folder: cases are grouped into OUT/qc/
    weights: Path | None = None  # DRG weights (drg,weight CSV); default: the pack's weights.csv
    base_rate: float | None = None  # 元 per DRG weight point, to price the findings
    dip_catalog: Path | None = None  # a DIP catalog: cases are grouped into OUT/qc/dip.csv
    dip_params: Path | None = None  # the DIP catalog's parameters (TOML)
    deid: str = "none"  # de-identification profile: none, research, share or a .toml path
    deid_key: bytes | None = None  # the HMAC key (never written anywhere)
    store: Store | None = None  # approved mappings come from it; new local terms go to it
    auto_map: float | None = None  # accept the matcher's best candidate at or above this score
    formats: tuple[str, ...] = ()  # extra output formats: "parquet"
    resume: bool = False  # reuse the work folder of a run with the same inputs and options
    engine: str = "local"  # local | spark
    workers: int = 1  # local engine: processes converting table slices, then partitions
    spark_master: str = "local[2]"  # with engine spark: local[N] or a cluster's master URL
    keep_work: bool = False  # keep OUT/.hutong-work (spill and parts) after a finished run

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
    """What a run produced: the manifest (also on disk), rejects and findings."""

    manifest: dict
    rejects: list[Reject]
    findings: pd.DataFrame
    fhir_errors: list[str] = field(default_factory=list)


@dataclass
class _Books:
    """Per input file: kind, encoding, records read, rejects by reason, notes."""

    files: dict[str, dict] = field(default_factory=dict)
    rejects: list[Reject] = field(default_factory=list)
    stays: int = 0  # encounter rows read (what sets the number of partitions)

    def save(self, path: Path) -> None:
        rejects = [r.to_dict() for r in self.rejects]
        doc = {"files": self.files, "rejects": rejects, "stays": self.stays}
        path.write_text(json.dumps(doc, ensure_ascii=False), "utf-8")

    @classmethod
    def load(cls, path: Path) -> _Books:
        doc = json.loads(path.read_text("utf-8"))
        return cls(doc["files"], [Reject(**r) for r in doc["rejects"]], doc["stays"])

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
    inputs: list[Path],
    options: RunOptions,
    on_file: Callable[[str, int], None] | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> RunResult:
    """Convert ``inputs`` with ``options``; write every output under ``options.out``.

    ``on_file(source, records)`` is called after each input file, ``on_progress(stage, done,
    total)`` as partitions are dealt, processed and assembled."""
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
    progress = on_progress or (lambda stage, done, total: None)
    out = options.out
    work = out / WORK
    books = _spill(plan, opened, options, work, on_file)
    stays = books.stays
    count = partition_count(stays, options.partition_size)
    if count == 1:
        inputs_of = [work / SPILL]
    elif options.resume and (work / "dealt").exists():
        inputs_of = [work / PARTS / f"p{i:05d}" for i in range(count)]
    else:
        progress("deal", 0, count)
        inputs_of = deal(work / SPILL, work / PARTS, count, options.workers)
        (work / "dealt").write_text("", "utf-8")
    progress("deal", count, count)

    title = f"hutong QC · {', '.join(sorted(used)) or 'run'}"
    qc = replace(qc, job=options.qc_job(title))
    events = {s for s, entry in books.files.items() if entry["kind"] in ("hl7v2", "cda")}
    ctx = Context(
        coders=_coders(options), qc=qc, codes=options.systems(), events=frozenset(events),
        validate=_validation(options.validate, count), sample_size=max(20, SAMPLE_SIZE // count),
        bundle=options.bundle, fhir=options.fhir, parquet="parquet" in options.formats,
        deid=options.deid, deid_key=options.deid_key, terms=options.store is not None,
    )  # fmt: skip
    parts = [work / "out" / f"p{i:05d}" for i in range(count)]
    todo = [i for i in range(count) if not (options.resume and (parts[i] / DONE).exists())]
    for i in todo:
        if parts[i].exists():
            shutil.rmtree(parts[i])  # a partition the interrupted run left half done
    appender = _appender(parts, out, ctx)
    if options.engine == "spark" and todo:
        from hutong.engines.spark import process_on_spark

        process_on_spark([inputs_of[i] for i in todo], [parts[i] for i in todo], ctx,
                         options.spark_master)  # fmt: skip
    elif options.workers > 1 and len(todo) > 1:
        before = count - len(todo)
        jobs = [(inputs_of[i], parts[i]) for i in todo]
        for n in _in_processes(jobs, ctx, options.workers):
            progress("partition", before + n, count)
            appender.catch_up()
    done = count - len(todo)
    for i in range(count):
        if i in todo and not (parts[i] / DONE).exists():
            process(read_tables(inputs_of[i]), ctx, parts[i])
            _stop_for_tests(i)
            done += 1
            progress("partition", done, count)
            appender.catch_up()
        if options.store is not None and not (parts[i] / "fed").exists():
            _feed(options.store, parts[i], ctx.coders)
            (parts[i] / "fed").write_text("", "utf-8")

    progress("assemble", 0, 1)
    appender.close()
    result = _assemble(parts, options, books, ctx, used)
    progress("assemble", 1, 1)
    if not options.keep_work:
        shutil.rmtree(work, ignore_errors=True)
    return result


WORK = ".hutong-work"
_SHARED: Context | None = None  # the run's context, inherited by forked worker processes


def _in_processes(jobs: list[tuple[Path, Path]], ctx: Context, workers: int) -> Iterator[int]:
    """Process partitions in ``workers`` forked processes (same function, same outputs);
    yields how many are done as each finishes, for the progress bar."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    global _SHARED
    _SHARED = ctx
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
    with pool:
        futures = [pool.submit(_process_one, job) for job in jobs]
        for done, future in enumerate(as_completed(futures), 1):
            future.result()  # a failed partition fails the run here
            yield done


def _process_one(job: tuple[Path, Path]) -> None:
    source, target = job
    assert _SHARED is not None
    process(read_tables(source), _SHARED, target)


def _spill(plan, opened, options: RunOptions, work: Path, on_file) -> _Books:
    """Every input read once into the spill, or the spill of the interrupted run reused."""
    state = json.dumps(_fingerprint(plan, options), sort_keys=True)
    done = work / SPILL / DONE
    if options.resume and done.exists() and (work / "state.json").read_text("utf-8") == state:
        return _Books.load(work / "books.json")
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    (work / "state.json").write_text(state, "utf-8")
    spill = Spill(work / SPILL)
    books = _read(plan, opened, options, on_file, spill)
    spill.close()
    books.stays = spill.rows.get("encounter", 0)
    books.save(work / "books.json")
    done.write_text("", "utf-8")
    return books


def _validation(mode: str, partitions: int) -> str:
    """--validate auto validates everything of a run small enough to be one partition (up to
    20,000 resources) and a sample, shared out over the partitions, of anything larger."""
    return "sample" if mode == "auto" and partitions > 1 else mode


def _fingerprint(plan, options: RunOptions) -> dict:
    """What must match for --resume: the inputs (path, size, modification time) and every
    option that changes an output."""
    files = []
    for path, fmt in plan:
        stat = path.stat()
        files.append([path.as_posix(), fmt, stat.st_size, stat.st_mtime_ns])
    keep = {
        k: _digest(str(v))
        for k, v in vars(options).items()
        if k not in ("store", "deid_key", "resume", "engine", "spark_master", "profile", "workers")
    }
    # which store does not matter, but whether there is one does: only then do the parts keep
    # the local terms the store is fed from
    keep["feeds_store"] = str(options.store is not None)
    return {"files": files, "options": keep, "profile": getattr(options.profile, "name", None)}


def _digest(text: str) -> str:
    """An option as the fingerprint keeps it: short ones as they are, long ones (a whole code
    system) by their SHA-256."""
    import hashlib

    return text if len(text) <= 200 else "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _stop_for_tests(index: int) -> None:
    """HUTONG_TEST_STOP_AFTER=N ends the process abruptly after N partitions (a kill, for the
    resume test; no cleanup runs)."""
    import os

    stop = os.environ.get("HUTONG_TEST_STOP_AFTER")
    if stop is not None and index + 1 >= int(stop):
        os._exit(137)


def _feed(store: Store, part: Path, coders: dict[str, Coder]) -> None:
    """Record a partition's local terms in the store (once per partition, also on resume)."""
    tables = {t: pd.read_parquet(part / "terms" / f"{t}.parquet") for t in coders}
    feed_store(store, tables, coders)


def _appender(parts: list[Path], out: Path, ctx: Context) -> assemble.Appender:
    """What is concatenated from the parts as they finish: the face sheet, FHIR NDJSON and the
    per-case QC files (the rest needs every part and is assembled at the end)."""
    files: dict[str, tuple[str, ...] | None] = {
        "facesheet": assemble.FACESHEET_FILES,
        "qc": tuple(per_case_files(ctx.qc)),
    }
    if ctx.fhir:
        files["fhir"] = None
    appender = assemble.Appender(parts, out, files)
    appender.catch_up()  # a resumed run's finished parts
    return appender


def _write_queue(queue: pd.DataFrame, coders: dict[str, Coder], path: Path) -> None:
    with_best(queue, coders).to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\n")


def _assemble(parts: list[Path], options: RunOptions, books, ctx: Context, used) -> RunResult:
    """Everything but what the appender concatenated: counts, QC finish, queue, rejects."""
    out = options.out
    fhir_counts = assemble.fhir(parts, out / "fhir") if options.fhir else {}
    if options.bundle:
        assemble.bundles(parts, out / "bundles")
    if ctx.parquet:
        assemble.parquet(parts, out / "parquet")
    # the coders' queue with the matcher's best candidate for each distinct term (its index
    # costs seconds to build): beside the QC finish
    queue = assemble.queue(parts)
    suggest = Beside(_write_queue, queue, ctx.coders, out / "unmapped.csv",
                     forked=options.workers > 1)  # fmt: skip
    findings, qc_summary = qc_finish(
        [p / "qc" for p in parts],
        out / "qc",
        ctx.qc,
        ctx.codes,
        concatenated=True,
        beside=options.workers > 1,
    )
    rejects = list(books.rejects)
    for part in parts:
        with (part / "rejects.ndjson").open(encoding="utf-8") as lines:
            rejects += [Reject(**json.loads(line)) for line in lines]
    if options.deid != "none":
        rejects = [without_value(r) for r in rejects]
    rejects.sort(key=lambda r: (r.source, _locator_key(r.locator)))
    _write_rejects(rejects, out / "rejects.ndjson")
    books.rejects = rejects  # the per-file counts include linking's rejects
    totals = assemble.counts(parts)
    if "deid" in totals:
        from hutong.mapping.deid import load_deid_profile

        k = getattr(load_deid_profile(options.deid), "k", 5)
        totals["deid"]["k_anonymity"] = assemble.kanon(parts, k)
    suggest.wait()
    manifest = _manifest(options, books, totals, fhir_counts, qc_summary, queue)
    manifest["profiles"] = sorted(used)
    manifest["partitions"] = len(parts)
    (out / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", "utf-8"
    )
    return RunResult(manifest, rejects, findings, totals["fhir_errors"])


def _read(plan, opened, options: RunOptions, on_file, spill: Spill) -> _Books:
    """Every input through its adapter, batch by batch, into the spill; the books per file."""
    books = _Books()
    for path, fmt in plan:
        source = path.as_posix()
        if fmt == "table":
            profile, raw, kind = opened[path]
            books.open(source, f"{profile.name}:{kind.name}", raw.encoding)
            stream = batches(raw, kind, profile, options.batch_size, options.workers, spilled=True)
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
                spill.add(table, frame)
        if on_file:
            on_file(source, books.files[source]["read"])
    return books


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


def _manifest(options, books, totals, fhir_counts, qc, queue) -> dict:
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
        "tables": {t: totals["tables"].get(t, 0) for t in SCHEMAS},
        "facesheet": totals["facesheet"],
        "fhir": {
            "resources": fhir_counts,
            "validated": totals["fhir_validated"],
            "errors": totals["fhir_errors"][:100],
            "dropped": totals["dropped"],
        },
        "qc": {k: qc[k] for k in QC_SUMMARY if k in qc},
        "drg": qc.get("drg"),
        "dip": qc.get("dip"),
        "unmapped_codes": len(queue),
        "coding": totals["coding"],
        "auto_map": options.auto_map,
        "deid": totals.get("deid"),
        "linking": totals["linking"],
    }
