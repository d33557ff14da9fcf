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

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from hutong import DEFAULT_RULES
from hutong.parallel import Beside
from hutong.quality.engine import check, skipped, write_findings
from hutong.quality.pack import load_pack
from hutong.quality.shown import (
    PER_CASE,
    TALLY,
    first_cases,
    per_case,
    prepare_finish,
    read_cases,
    read_groups,
    read_light,
    read_scores,
    read_shown,
    shown_csv,
    shown_traces,
    write_cases,
)
from hutong.quality.tally import combine_indicators, sum_counts

if TYPE_CHECKING:
    from hutong.mapping.facesheet import FaceSheet
    from hutong.quality.tally import Tally
    from hutong.terminologies.codesystem import CodeSystem

WEIGHTS_FILE = "weights.csv"  # a pack folder's own weights, used when none are given
SAMPLE = "sample"  # as a DRG pack or DIP catalog: hutong's illustrative data
INDICATORS = "indicators.csv"
CASES = "cases"  # a part's face-sheet rows of the cases with findings (Parquet per node)
COUNTS = "qc-counts.json"  # a part's counts (suppressed findings, DRG and DIP summaries)
SHOWN_CASES = 20_000  # cases the report and worklist show (all with findings, up to this many)
SHOWN_FINDINGS = 50_000  # and their findings, at most (the first cases' findings fill it)
WORKLIST_ROWS = 100_000  # findings the worklist lists (Excel holds about a million rows)

# Where tests and older callers reach them (they live in hutong.quality.shown now).
_per_case, _shown_csv, _shown_traces = per_case, shown_csv, shown_traces


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
    priced = None
    if drg is not None:
        from hutong.quality.impact import impact, write_impact
        from hutong.quality.priced import ranked_as_written

        groups, _, counts["drg"] = write_grouping(sheet, folder, drg)
        table = impact(sheet, findings, drg[0], codes, drg[1], loaded.job.base_rate, groups=groups)
        priced = ranked_as_written(table)  # in the run's order (see prepare_finish)
        write_impact(priced, folder / "impact.csv")
    if dip is not None:
        from hutong.quality.dip import group_facesheet as dip_group
        from hutong.quality.dip import write_dip

        counts["dip"] = write_dip(dip_group(sheet, dip), folder)
    score_table = load_score_table()
    scores = score_cases(sheet, findings, score_table)
    write_scores(scores, folder / "scores.csv")
    write_indicators(indicators(sheet, findings, scores, table=score_table), folder / INDICATORS)
    write_cases(sheet, set(findings["mdtrt_id"].dropna()), folder / CASES)
    prepare_finish(folder, counts, findings, priced)
    (folder / COUNTS).write_text(json.dumps(counts, ensure_ascii=False, sort_keys=True), "utf-8")


