"""The coding office's QC job: one function that `hutong qc` and `hutong run` both call.

>>> job = QcJob(drg_pack=sample_pack_path(), dip_catalog=...)     # doctest: +SKIP
>>> findings, summary = run_qc(sheet, out / "qc", job, codes)     # doctest: +SKIP

It checks the face sheet against the rule packs, scores every case out of 100, computes the
2016 indicators, groups into CHS-DRG (with weights, CMI and the payment impact of each
finding) and DIP when a pack or catalog is given, and writes what a coding office opens:

    findings.csv   scores.csv   indicators.csv   worklist.xlsx   report.html
    groups.csv  trace.ndjson  cmi.csv  impact.csv          (with a DRG pack)
    dip.csv  dip_trace.ndjson                              (with a DIP catalog)

The summary (counts, skipped rules, mean score, indicators, DRG/DIP counts) goes into the run
manifest. Same inputs, same bytes.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import compress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from hutong import DEFAULT_RULES
from hutong.mapping.facesheet import NODES
from hutong.model import is_in
from hutong.quality.engine import check, skipped, write_findings
from hutong.quality.pack import load_pack

if TYPE_CHECKING:
    from hutong.mapping.facesheet import FaceSheet
    from hutong.quality.tally import Tally
    from hutong.terminologies.codesystem import CodeSystem

WEIGHTS_FILE = "weights.csv"  # a pack folder's own weights, used when none are given
SAMPLE = "sample"  # as a DRG pack or DIP catalog: hutong's illustrative data
INDICATORS = "indicators.csv"
CASES = "cases"  # a part's face-sheet rows of the cases with findings (Parquet per node)
TEXT = {"mdtrt_id": str, "rule_id": str, "drg_before": str, "drg_after": str}
COUNTS = "qc-counts.json"  # a part's counts (suppressed findings, DRG and DIP summaries)
PER_CASE = "qc-per-case.parquet"  # a part's cases with findings: errors, findings, money
TALLY = "tally"  # the key of a part's findings tally in its counts
TRACE_ID = re.compile(r'\n\{"mdtrt_id": "([^"\\\n]*)"')  # a trace line's case, unescaped
SHOWN_CASES = 20_000  # cases the report and worklist show (all with findings, up to this many)
SHOWN_FINDINGS = 50_000  # and their findings, at most (the first cases' findings fill it)
WORKLIST_ROWS = 100_000  # findings the worklist lists (Excel holds about a million rows)
SCORE = ["mdtrt_id", "score"]  # what the finish reads of scores.csv
UNSHOWN_NODES = ("iteminfo",)  # face-sheet nodes neither the worklist nor the report shows


@dataclass(frozen=True)
class QcJob:
    """What to check and group: rule packs, and optionally a DRG pack and a DIP catalog."""

    rules: str = DEFAULT_RULES
    drg_pack: Path | None = None  # CHS-DRG pack folder → groups, trace, CMI, impact
    weights: Path | None = None  # drg,weight CSV; default: the pack folder's weights.csv
    base_rate: float | None = None  # 元 per weight point, to price the impact of findings
    dip_catalog: Path | None = None  # DIP catalog CSV → dip.csv, dip_trace.ndjson
    dip_params: Path | None = None  # its parameters (point value, coefficient, outliers)
    title: str = "hutong QC"


@dataclass(frozen=True)
class LoadedJob:
    """A job with its packs and catalog loaded (so bad files fail before a run writes)."""

    job: QcJob
    pack: Any  # hutong.quality.pack.Pack
    drg: tuple | None  # (DrgPack, weights or None, weights path or None)
    dip: Any  # DipCatalog or None


class QcJobError(ValueError):
    """A rule pack, DRG pack, weights file or DIP catalog that cannot be used (the message names
    the file and what is wrong)."""


def load_job(job: QcJob) -> LoadedJob:
    """Load and validate every file the job names, or raise QcJobError."""
    try:
        return LoadedJob(job, load_pack(job.rules), drg_parts(job), dip_catalog(job))
    except (ValueError, FileNotFoundError) as exc:  # DrgPackError, DipCatalogError, WeightsError
        raise QcJobError(str(exc)) from exc


def run_qc(
    sheet: FaceSheet,
    folder: Path,
    job: QcJob | LoadedJob,
    codes: Mapping[str, CodeSystem] | None = None,
    removed: frozenset[str] = frozenset(),
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Check, score, group and write every QC output into ``folder``; returns the findings and
    a summary for the manifest (one part, then the finish a partitioned run also uses).

    ``removed`` names face-sheet fields that de-identification emptied on purpose: findings on
    them say nothing about the hospital's data, so they are left out and counted per rule in
    the summary (``suppressed_by_deid``)."""
    import shutil
    import tempfile

    loaded = job if isinstance(job, LoadedJob) else load_job(job)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".part-") as tmp:
        part = Path(tmp)
        qc_part(sheet, part, loaded, codes, removed)
        findings, summary = qc_finish([part], folder, loaded, codes)
        shutil.rmtree(part)
    return findings, summary


