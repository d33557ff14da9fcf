"""`hutong qc`, `hutong group` and `hutong dip`: the coding office's commands on a face-sheet
folder (the 4101 node CSVs a run writes to OUT/facesheet)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hutong import DEFAULT_RULES

SAMPLE = "sample"  # --drg-pack sample / --dip-catalog sample: hutong's illustrative data

OUT = typer.Option("--out", "-o", help="Output folder / 输出目录")
FACESHEET = typer.Argument(help="Folder with setlinfo/diseinfo/oprninfo/iteminfo.csv")
DRG_PACK_HELP = (
    "CHS-DRG pack folder (the NHSA 2.0 tables), or 'sample' for hutong's illustrative one"
)
WEIGHTS_HELP = "DRG weights CSV (drg,weight); default: the pack folder's weights.csv"
DIP_HELP = "DIP catalog CSV (docs/dip-catalog.md), or 'sample' (hutong's illustrative)"


DrgPackOption = Annotated[Path | None, typer.Option(help=DRG_PACK_HELP)]
WeightsOption = Annotated[Path | None, typer.Option(help=WEIGHTS_HELP)]
BaseRateOption = Annotated[
    float | None, typer.Option(help="元 per DRG weight point: prices each finding's impact")
]
DipCatalogOption = Annotated[Path | None, typer.Option(help=DIP_HELP)]
DipParamsOption = Annotated[Path | None, typer.Option(help="DIP parameters TOML")]


def fail(message: str, code: int = 2) -> typer.Exit:
    typer.secho(message, fg=typer.colors.RED, err=True)
    return typer.Exit(code)


def _sheet(folder: Path):
    from hutong.mapping.facesheet import FaceSheetError, read_facesheet

    try:
        return read_facesheet(folder)
    except (FaceSheetError, FileNotFoundError) as exc:
        raise fail(str(exc)) from None


def qc(
    facesheet_dir: Annotated[Path, FACESHEET],
    out: Annotated[Path, OUT],
    rules: Annotated[
        str, typer.Option(help="QC rule packs: built-in names or .toml paths joined with '+'")
    ] = DEFAULT_RULES,
    dx_codes: Annotated[
        Path | None, typer.Option(help="ICD-10 医保版 2.0 list; default: the store's, else sample")
    ] = None,
    px_codes: Annotated[
        Path | None,
        typer.Option(help="ICD-9-CM-3 医保版 2.0 list; default: the store's, else sample"),
    ] = None,
    drg_pack: DrgPackOption = None,
    weights: WeightsOption = None,
    base_rate: BaseRateOption = None,
    dip_catalog: DipCatalogOption = None,
    dip_params: DipParamsOption = None,
) -> None:
    """Check a face-sheet folder: findings.csv, scores.csv (100 points a case), indicators.csv
    (2016 indicators), worklist.xlsx (one row per finding with its fix) and report.html; with
    --drg-pack also groups.csv, trace.ndjson, cmi.csv and impact.csv (each finding's effect on
    the group and the money), with --dip-catalog dip.csv."""
    from hutong.cli_run import code_systems, store_for_run
    from hutong.quality.job import QcJob, QcJobError, load_job, run_qc

    sheet = _sheet(facesheet_dir)
    job = QcJob(
        rules=rules, drg_pack=drg_pack, weights=weights, base_rate=base_rate,
        dip_catalog=dip_catalog, dip_params=dip_params, title=f"hutong QC · {facesheet_dir}",
    )  # fmt: skip
    try:
        loaded = load_job(job)
    except QcJobError as exc:
        raise fail(str(exc)) from None
    dx, px = code_systems(dx_codes, px_codes, store_for_run(None, True))
    findings, summary = run_qc(sheet, out, loaded, codes={"diagnosis": dx, "procedure": px})
    by = ", ".join(f"{k} {v}" for k, v in summary["by_severity"].items()) or "none"
    score = summary["score"]
    typer.echo(f"{len(sheet)} cases, {len(findings)} findings / 质控问题 ({by})")
    if score.get("cases"):
        typer.echo(f"  score / 得分 mean {score['mean']}, min {score['min']}, "
                   f"≥ 90: {score['at_least_90']} of {score['cases']}")  # fmt: skip
    if "drg" in summary:
        echo_drg(summary["drg"])
    if "dip" in summary:
        echo_dip(summary["dip"])
    typer.echo(f"  → {out}/report.html, worklist.xlsx, findings.csv, scores.csv, indicators.csv")


def echo_drg(drg: dict) -> None:
    typer.echo(f"  DRG {drg['pack']}: {drg['grouped']} of {drg['cases']} grouped, "
               f"{drg['ungroupable']} ungroupable (0000)")  # fmt: skip
    if drg.get("cmi") is not None:
        typer.echo(f"  CMI {drg['cmi']} (cmi.csv per department / 分科室)")
    impact = drg["impact"]
    money = f", {impact['amount']:,.2f} 元 at stake" if impact.get("amount") is not None else ""
    typer.echo(f"  impact / 影响: {impact['findings']} findings touch grouping, "
               f"{impact['group_changes']} would change the group{money} (impact.csv)")  # fmt: skip


def echo_dip(dip: dict) -> None:
    typer.echo(f"  DIP: {dip['core']} core, {dip['integrated']} integrated, "
               f"{dip['ungroupable']} ungroupable (dip.csv)")  # fmt: skip


def group(
    facesheet_dir: Annotated[Path, FACESHEET],
    pack: Annotated[Path, typer.Option(help=DRG_PACK_HELP)],
    out: Annotated[Path, OUT],
    weights: WeightsOption = None,
) -> None:
    """Group face sheets into CHS-DRG: groups.csv (mdc, adrg, drg, cc_status, reason) and
    trace.ndjson (which rule fired at each step); drg 0000 is ungroupable, with the reason.
    With weights (given, or the pack's weights.csv) groups.csv gains each case's weight and
    cmi.csv has the CMI per department."""
    from hutong.quality.job import QcJob, QcJobError, load_job, write_grouping

    sheet = _sheet(facesheet_dir)
    try:
        drg = load_job(QcJob(drg_pack=pack, weights=weights)).drg
    except QcJobError as exc:
        raise fail(str(exc)) from None
    out.mkdir(parents=True, exist_ok=True)
    _, _, counts = write_grouping(sheet, out, drg)
    typer.echo(f"{counts['cases']} cases, {counts['grouped']} grouped, {counts['ungroupable']} "
               f"ungroupable (0000) → {out}/groups.csv, {out}/trace.ndjson")  # fmt: skip
    if counts.get("cmi") is not None:
        typer.echo(f"CMI {counts['cmi']} → {out}/cmi.csv")


def dip(
    facesheet_dir: Annotated[Path, FACESHEET],
    out: Annotated[Path, OUT],
    catalog: Annotated[Path, typer.Option(help=DIP_HELP)] = Path("sample"),
    params: DipParamsOption = None,
) -> None:
    """Group face sheets into DIP (病种分值付费): dip.csv (group, score, outlier, payment) and
    dip_trace.ndjson. Without --catalog the shipped sample catalog is used (illustrative
    scores, not an official 目录库)."""
    from hutong.quality.dip import DipCatalogError, group_facesheet, write_dip
    from hutong.quality.job import QcJob, dip_catalog

    sheet = _sheet(facesheet_dir)
    try:
        table = dip_catalog(QcJob(dip_catalog=catalog, dip_params=params))
    except (DipCatalogError, FileNotFoundError) as exc:
        raise fail(str(exc)) from None
    if str(catalog) == SAMPLE:
        typer.secho("the illustrative sample catalog, not official scores / 示例目录，非官方分值",
                    fg="yellow", err=True)  # fmt: skip
    counts = write_dip(group_facesheet(sheet, table), out)
    echo_dip(counts)
    typer.echo(f"  → {out}/dip.csv, {out}/dip_trace.ndjson")