def qc_finish(
    parts: list[Path],
    folder: Path,
    loaded: LoadedJob,
    codes: Mapping[str, CodeSystem] | None = None,
    concatenated: bool = False,
    beside: bool = False,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The run's QC outputs from its parts, in part order: per-case files concatenated (unless
    ``concatenated``: the caller appended them already), aggregates combined, then the
    worklist and the report over the cases with findings (with ``beside``, impact.csv is
    merged and the worklist written in forked processes while this one reads and writes the
    rest).

    Memory follows the part size and the caps (:data:`SHOWN_CASES`, :data:`WORKLIST_ROWS`),
    not the run's size: parts are read one at a time (counts, first cases, impact ranked per
    part: each part made them, see :func:`~hutong.quality.shown.prepare_finish`, or else they
    are made here), then merged into impact.csv line by line; of the shown cases only their
    rows are parsed. The shown cases are those of one ranking of all cases, whatever the
    parts (see :func:`~hutong.quality.shown.first_cases`)."""
    import tempfile

    from hutong.quality.indicators import write_indicators
    from hutong.quality.priced import merge_parts, rank_part, read_part
    from hutong.quality.report import write_report
    from hutong.quality.tally import Tally, tally
    from hutong.quality.worklist import finding_rows, write_worklist

    job, pack, drg = loaded.job, loaded.pack, loaded.drg
    folder.mkdir(parents=True, exist_ok=True)
    if not concatenated:
        for name in per_case_files(loaded):
            concat_files([p / name for p in parts], folder / name)
    part_counts = [json.loads((p / COUNTS).read_text("utf-8")) for p in parts]
    with tempfile.TemporaryDirectory(dir=folder, prefix=".impact-") as tmp:
        every, top, ranked = Tally(), None, []  # one part at a time: memory follows the part
        for number, (part, counts) in enumerate(zip(parts, part_counts, strict=True)):
            if TALLY in counts:  # prepared by the part (see prepare_finish)
                every += Tally.from_dict(counts[TALLY])
                top = _top_cases(pd.read_parquet(part / PER_CASE), top)
                if drg is not None:
                    ranked.append(part / "impact.csv")
                continue
            light, rows = read_light(part / "findings.csv"), None
            if drg is not None:
                rows = read_part(part / "impact.csv")
                ranked.append(rank_part(rows, Path(tmp) / f"{number}.csv"))
            every += tally(light)
            top = _top_cases(per_case(light, rows), top)
            del light, rows
        ids = set(top["mdtrt_id"]) if top is not None else set()
        # impact.csv is merged (line by line, seconds at a million cases) in a forked process
        # while this one reads the shown cases' rows
        merging = None
        if drg is not None:
            merging = Beside(merge_parts, ranked, folder / "impact.csv", ids, forked=beside)
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

        findings = read_shown([p / "findings.csv" for p in parts], ids)
        light = read_cases([p / CASES for p in parts], ids)
        merged = merging.result() if merging is not None else None
    impact_table = merged.shown if merged is not None else None  # ranked by money
    rows = finding_rows(light, findings, pack, impact_table)  # the worklist's and the report's
    # the worklist (XlsxWriter, ~20 µs a cell) is written beside the rest of the finish (the
    # scores, groups and indicators read, the report written), each on a core
    worklist = Beside(write_worklist, light, findings, folder / "worklist.xlsx", pack,
                      impact_table, WORKLIST_ROWS, rows, forked=beside)  # fmt: skip

    scores, all_scores = read_scores([p / "scores.csv" for p in parts], ids)
    summary["shown_cases"] = {
        "cases": len(ids),
        "with_findings": int(findings["mdtrt_id"].nunique()),
    }
    rates = combine_indicators([_read_csv(p / INDICATORS) for p in parts])
    write_indicators(rates, folder / INDICATORS)

    groups = cmi_table = rule_amounts = None
    if merged is not None:
        groups, cmi_table, summary["drg"] = _finish_grouping(
            parts, folder, ids, [c["drg"] for c in part_counts], drg, merged
        )
        rule_amounts = merged.rule_amounts if merged.summary["findings"] else None
    if loaded.dip is not None:
        summary["dip"] = sum_counts([c["dip"] for c in part_counts])

    write_report(
        light, findings, folder / "report.html", pack, job.title,
        scores=scores, indicators=rates, groups=groups, impact=impact_table, cmi=cmi_table,
        case_count=len(all_scores), all_scores=all_scores, all_findings=every,
        rule_amounts=rule_amounts, rows=rows,
    )  # fmt: skip
    worklist.wait()
    summary["score"] = _score_summary(all_scores)
    summary["indicators"] = {
        str(r.indicator): None if pd.isna(r.rate) else round(float(r.rate), 4)
        for r in rates.itertuples()
    }
    return findings, summary


def per_case_files(loaded: LoadedJob) -> list[str]:
    """The per-case files each part writes and the finish concatenates in part order."""
    names = ["findings.csv", "scores.csv"]
    if loaded.drg is not None:
        names += ["groups.csv", "trace.ndjson"]
    if loaded.dip is not None:
        names += ["dip.csv", "dip_trace.ndjson"]
    return names


def concat_files(parts: list[Path], target: Path) -> None:
    """Concatenate part files (CSV parts: the first one's BOM and header only)."""
    from hutong.concat import append_file, open_target

    csv = target.suffix == ".csv"
    with open_target(target) as out:
        first = True
        for part in parts:
            if not part.exists():
                continue
            append_file(part, out, skip_header=csv and not first)  # BOM + header: first only
            first = False


def _read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False).replace(
        {"": None}
    )


def shown_cases(findings: pd.DataFrame, impact: pd.DataFrame | None) -> set:
    """The cases the report and the worklist show: those with findings, the most money at
    stake, then the most errors and findings first, at most :data:`SHOWN_CASES` cases with
    :data:`SHOWN_FINDINGS` findings between them (so memory follows the caps, not the run)."""
    return set(_top_cases(per_case(findings, impact))["mdtrt_id"])


def _top_cases(cases: pd.DataFrame, top: pd.DataFrame | None = None) -> pd.DataFrame:
    """:func:`~hutong.quality.shown.first_cases` within this job's caps, read when called (so a
    test may set them small): ``top`` is what this gave for the parts before."""
    return first_cases(cases, top, SHOWN_CASES, SHOWN_FINDINGS)


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

    groups = read_groups(parts, ids)
    cmi_table = None
    if drg[1] is not None:
        cmi_table = combine_cmi([pd.read_csv(p / "cmi.csv", encoding="utf-8-sig") for p in parts])
        write_cmi(cmi_table, folder / "cmi.csv")
    summary = sum_counts(counts)
    summary["pack"] = drg[0].name
    if cmi_table is not None:
        hospital = cmi_table.iloc[-1]
        summary["cmi"] = None if pd.isna(hospital["cmi"]) else round(float(hospital["cmi"]), 4)
        summary["drgs_without_weight"] = sorted(
            {d for c in counts for d in c["drgs_without_weight"]}
        )
    summary["impact"] = merged.summary
    return groups, cmi_table, summary
