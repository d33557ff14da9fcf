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

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from hutong import DEFAULT_RULES
from hutong.quality.engine import check, skipped, write_findings
from hutong.quality.pack import load_pack

if TYPE_CHECKING:
    from hutong.mapping.facesheet import FaceSheet
    from hutong.terminologies.codesystem import CodeSystem

WEIGHTS_FILE = "weights.csv"  # a pack folder's own weights, used when none are given
SAMPLE = "sample"  # as a DRG pack or DIP catalog: hutong's illustrative data


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
    a summary for the manifest.

    ``removed`` names face-sheet fields that de-identification emptied on purpose: findings on
    them say nothing about the hospital's data, so they are left out and counted per rule in
    the summary (``suppressed_by_deid``)."""
    from hutong.quality.indicators import indicators, write_indicators
    from hutong.quality.report import write_report
    from hutong.quality.score import load_score_table, score_cases, write_scores
    from hutong.quality.worklist import write_worklist

    loaded = job if isinstance(job, LoadedJob) else load_job(job)
    job, pack, drg, dip = loaded.job, loaded.pack, loaded.drg, loaded.dip
    folder.mkdir(parents=True, exist_ok=True)
    findings, suppressed = _without_removed(check(sheet, pack, codes=codes), removed)
    write_findings(findings, folder / "findings.csv")
    summary: dict[str, Any] = {
        "rules": pack.manifest(),
        "skipped_rules": skipped(pack, codes),
        **_counts(findings),
    }
    if removed:
        summary["suppressed_by_deid"] = suppressed

    groups = cmi_table = impact_table = None
    if drg is not None:
        groups, cmi_table, impact_table, summary["drg"] = _grouping(
            sheet, findings, folder, job, drg, codes
        )
    if dip is not None:
        from hutong.quality.dip import group_facesheet as dip_group
        from hutong.quality.dip import write_dip

        summary["dip"] = write_dip(dip_group(sheet, dip), folder)

    table = load_score_table()
    scores = score_cases(sheet, findings, table)
    rates = indicators(sheet, findings, scores, table=table)
    write_scores(scores, folder / "scores.csv")
    write_indicators(rates, folder / "indicators.csv")
    write_worklist(sheet, findings, folder / "worklist.xlsx", pack, impact_table)
    write_report(
        sheet, findings, folder / "report.html", pack, job.title,
        scores=scores, indicators=rates, groups=groups, impact=impact_table, cmi=cmi_table,
    )  # fmt: skip
    summary["score"] = _score_summary(scores)
    summary["indicators"] = {
        str(r.indicator): None if pd.isna(r.rate) else round(float(r.rate), 4)
        for r in rates.itertuples()
    }
    return findings, summary


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


def _counts(findings: pd.DataFrame) -> dict[str, Any]:
    severity = findings["severity"].value_counts().sort_index()
    top = (
        findings["rule_id"].value_counts().sort_index().sort_values(ascending=False, kind="stable")
    )
    return {
        "findings": len(findings),
        "by_severity": {k: int(v) for k, v in severity.items()},
        "top_rules": {k: int(v) for k, v in top.head(10).items()},
    }


def _score_summary(scores: pd.DataFrame) -> dict[str, Any]:
    if scores.empty:
        return {"cases": 0}
    s = scores["score"].astype("float64")
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


def _grouping(sheet, findings, folder, job, drg, codes):
    """The DRG outputs (see write_grouping) and impact.csv."""
    from hutong.quality.impact import impact, write_impact

    drg_pack, weights, _ = drg
    groups, cmi_table, summary = write_grouping(sheet, folder, drg)
    table = impact(sheet, findings, drg_pack, codes, weights, job.base_rate)
    write_impact(table, folder / "impact.csv")
    changed = table[table["drg_before"] != table["drg_after"]]
    summary["impact"] = {
        "findings": len(table),
        "group_changes": len(changed),
        "weight_diff": round(float(table["weight_diff"].sum(min_count=1)), 4)
        if table["weight_diff"].notna().any()
        else None,
        "amount": round(float(table["amount"].sum(min_count=1)), 2)
        if table["amount"].notna().any()
        else None,
    }
    return groups, cmi_table, table, summary
