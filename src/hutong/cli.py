"""The ``hutong`` command. Thin: it parses options, calls library functions and prints.

Heavy libraries (pandas, fhir.resources, ...) are imported inside the commands so that
``hutong --help`` answers at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hutong import DEFAULT_RULES, PARTITION_SIZE
from hutong.cli_quality import (
    BaseRateOption,
    DipCatalogOption,
    DipParamsOption,
    DrgPackOption,
    WeightsOption,
    dip,
    group,
    qc,
)
from hutong.cli_quality import fail as _fail
from hutong.cli_run import check_choices, print_summary, run_deid_key, run_inputs, store_for_run
from hutong.cli_serve import serve, user_app
from hutong.cli_terms import map_app, open_store, terminology_app

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
app.add_typer(terminology_app, name="terminology")
app.add_typer(map_app, name="map")
app.add_typer(user_app, name="user")
app.command()(serve)
app.command()(qc)
app.command()(group)
app.command()(dip)

SAMPLE_SEEDS = {"vendor-a": 2024, "vendor-b": 2025}
SAMPLE_VENDORS = (*SAMPLE_SEEDS, "lis-a", "hl7")  # lis-a: vendor-a's lab; hl7: ADT/ORU feed


@app.command("run")
def run_command(
    inputs: Annotated[
        list[Path],
        typer.Argument(help="Export files or folders (tables, HL7, CDA, DICOM) / 导出文件或目录"),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder / 输出目录")],
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            "-p",
            help="Profile for table files: built-in name or .toml path (default: best fit)",
        ),
    ] = None,
    dx_codes: Annotated[
        Path | None,
        typer.Option(help="ICD-10 医保版 2.0 list (CODE NAME per line); default: shipped sample"),
    ] = None,
    px_codes: Annotated[
        Path | None, typer.Option(help="ICD-9-CM-3 医保版 2.0 list; default: shipped sample")
    ] = None,
    rules: Annotated[
        str, typer.Option(help="QC rule packs: built-in names or .toml paths joined with '+'")
    ] = DEFAULT_RULES,
    validate: Annotated[
        str,
        typer.Option(help="FHIR gate: all, sample, none, or auto (all up to 20,000 resources)"),
    ] = "auto",
    auto_map: Annotated[
        float | None,
        typer.Option(help="Accept the matcher's best candidate at or above this score (auto)"),
    ] = None,
    hl7_profile: Annotated[
        Path | None,
        typer.Option(help="HL7 v2 profile (.toml): Z-segment fields → canonical columns"),
    ] = None,
    bundle: Annotated[
        bool, typer.Option(help="Also write FHIR transaction Bundles (PUT) to OUT/bundles")
    ] = False,
    fhir: Annotated[
        bool, typer.Option(help="Write FHIR NDJSON (--no-fhir: face sheet, QC, grouping only)")
    ] = True,
    drg_pack: DrgPackOption = None,
    weights: WeightsOption = None,
    base_rate: BaseRateOption = None,
    dip_catalog: DipCatalogOption = None,
    dip_params: DipParamsOption = None,
    deid: Annotated[
        str, typer.Option(help="De-identify every output: none, research, share or a .toml")
    ] = "none",
    deid_key_file: Annotated[
        Path | None, typer.Option(help="HMAC key file for pseudonyms (else $HUTONG_DEID_KEY)")
    ] = None,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Terminology store URL; default $HUTONG_DB or the user's store"),
    ] = None,
    store: Annotated[
        bool, typer.Option(help="Use the terminology store (approved mappings, coders' queue)")
    ] = True,
    partition_size: Annotated[
        int, typer.Option(min=1, help="Stays per partition: what bounds the run's memory")
    ] = PARTITION_SIZE,
    resume: Annotated[
        bool, typer.Option(help="Go on from an interrupted run into the same OUT (same inputs)")
    ] = False,
    output_format: Annotated[
        list[str] | None,
        typer.Option("--format", help="Extra outputs: parquet (canonical tables, face sheet)"),
    ] = None,
    engine: Annotated[str, typer.Option(help="local (this process) or spark (PySpark)")] = "local",
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Local engine: processes converting table slices and partitions at once "
            "(same outputs for any number)",
        ),
    ] = 1,
    spark_master: Annotated[
        str, typer.Option(help="With --engine spark: local[N] or a cluster's master URL")
    ] = "local[2]",
    progress: Annotated[
        str, typer.Option(help="bar (rich), or json (one line per step on stderr)")
    ] = "bar",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar")] = False,
) -> None:
    """Convert exports (tables, HL7 v2, CDA, DICOM): canonical tables → FHIR NDJSON, the 4101
    face sheet, QC (and DRG/DIP groups with a pack or catalog), in partitions of bounded memory.

    Writes OUT/manifest.json, rejects.ndjson, fhir/<Type>.ndjson, facesheet/*.csv + 4101.ndjson,
    qc/ (findings, scores, indicators, worklist.xlsx, report.html, groups, impact) and
    unmapped.csv; --resume goes on from an interrupted run into the same OUT.
    """
    settings = {
        "dx_codes": dx_codes, "px_codes": px_codes, "rules": rules, "validate": validate,
        "auto_map": auto_map, "store": store_for_run(db, store), "hl7_profile": hl7_profile,
        "deid": deid, "deid_key": run_deid_key(deid, deid_key_file), "bundle": bundle,
        "drg_pack": drg_pack, "weights": weights, "base_rate": base_rate,
        "dip_catalog": dip_catalog, "dip_params": dip_params, "partition_size": partition_size,
        "resume": resume, "formats": output_format or [], "engine": engine,
        "spark_master": spark_master, "progress": progress, "fhir": fhir, "workers": workers,
    }  # fmt: skip
    check_choices(engine, output_format or [], progress)
    result = run_inputs(inputs, profile, out, settings, quiet)
    used = result.manifest["profiles"]
    typer.echo(f"hutong run · {', '.join(used) if used else 'no table files'}")
    print_summary(result, out)
    if result.fhir_errors:
        raise typer.Exit(1)


DEMO_AUTO_MAP = {"vendor-a": 95.0, "vendor-b": None}
# The demo groups with hutong's illustrative DRG pack (and its weights) and DIP catalog, and
# prices findings at an illustrative 10,000 元 per weight point: none of these are official.
DEMO_GROUPING = {"drg_pack": Path("sample"), "dip_catalog": Path("sample"), "base_rate": 10_000.0}
# vendor-a's hospital also sends its LIS export: one run links lab results to the same stays.
DEMO_INPUTS = {"vendor-a": ("vendor-a", "lis-a"), "vendor-b": ("vendor-b",)}


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder / 输出目录")] = Path(
        "hutong-demo-out"
    ),
    samples: Annotated[
        Path, typer.Option(help="Folder with samples/vendor-a and samples/vendor-b")
    ] = Path("samples"),
    deid: Annotated[
        str, typer.Option(help="De-identify the demo outputs: none, research or share")
    ] = "none",
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Run both sample vendors (generated when ./samples is absent) into OUT/<vendor>/.

    A fresh store in a temporary folder holds the sample code systems and the coders'
    decisions of samples/mappings; vendor-a runs with its LIS export (lis-a) and --auto-map 95.
    Cases are grouped with the illustrative sample DRG pack and DIP catalog.
    """
    import tempfile

    from hutong.synthetic import generate

    failed = False
    key = run_deid_key(deid, None, ephemeral=True)
    with tempfile.TemporaryDirectory() as tmp:
        store = _demo_store(Path(tmp), samples / "mappings")
        for vendor, seed in SAMPLE_SEEDS.items():
            folders = []
            for name in DEMO_INPUTS[vendor]:
                folder = samples / name
                if not folder.is_dir():
                    folder = out / "inputs" / name
                    generate(name, 200, seed, folder)
                folders.append(folder)
            target = out / vendor
            settings = {
                "store": store, "auto_map": DEMO_AUTO_MAP[vendor], "deid": deid, "deid_key": key,
                **DEMO_GROUPING,
            }  # fmt: skip
            result = run_inputs(folders, None, target, settings, quiet)
            typer.secho(f"hutong demo · {vendor} · {', '.join(map(str, folders))}", bold=True)
            print_summary(result, target)
            failed = failed or bool(result.fhir_errors)
        store.close()
    typer.echo(f"open {out}/vendor-a/qc/report.html to read the QC report / 打开质控报告")
    if failed:
        raise typer.Exit(1)


def _demo_store(folder: Path, decisions: Path):
    """A store with the sample code systems and the shipped coders' decisions."""
    from hutong.terminologies.codesystem import DIAGNOSIS, PROCEDURE, sample_code_system
    from hutong.terminologies.conceptmap import import_csv

    store = open_store(f"sqlite:///{folder / 'demo.db'}")
    for system_id in (DIAGNOSIS, PROCEDURE):
        store.save_code_system(sample_code_system(system_id))
    for path in sorted(decisions.glob("*.csv")) if decisions.is_dir() else []:
        import_csv(store, path, "hutong-demo")
    return store


@samples_app.command("generate")
def samples_generate(
    vendor: Annotated[
        str,
        typer.Option(help="vendor-a, vendor-b, lis-a (vendor-a's lab) or hl7 (ADT/ORU v2.5)"),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder")],
    cases: Annotated[int, typer.Option(min=1, help="Number of inpatient cases")] = 200,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same files)")] = 2024,
    workers: Annotated[
        int, typer.Option(min=1, help="Processes rendering slices (same bytes for any number)")
    ] = 1,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar")] = False,
) -> None:
    """Write a seeded synthetic export of VENDOR (real 医保版 codes, some broken records),
    streaming: a million cases take minutes and little memory."""
    from rich.progress import Progress

    from hutong.synthetic import generate

    if vendor not in SAMPLE_VENDORS:
        raise _fail(f"unknown vendor {vendor!r}; choose one of {', '.join(SAMPLE_VENDORS)}")
    with Progress(disable=quiet, transient=True) as bar:
        task = bar.add_task("generating / 生成", total=cases)
        try:
            paths = generate(
                vendor, cases, seed, out, workers=workers,
                on_progress=lambda done: bar.update(task, completed=done),
            )  # fmt: skip
        except ValueError as exc:
            raise _fail(str(exc)) from None
    for p in paths[:20]:
        typer.echo(str(p))
    if len(paths) > 20:
        typer.echo(f"... {len(paths)} files in {out}")


deid_app = typer.Typer(help="De-identification checks / 去标识化检查.", no_args_is_help=True)
app.add_typer(deid_app, name="deid")


@deid_app.command("scan")
def deid_scan(
    folder: Annotated[Path, typer.Argument(help="An output folder to scan")],
    inputs: Annotated[
        list[Path] | None, typer.Option("--input", "-i", help="The run's inputs (for names)")
    ] = None,
    names: Annotated[Path | None, typer.Option(help="A file of names, one a line")] = None,
) -> None:
    """Find personal data left in FOLDER: the inputs' names, ID numbers with a valid check
    digit, mobile numbers and street addresses. Exit 1 when anything is found."""
    from hutong.inputs import input_names
    from hutong.quality.pii import scan

    known: set[str] = set()
    if inputs:
        known |= input_names(inputs)
    if names is not None:
        known |= {n.strip() for n in names.read_text("utf-8").splitlines() if n.strip()}
    hits = scan(folder, known)
    for hit in hits[:200]:
        typer.echo(str(hit))
    typer.echo(f"{len(hits)} findings / 发现 {len(hits)} 处个人信息 ({len(known)} names checked)")
    if hits:
        raise typer.Exit(1)


@app.command("validate")
def validate_command(
    paths: Annotated[
        list[Path], typer.Argument(help="A run's output folder, NDJSON or Bundle files")
    ],
) -> None:
    """The FHIR conformance gate: R4B models, required bindings, references resolving.

    Reports each problem with the file and line (or Bundle entry), resource and element path.
    """
    from hutong.mapping.fhir.gate import gate

    for path in paths:
        if not path.exists():
            raise _fail(f"{path}: no such file or folder / 文件或目录不存在")
    checked, problems = gate(paths)
    for line in problems:
        typer.echo(line)
    typer.echo(f"{checked} resources checked, {len(problems)} errors / 个错误")
    if problems:
        raise typer.Exit(1)


@app.command()
def inspect(
    files: Annotated[list[Path], typer.Argument(help="Files to describe / 要检查的文件")],
) -> None:
    """Say what each file is: format, encoding, HL7 version and message types, DICOM modality,
    CDA template, table columns with sample values and the best-fitting built-in profile."""
    import json

    from hutong.adapters.inspect import inspect as describe

    for path in files:
        if not path.is_file():
            raise _fail(f"{path}: no such file / 文件不存在")
        typer.echo(json.dumps(describe(path), ensure_ascii=False, indent=2, default=str))


profile_app = typer.Typer(help="Vendor profiles / 厂商配置.", no_args_is_help=True)
app.add_typer(profile_app, name="profile")


@profile_app.command("check")
def profile_check(
    profile: Annotated[str, typer.Argument(help="Built-in name or .toml path")],
    files: Annotated[list[Path], typer.Argument(help="Table files to check")],
) -> None:
    """Which columns and values of FILES the profile does not cover."""
    import json

    from hutong.adapters.inspect import check_profile
    from hutong.adapters.profile import ProfileError, load_profile

    try:
        loaded = load_profile(profile)
    except ProfileError as exc:
        raise _fail(str(exc)) from None
    gaps = False
    for path in files:
        report = check_profile(loaded, path)
        gaps = (
            gaps
            or report.get("kind") is None
            or bool(report.get("missing_required") or report.get("uncovered_values"))
        )
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
    if gaps:
        raise typer.Exit(1)


@profile_app.command("list")
def profile_list() -> None:
    """List the built-in vendor profiles."""
    profiles()


@app.command()
def profiles() -> None:
    """List the built-in vendor profiles."""
    from hutong.adapters.profile import builtin_profiles, load_profile

    for name in builtin_profiles():
        p = load_profile(name)
        typer.echo(f"{p.name:<10} v{p.version}  {p.description}")


if __name__ == "__main__":
    app()
