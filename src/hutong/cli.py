"""The ``hutong`` command. Thin: it parses options, calls library functions and prints.

Heavy libraries (pandas, fhir.resources, ...) are imported inside the commands so that
``hutong --help`` answers at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="hutong (互通): hospital exports → FHIR R4 + NHSA 结算清单 face sheets + QC.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
samples_app = typer.Typer(
    help="Synthetic vendor exports for demos and tests / 合成样例数据.", no_args_is_help=True
)
app.add_typer(samples_app, name="samples")

SAMPLE_SEEDS = {"vendor-a": 2024, "vendor-b": 2025}


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.secho(message, fg=typer.colors.RED, err=True)
    return typer.Exit(code)


def _code_systems(dx_codes: Path | None, px_codes: Path | None):
    from hutong.terminologies.codesystem import (
        DIAGNOSIS,
        PROCEDURE,
        load_code_system,
        sample_code_system,
    )

    dx = load_code_system(DIAGNOSIS, dx_codes) if dx_codes else sample_code_system(DIAGNOSIS)
    px = load_code_system(PROCEDURE, px_codes) if px_codes else sample_code_system(PROCEDURE)
    return dx, px


def _run(
    inputs: list[Path],
    profile_name: str,
    out: Path,
    dx_codes,
    px_codes,
    rules: str,
    validate: bool,
    quiet: bool,
):
    from rich.progress import Progress

    from hutong.adapters.profile import ProfileError, load_profile
    from hutong.adapters.raw import UnreadableFile
    from hutong.adapters.table import ProfileMismatch
    from hutong.pipeline import RunOptions, input_files, run
    from hutong.terminologies.codesystem import CodeListError

    try:
        profile = load_profile(profile_name)
        dx, px = _code_systems(dx_codes, px_codes)
        files = input_files(inputs)
    except (ProfileError, CodeListError, FileNotFoundError) as exc:
        raise _fail(str(exc)) from None
    if not files:
        raise _fail(
            f"no table files (CSV/TSV/XLSX) in {', '.join(map(str, inputs))} / 未找到输入文件"
        )
    options = RunOptions(
        profile=profile,
        out=out,
        diagnosis_codes=dx,
        procedure_codes=px,
        rule_pack=rules,
        validate=validate,
    )
    with Progress(disable=quiet, transient=True) as progress:
        task = progress.add_task(f"{profile.name}: reading", total=len(files))

        def on_file(source: str, read: int) -> None:
            progress.update(
                task, advance=1, description=f"{profile.name}: {Path(source).name} ({read} records)"
            )

        try:
            return run(files, options, on_file=on_file)
        except (ProfileMismatch, UnreadableFile) as exc:
            raise _fail(str(exc)) from None


def _summary(result, out: Path) -> None:
    m = result.manifest
    read = sum(f["read"] for f in m["inputs"])
    rejected = sum(f["rejected"] for f in m["inputs"])
    resources = sum(m["fhir"]["resources"].values())
    by_type = ", ".join(f"{k} {v}" for k, v in m["fhir"]["resources"].items())
    typer.echo(f"  cases / 病例        {m['tables']['encounter']}")
    typer.echo(
        f"  records read / 读取  {read}  converted / 转换 {read - rejected}"
        f"  rejected / 拒收 {rejected}"
    )
    typer.echo(f"  FHIR resources     {resources}  ({by_type})")
    if m["fhir"]["errors"]:
        typer.secho(f"  FHIR validation errors: {len(m['fhir']['errors'])}", fg=typer.colors.RED)
    sev = ", ".join(f"{k} {v}" for k, v in m["qc"]["by_severity"].items()) or "none"
    typer.echo(f"  QC findings / 质控问题 {m['qc']['findings']} ({sev})")
    for rule, count in list(m["qc"]["top_rules"].items())[:5]:
        typer.echo(f"     {rule:<14} {count}")
    typer.echo(f"  unmapped codes / 未映射编码 {m['unmapped_codes']}")
    first: dict[str, tuple[int, str]] = {}
    for r in result.rejects:
        count, example = first.get(r.reason, (0, r.line()))
        first[r.reason] = (count + 1, example)
    for reason, (count, example) in sorted(first.items()):
        typer.echo(f"  rejects {reason} ×{count}: {example}")
    typer.echo(f"  outputs: {out}/manifest.json, rejects.ndjson, fhir/, facesheet/, qc/report.html")


@app.command("run")
def run_command(
    inputs: Annotated[
        list[Path], typer.Argument(help="Export files or folders (CSV/TSV/XLSX) / 导出文件或目录")
    ],
    profile: Annotated[
        str,
        typer.Option(
            "--profile",
            "-p",
            help="Vendor profile: built-in name (vendor-a, vendor-b) or a .toml path",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder / 输出目录")],
    dx_codes: Annotated[
        Path | None,
        typer.Option(help="ICD-10 医保版 2.0 list (CODE NAME per line); default: shipped sample"),
    ] = None,
    px_codes: Annotated[
        Path | None, typer.Option(help="ICD-9-CM-3 医保版 2.0 list; default: shipped sample")
    ] = None,
    rules: Annotated[
        str, typer.Option(help="QC rule pack: built-in name or .toml path")
    ] = "nhsa-settlement",
    validate: Annotated[
        bool, typer.Option(help="Validate every FHIR resource (fhir.resources R4B)")
    ] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar")] = False,
) -> None:
    """Convert vendor exports: canonical tables → FHIR NDJSON, 4101 face sheet, QC report.

    Writes OUT/manifest.json, rejects.ndjson, fhir/<Type>.ndjson, facesheet/*.csv + 4101.ndjson,
    qc/findings.csv, qc/report.html and unmapped.csv.
    """
    result = _run(inputs, profile, out, dx_codes, px_codes, rules, validate, quiet)
    typer.echo(f"hutong run · {result.manifest['profile']['name']}")
    _summary(result, out)
    if result.fhir_errors:
        raise typer.Exit(1)


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder / 输出目录")] = Path(
        "hutong-demo-out"
    ),
    samples: Annotated[
        Path, typer.Option(help="Folder with samples/vendor-a and samples/vendor-b")
    ] = Path("samples"),
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Run both sample vendors (generated when ./samples is absent) into OUT/<vendor>/."""
    from hutong.synthetic import generate

    failed = False
    for vendor, seed in SAMPLE_SEEDS.items():
        folder = samples / vendor
        if not folder.is_dir():
            folder = out / "inputs" / vendor
            generate(vendor, 200, seed, folder)
        target = out / vendor
        result = _run([folder], vendor, target, None, None, "nhsa-settlement", True, quiet)
        typer.secho(f"hutong demo · {vendor} · {folder}", bold=True)
        _summary(result, target)
        failed = failed or bool(result.fhir_errors)
    typer.echo(f"open {out}/vendor-a/qc/report.html to read the QC report / 打开质控报告")
    if failed:
        raise typer.Exit(1)


@app.command()
def qc(
    facesheet_dir: Annotated[
        Path, typer.Argument(help="Folder with setlinfo/diseinfo/oprninfo/iteminfo.csv")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder / 输出目录")],
    rules: Annotated[
        str, typer.Option(help="QC rule pack: built-in name or .toml path")
    ] = "nhsa-settlement",
) -> None:
    """Check a face-sheet folder (4101 node CSVs) and write findings.csv and report.html."""
    from hutong.mapping.facesheet import FaceSheetError, read_facesheet
    from hutong.quality import check, load_pack, write_findings, write_report

    try:
        sheet = read_facesheet(facesheet_dir)
        pack = load_pack(rules)
    except (FaceSheetError, ValueError, FileNotFoundError) as exc:
        raise _fail(str(exc)) from None
    findings = check(sheet, pack)
    out.mkdir(parents=True, exist_ok=True)
    write_findings(findings, out / "findings.csv")
    write_report(sheet, findings, out / "report.html", pack, title=f"hutong QC · {facesheet_dir}")
    by = findings["severity"].value_counts().to_dict()
    typer.echo(
        f"{len(sheet)} cases, {len(findings)} findings {by} → {out}/findings.csv, {out}/report.html"
    )


@samples_app.command("generate")
def samples_generate(
    vendor: Annotated[str, typer.Option(help="vendor-a or vendor-b")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder")],
    cases: Annotated[int, typer.Option(min=1, help="Number of inpatient cases")] = 200,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same files)")] = 2024,
) -> None:
    """Write a seeded synthetic export of VENDOR (real 医保版 codes, some broken records)."""
    from hutong.synthetic import generate

    if vendor not in SAMPLE_SEEDS:
        raise _fail(f"unknown vendor {vendor!r}; choose one of {', '.join(SAMPLE_SEEDS)}")
    paths = generate(vendor, cases, seed, out)
    for p in paths:
        typer.echo(str(p))


@app.command()
def profiles() -> None:
    """List the built-in vendor profiles."""
    from hutong.adapters.profile import builtin_profiles, load_profile

    for name in builtin_profiles():
        p = load_profile(name)
        typer.echo(f"{p.name:<10} v{p.version}  {p.description}")


if __name__ == "__main__":
    app()