def qc_part(
    sheet: FaceSheet,
    folder: Path,
    loaded: LoadedJob,
    codes: Mapping[str, CodeSystem] | None = None,
    removed: frozenset[str] = frozenset(),
) -> None:
    """QC of one partition of a run into ``folder``: the per-case files (findings, scores,
    groups, trace, impact, DIP), the parts of the aggregates (indicators, CMI, counts) and the
    face-sheet rows of the cases with findings (what the worklist and report show)."""
    from hutong.quality.indicators import indicators, write_indicators
    from hutong.quality.score import load_score_table, score_cases, write_scores

    pack, drg, dip = loaded.pack, loaded.drg, loaded.dip
    folder.mkdir(parents=True, exist_ok=True)
    findings, suppressed = _without_removed(check(sheet, pack, codes=codes), removed)
    write_findings(findings, folder / "findings.csv")
    counts: dict[str, Any] = {"suppressed_by_deid": suppressed}
    if drg is not None:
        from hutong.quality.impact import impact, write_impact

        groups, _, counts["drg"] = write_grouping(sheet, folder, drg)
        table = impact(sheet, findings, drg[0], codes, drg[1], loaded.job.base_rate, groups=groups)
        write_impact(table, folder / "impact.csv")
    if dip is not None:
        from hutong.quality.dip import group_facesheet as dip_group
        from hutong.quality.dip import write_dip

        counts["dip"] = write_dip(dip_group(sheet, dip), folder)
    score_table = load_score_table()
    scores = score_cases(sheet, findings, score_table)
    write_scores(scores, folder / "scores.csv")
    write_indicators(indicators(sheet, findings, scores, table=score_table), folder / INDICATORS)
    _write_cases(sheet, set(findings["mdtrt_id"].dropna()), folder / CASES)
    _prepare_finish(folder, counts, drg is not None)
    (folder / COUNTS).write_text(json.dumps(counts, ensure_ascii=False, sort_keys=True), "utf-8")


