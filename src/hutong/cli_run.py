"""What `hutong run` and `hutong demo` share: the code systems and store a run uses, the run
itself with its progress (a rich bar, or JSON lines), and the summary printed after it."""

from __future__ import annotations

from pathlib import Path

import typer

from hutong import DEFAULT_RULES
from hutong.cli_quality import echo_dip, echo_drg
from hutong.cli_quality import fail as _fail
from hutong.cli_terms import open_store


def code_systems(dx_codes: Path | None, px_codes: Path | None, store):
    """Target systems of a run: a file given, else the store's current version, else the
    small sample shipped with hutong."""
    from hutong.terminologies.codesystem import DIAGNOSIS, PROCEDURE, sample_code_system
    from hutong.terminologies.loaders import load

    systems = []
    for system_id, path in ((DIAGNOSIS, dx_codes), (PROCEDURE, px_codes)):
        if path is not None:
            systems.append(load(path, system_id))
        elif store is not None and any(i.name == system_id for i in store.code_systems()):
            systems.append(store.code_system(system_id))
        else:
            systems.append(sample_code_system(system_id))
    return systems


def run_deid_key(deid: str, key_file: Path | None, ephemeral: bool = False) -> bytes | None:
    """The pseudonym key, read once here so no module ever writes it anywhere."""
    if deid == "none":
        return None
    from hutong.mapping.deid import deid_key

    try:
        return deid_key(key_file)
    except ValueError as exc:
        if not ephemeral:
            raise _fail(str(exc)) from None
    import secrets

    typer.secho(
        "no HUTONG_DEID_KEY: the demo uses a one-off key (pseudonyms differ run to run) / "
        "未设置密钥，演示使用临时密钥",
        fg="yellow",
        err=True,
    )
    return secrets.token_bytes(32)


def store_for_run(db: str | None, use_store: bool):
    """The store a run reads decisions from: --db, $HUTONG_DB, or the default file if it exists."""
    import os

    if not use_store:  # before the import: the store's ORM takes seconds to import
        return None
    from hutong.terminologies.store import default_url

    if db or os.environ.get("HUTONG_DB"):
        return open_store(db)
    url = default_url()
    path = Path(url.removeprefix("sqlite:///"))
    return open_store(url) if path.exists() else None


def run_inputs(
    inputs: list[Path], profile_name: str | None, out: Path, settings: dict, quiet: bool
):
    from rich.progress import Progress

    from hutong.adapters.profile import ProfileError, load_profile
    from hutong.allocator import use_system_allocator
    from hutong.inputs import input_files
    from hutong.pipeline import RunOptions, run
    from hutong.terminologies.codesystem import CodeListError

    use_system_allocator()  # before the workers fork: they inherit it
    store = settings.get("store")
    try:
        profile = load_profile(profile_name) if profile_name else None
        dx, px = code_systems(settings.get("dx_codes"), settings.get("px_codes"), store)
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
        rule_pack=settings.get("rules", DEFAULT_RULES),
        validate=settings.get("validate", "auto"),
        store=store,
        auto_map=settings.get("auto_map"),
        hl7_profile=settings.get("hl7_profile"),
        deid=settings.get("deid", "none"),
        bundle=settings.get("bundle", False),
        drg_pack=settings.get("drg_pack"),
        weights=settings.get("weights"),
        base_rate=settings.get("base_rate"),
        dip_catalog=settings.get("dip_catalog"),
        dip_params=settings.get("dip_params"),
        deid_key=settings.get("deid_key"),
    )
    for key in ("partition_size", "resume", "engine", "spark_master", "keep_work", "fhir",
                "workers"):  # fmt: skip
        if settings.get(key) is not None:
            setattr(options, key, settings[key])
    options.formats = tuple(settings.get("formats", ()))
    if settings.get("progress") == "json":
        return _call(run, files, options, on_file=_json_file, on_progress=_json_progress)
    with Progress(disable=quiet, transient=True) as progress:
        task = progress.add_task("reading / 读取", total=len(files))
        stages: dict[str, object] = {}

        def on_file(source: str, read: int) -> None:
            progress.update(task, advance=1, description=f"{Path(source).name} ({read} records)")

        def on_progress(stage: str, done: int, total: int) -> None:
            label = {"deal": "partitioning / 分区", "partition": "processing / 处理",
                     "assemble": "assembling outputs / 汇总输出"}[stage]  # fmt: skip
            if stage not in stages:
                stages[stage] = progress.add_task(label, total=total)
            progress.update(stages[stage], completed=done, total=total)

        return _call(run, files, options, on_file=on_file, on_progress=on_progress)


def _call(run, files, options, **callbacks):
    from hutong.adapters.raw import UnreadableFile
    from hutong.adapters.table import ProfileMismatch
    from hutong.quality.job import QcJobError

    try:
        return run(files, options, **callbacks)
    except (ProfileMismatch, UnreadableFile, QcJobError) as exc:
        raise _fail(str(exc)) from None


def _json_file(source: str, read: int) -> None:
    """--progress json: one JSON object a line on stderr, for machines."""
    import json
    import sys

    print(json.dumps({"stage": "read", "file": source, "records": read}), file=sys.stderr)


def _json_progress(stage: str, done: int, total: int) -> None:
    import json
    import sys

    print(json.dumps({"stage": stage, "done": done, "total": total}), file=sys.stderr)


def check_choices(engine: str, formats: list[str], progress: str) -> None:
    if engine not in ("local", "spark"):
        raise _fail(f"--engine must be local or spark, not {engine!r}")
    for fmt in formats:
        if fmt != "parquet":
            raise _fail(f"--format {fmt!r}: the extra format is parquet (CSV/NDJSON are always)")
    if progress not in ("bar", "json"):
        raise _fail(f"--progress must be bar or json, not {progress!r}")


def print_summary(result, out: Path) -> None:
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
    if m["fhir"]["resources"]:
        typer.echo(f"  FHIR resources     {resources}  ({by_type})")
    else:
        typer.echo("  FHIR resources     none written (--no-fhir)")
    if m["fhir"]["errors"]:
        typer.secho(f"  FHIR validation errors: {len(m['fhir']['errors'])}", fg=typer.colors.RED)
    sev = ", ".join(f"{k} {v}" for k, v in m["qc"]["by_severity"].items()) or "none"
    typer.echo(f"  QC findings / 质控问题 {m['qc']['findings']} ({sev})")
    for rule, count in list(m["qc"]["top_rules"].items())[:5]:
        typer.echo(f"     {rule:<14} {count}")
    score = m["qc"]["score"]
    if score.get("cases"):
        typer.echo(f"  score / 得分 mean {score['mean']}, ≥ 90: {score['at_least_90']} of "
                   f"{score['cases']} (qc/scores.csv, indicators.csv, worklist.xlsx)")  # fmt: skip
    if m.get("drg"):
        echo_drg(m["drg"])
    if m.get("dip"):
        echo_dip(m["dip"])
    for table, counts in m["coding"].items():
        typer.echo(f"  {table} codes / 编码 " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    queue = m["unmapped_codes"]
    typer.echo(f"  unmapped local terms / 未映射术语 {queue} (unmapped.csv: the coders' queue)")
    first: dict[str, tuple[int, str]] = {}
    for r in result.rejects:
        count, example = first.get(r.reason, (0, r.line()))
        first[r.reason] = (count + 1, example)
    for reason, (count, example) in sorted(first.items()):
        typer.echo(f"  rejects {reason} ×{count}: {example}")
    typer.echo(f"  outputs: {out}/manifest.json, rejects.ndjson, fhir/, facesheet/, qc/report.html")