def qc_finish(
    parts: list[Path],
    folder: Path,
    loaded: LoadedJob,
    codes: Mapping[str, CodeSystem] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The run's QC outputs from its parts, in part order: per-case files concatenated,
    aggregates combined, then the worklist and the report over the cases with findings.

    Memory follows the part size and the caps (:data:`SHOWN_CASES`, :data:`WORKLIST_ROWS`),
    not the run's size: parts are read one at a time (counts, first cases, impact ranked per
    part: each part made them, see :func:`_prepare_finish`, or else they are made here), then
    merged into impact.csv line by line; of the shown cases only their rows are parsed."""
    import tempfile

    from hutong.quality.indicators import write_indicators
    from hutong.quality.priced import merge_parts, rank_part, read_part
    from hutong.quality.report import write_report
    from hutong.quality.tally import Tally, tally
    from hutong.quality.worklist import finding_rows, write_worklist

    job, pack, drg = loaded.job, loaded.pack, loaded.drg
    folder.mkdir(parents=True, exist_ok=True)
    names = ["findings.csv", "scores.csv"]
    if drg is not None:
        names += ["groups.csv", "trace.ndjson"]
    if loaded.dip is not None:
        names += ["dip.csv", "dip_trace.ndjson"]
    for name in names:
        concat_files([p / name for p in parts], folder / name)
    part_counts = [json.loads((p / COUNTS).read_text("utf-8")) for p in parts]
    with tempfile.TemporaryDirectory(dir=folder, prefix=".impact-") as tmp:
        every, top, ranked = Tally(), None, []  # one part at a time: memory follows the part
        for number, (part, counts) in enumerate(zip(parts, part_counts, strict=True)):
            if TALLY in counts:  # prepared by the part (see _prepare_finish)
                every += Tally.from_dict(counts[TALLY])
                top = _top_cases(pd.read_parquet(part / PER_CASE), top)
                if drg is not None:
                    ranked.append(part / "impact.csv")
                continue
            light, rows = _read_light(part / "findings.csv"), None
            if drg is not None:
                rows = read_part(part / "impact.csv")
                ranked.append(rank_part(rows, Path(tmp) / f"{number}.csv"))
            every += tally(light)
            top = _top_cases(_per_case(light, rows), top)
            del light, rows
        ids = set(top["mdtrt_id"]) if top is not None else set()
        merged = merge_parts(ranked, folder / "impact.csv", ids) if drg is not None else None
    summary: dict[str, Any] = {
        "rules": pack.manifest(),
        "skipped_rules": skipped(pack, codes),
        **_counts(every),
    }
    suppressed: Counter = Counter()
    for c in part_counts:
        suppressed.update(c["suppressed_by_deid"])
    if suppressed:
        summary["suppressed_by_deid"] = dict(sorted(suppressed.items()))

    findings = _read_shown([p / "findings.csv" for p in parts], ids)
    light = _read_cases([p / CASES for p in parts], ids)
    scores, all_scores = _scores([p / "scores.csv" for p in parts], ids)
    summary["shown_cases"] = {
        "cases": len(ids),
        "with_findings": int(findings["mdtrt_id"].nunique()),
    }
    rates = combine_indicators([_read_csv(p / INDICATORS) for p in parts])
    write_indicators(rates, folder / INDICATORS)

    groups = cmi_table = impact_table = rule_amounts = None
    if merged is not None:
        groups, cmi_table, summary["drg"] = _finish_grouping(
            parts, folder, ids, [c["drg"] for c in part_counts], drg, merged
        )
        impact_table = merged.shown  # the shown cases' priced findings, ranked by money
        rule_amounts = merged.rule_amounts if merged.summary["findings"] else None
    if loaded.dip is not None:
        summary["dip"] = _sum_counts([c["dip"] for c in part_counts])

    rows = finding_rows(light, findings, pack, impact_table)  # the worklist's and the report's
    write_worklist(light, findings, folder / "worklist.xlsx", pack, impact_table, WORKLIST_ROWS,
                   rows=rows)  # fmt: skip
    write_report(
        light, findings, folder / "report.html", pack, job.title,
        scores=scores, indicators=rates, groups=groups, impact=impact_table, cmi=cmi_table,
        case_count=len(all_scores), all_scores=all_scores, all_findings=every,
        rule_amounts=rule_amounts, rows=rows,
    )  # fmt: skip
    summary["score"] = _score_summary(all_scores)
    summary["indicators"] = {
        str(r.indicator): None if pd.isna(r.rate) else round(float(r.rate), 4)
        for r in rates.itertuples()
    }
    return findings, summary


def concat_files(parts: list[Path], target: Path) -> None:
    """Concatenate part files (CSV parts: the first one's BOM and header only)."""
    csv = target.suffix == ".csv"
    with target.open("wb") as out:
        first = True
        for part in parts:
            if not part.exists():
                continue
            with part.open("rb") as src:
                if csv and not first:
                    src.readline()  # BOM + header
                shutil.copyfileobj(src, out, 1 << 20)
            first = False


def _read_light(path: Path) -> pd.DataFrame:
    """Case, rule and severity of every finding (categories: small for millions of rows)."""
    kinds = {"mdtrt_id": str, "rule_id": "category", "severity": "category"}
    frame = pd.read_csv(path, encoding="utf-8-sig", usecols=list(kinds), dtype=kinds)
    return frame[["mdtrt_id", "rule_id", "severity"]]


def _read_shown(paths: list[Path], ids: set) -> pd.DataFrame:
    """The findings of the shown cases, read part by part."""
    parts = [_shown_csv(p, ids, dtype=str, keep_default_na=False) for p in paths]
    return pd.concat(parts, ignore_index=True).replace({"": None})


def _shown_csv(path: Path, ids: set, **read: Any) -> pd.DataFrame:
    """The rows of the cases ``ids`` in a part's CSV file, as ``pd.read_csv`` with ``read``
    reads them: the rows are picked with the csv module and only those are parsed (pandas
    writes CSV with the csv module, so rows read and written again keep their bytes)."""
    kept = io.StringIO()
    with path.open(encoding="utf-8-sig", newline="") as lines:
        reader = csv.reader(lines)
        header = next(reader, None)
        if header is None or "mdtrt_id" not in header:  # nothing to pick by: read it all
            return _shown(pd.read_csv(path, encoding="utf-8-sig", **read), ids)
        at = header.index("mdtrt_id")
        writer = csv.writer(kept, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(row for row in reader if len(row) > at and row[at] in ids)
    kept.seek(0)
    return _shown(pd.read_csv(kept, **read), ids)  # again: a picked "NA" may be read as NaN


def _shown(frame: pd.DataFrame, ids: set) -> pd.DataFrame:
    return frame[is_in(frame["mdtrt_id"], ids).to_numpy(dtype=bool)]


def _read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False).replace(
        {"": None}
    )


def _write_cases(sheet: FaceSheet, ids: set, folder: Path) -> None:
    """The face-sheet rows of the cases ``ids`` as Parquet (types kept)."""
    folder.mkdir(parents=True, exist_ok=True)
    for node in NODES:
        frame = sheet.node(node)
        part = _shown(frame, ids) if len(frame) else frame
        part.reset_index(drop=True).to_parquet(folder / f"{node}.parquet", index=False)


def _read_cases(folders: list[Path], ids: set) -> FaceSheet:
    """What the worklist and the report show of the cases ``ids``, from the parts' case
    files: the settlement fields they show (:data:`~hutong.quality.report.SHOWN_SETL`), the
    diagnosis and procedure rows, no item rows."""
    from hutong.mapping.facesheet import FaceSheet
    from hutong.quality.report import SHOWN_SETL

    nodes = {}
    for node in NODES:
        columns = SHOWN_SETL if node == "setlinfo" else None
        if node in UNSHOWN_NODES or not ids:
            frame = pd.read_parquet(folders[0] / f"{node}.parquet", columns=columns)
            nodes[node] = frame.iloc[0:0]
            continue
        frames = [_read_shown_rows(f / f"{node}.parquet", ids, columns) for f in folders]
        nodes[node] = pd.concat(frames, ignore_index=True)
    return FaceSheet(**nodes)


def _read_shown_rows(path: Path, ids: set, columns: list[str] | None) -> pd.DataFrame:
    """The rows of the cases ``ids`` in a part's case file, filtered before they become a
    frame (a part holds thousands of cases, the report shows a few of them)."""
    import pyarrow as pa

    try:
        return pd.read_parquet(path, columns=columns, filters=[("mdtrt_id", "in", ids)])
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        frame = pd.read_parquet(path, columns=columns)  # e.g. ids that are not text
        return _shown(frame, ids).reset_index(drop=True)


def _prepare_finish(folder: Path, counts: dict[str, Any], priced: bool) -> None:
    """What the run's finish needs of a part, made by the part (parts run in parallel, the
    finish in one process): the findings' tally (into ``counts``), each case's errors,
    findings and money at stake (:data:`PER_CASE`), and ``impact.csv`` ranked as the run's
    is. Read back from the files the part wrote, as the finish would read them."""
    from hutong.quality.priced import rank_part, read_part
    from hutong.quality.tally import tally

    light, rows = _read_light(folder / "findings.csv"), None
    if priced:
        rows = read_part(folder / "impact.csv")
        rank_part(rows, folder / "impact.csv")
    counts[TALLY] = tally(light).to_dict()
    _per_case(light, rows).to_parquet(folder / PER_CASE, index=False)


def shown_cases(findings: pd.DataFrame, impact: pd.DataFrame | None) -> set:
    """The cases the report and the worklist show: those with findings, the most money at
    stake, then the most errors and findings first, at most :data:`SHOWN_CASES` cases with
    :data:`SHOWN_FINDINGS` findings between them (so memory follows the caps, not the run)."""
    return set(_top_cases(_per_case(findings, impact))["mdtrt_id"])


def _per_case(findings: pd.DataFrame, impact: pd.DataFrame | None) -> pd.DataFrame:
    """Per case with findings: its errors, findings and money at stake (sum of |amount|)."""
    per_case = (
        findings.assign(error=findings["severity"] == "error")
        .groupby("mdtrt_id")
        .agg(errors=("error", "sum"), findings=("rule_id", "size"))
    )
    money = pd.Series(0.0, index=per_case.index)
    if impact is not None and len(impact):
        amount = pd.to_numeric(impact["amount"], errors="coerce").abs()
        money = amount.groupby(impact["mdtrt_id"]).sum().reindex(per_case.index).fillna(0.0)
    return per_case.assign(money=money).reset_index()


def _top_cases(per_case: pd.DataFrame, top: pd.DataFrame | None = None) -> pd.DataFrame:
    """The first cases of ``per_case`` (and of ``top``, the parts before) within the caps:
    :data:`SHOWN_CASES` cases whose findings add up to at most :data:`SHOWN_FINDINGS` (the
    first case always). A case is whole in one part and ids are unique, so the order is
    total, the shown cases are a prefix of it, and the first of the firsts are the first of
    all."""
    both = per_case if top is None else pd.concat([top, per_case], ignore_index=True)
    ranked = both.sort_values(
        ["money", "errors", "findings", "mdtrt_id"],
        ascending=[False, False, False, True],
        kind="mergesort",
    ).head(SHOWN_CASES)
    within = ranked["findings"].cumsum() <= SHOWN_FINDINGS
    within.iloc[:1] = True
    return ranked[within.to_numpy()].reset_index(drop=True)


def _scores(paths: list[Path], ids: set) -> tuple[pd.DataFrame, pd.Series]:
    """The shown cases' scores, and every case's score (4 bytes a case), part by part (the
    score only: the report shows no sub-scores)."""
    shown, every = [], []
    for path in paths:
        part = pd.read_csv(path, encoding="utf-8-sig", dtype={"mdtrt_id": str}, usecols=SCORE)
        every.append(part["score"].astype("float32"))
        shown.append(_shown(part, ids))
        del part
    scores = pd.concat(shown, ignore_index=True) if shown else pd.DataFrame()
    return scores, (pd.concat(every, ignore_index=True) if every else pd.Series(dtype="float32"))


def combine_indicators(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """One indicator table from the parts': numerators and denominators add up."""
    first = parts[0].copy()
    num = sum(pd.to_numeric(p["numerator"]).fillna(0) for p in parts)
    den = sum(pd.to_numeric(p["denominator"]).fillna(0) for p in parts)
    known = pd.to_numeric(first["denominator"]).notna() | (den > 0)
    first["numerator"] = num.where(known).astype("Float64")
    first["denominator"] = den.where(known).astype("Float64")
    first["rate"] = (first["numerator"] / first["denominator"].where(den > 0)).round(6)
    return first


def _sum_counts(parts: list[dict]) -> dict:
    out: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                out[key] = round(out.get(key, 0) + value, 2)
            elif value is None:
                out.setdefault(key, None)
            else:
                out.setdefault(key, value)
    return out


def _without_removed(
    findings: pd.DataFrame, removed: frozenset[str]
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Findings minus those on a removed field, and how many each rule lost."""
    if not removed or findings.empty:
        return findings, {}
    parts = findings["field"].fillna("").str.split(",")
    hit = parts.map(lambda fields: any(f.strip() in removed for f in fields)).astype(bool)
    lost = findings.loc[hit, "rule_id"].value_counts().sort_index()
    return findings[~hit].reset_index(drop=True), {k: int(v) for k, v in lost.items()}


def _counts(every: Tally) -> dict[str, Any]:
    return {
        "findings": every.findings,
        "by_severity": dict(sorted(every.by_severity.items())),
        "top_rules": dict(every.rule_ranking()[:10]),
    }


def _score_summary(s: pd.Series) -> dict[str, Any]:
    if s.empty:
        return {"cases": 0}
    return {
        "cases": len(s),
        "mean": round(float(s.mean()), 2),
        "min": round(float(s.min()), 2),
        "at_least_90": int((s >= 90).sum()),
    }


def drg_parts(job: QcJob):
    """The DRG pack, its weights and their path (weights None when there are none).

    ``sample`` names hutong's illustrative pack (with its weights)."""
    if job.drg_pack is None:
        return None
    from hutong.quality.drg import load_pack as load_drg_pack
    from hutong.quality.drg import sample_pack_path
    from hutong.quality.weights import load_weights

    folder = Path(job.drg_pack)
    if str(folder) == SAMPLE and not folder.exists():
        folder = sample_pack_path()
    drg_pack = load_drg_pack(folder)
    path = job.weights or folder / WEIGHTS_FILE
    weights = load_weights(path) if job.weights or path.is_file() else None
    return drg_pack, weights, path if weights is not None else None


def dip_catalog(job: QcJob):
    """The DIP catalog the job names (``sample``: hutong's illustrative one), or None."""
    if job.dip_catalog is None:
        return None
    from hutong.quality.dip import load_catalog, sample_catalog

    path = Path(job.dip_catalog)
    if str(path) == SAMPLE and not path.exists() and job.dip_params is None:
        return sample_catalog()
    return load_catalog(path, job.dip_params)


def write_grouping(sheet: FaceSheet, folder: Path, drg: tuple) -> tuple[pd.DataFrame, Any, dict]:
    """groups.csv (with a ``weight`` column when there are weights) + trace.ndjson, and with
    weights cmi.csv; returns the groups, the CMI table (or None) and a summary."""
    from hutong.quality.drg import group_facesheet
    from hutong.quality.drg.output import write_groups
    from hutong.quality.weights import case_weights, cmi, write_cmi

    drg_pack, weights, weights_path = drg
    groups = group_facesheet(sheet, drg_pack)
    cmi_table, missing = None, []
    if weights is not None:
        groups, missing = case_weights(groups, weights)
        cmi_table = cmi(groups, sheet)
        write_cmi(cmi_table, folder / "cmi.csv")
    summary: dict[str, Any] = {"pack": drg_pack.name, **write_groups(groups, folder)}
    if cmi_table is not None:
        hospital = cmi_table.iloc[-1]
        summary["weights"] = str(weights_path)
        summary["cmi"] = None if pd.isna(hospital["cmi"]) else round(float(hospital["cmi"]), 4)
        summary["drgs_without_weight"] = missing
    return groups, cmi_table, summary


def _finish_grouping(parts, folder, ids, counts, drg, merged):
    """The run's groups of the shown cases, CMI and DRG summary (impact.csv is merged)."""
    from hutong.quality.weights import combine_cmi, write_cmi

    shown = [_shown_csv(p / "groups.csv", ids, dtype=str) for p in parts]
    groups = pd.concat(shown, ignore_index=True)
    if "weight" in groups:
        groups["weight"] = pd.to_numeric(groups["weight"])
    traces: dict[str, Any] = {}
    for part in parts:
        _shown_traces(part / "trace.ndjson", ids, traces)
    groups["trace"] = [traces.get(i, []) for i in groups["mdtrt_id"]]
    cmi_table = None
    if drg[1] is not None:
        cmi_table = combine_cmi([pd.read_csv(p / "cmi.csv", encoding="utf-8-sig") for p in parts])
        write_cmi(cmi_table, folder / "cmi.csv")
    summary = _sum_counts(counts)
    summary["pack"] = drg[0].name
    if cmi_table is not None:
        hospital = cmi_table.iloc[-1]
        summary["cmi"] = None if pd.isna(hospital["cmi"]) else round(float(hospital["cmi"]), 4)
        summary["drgs_without_weight"] = sorted(
            {d for c in counts for d in c["drgs_without_weight"]}
        )
    summary["impact"] = merged.summary
    return groups, cmi_table, summary


def _shown_traces(path: Path, ids: set, traces: dict[str, Any]) -> None:
    """Add the traces of the cases ``ids`` in a part's trace.ndjson to ``traces``. The part
    has a line per case and the report shows a few: the lines are picked by their case id,
    found by :data:`TRACE_ID`, and only those are parsed (every line when some line's id is
    not found so, e.g. an escaped one)."""
    if not path.exists():
        return
    text = path.read_text("utf-8")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    found = TRACE_ID.findall("\n" + text)  # one id a line, in order, when every line has one
    if len(found) == len(lines):
        lines = list(compress(lines, map(ids.__contains__, found)))
    for line in lines:
        doc = json.loads(line)
        if doc["mdtrt_id"] in ids:
            traces[doc["mdtrt_id"]] = doc["trace"]
