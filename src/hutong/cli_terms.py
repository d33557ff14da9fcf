"""``hutong terminology ...`` and ``hutong map ...``: code systems and coders' mappings.

Thin, like cli.py: options are parsed here, the work is done by hutong.terminologies.
The store is ``--db URL``, else ``$HUTONG_DB``, else a SQLite file in the user's data folder.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Annotated

import typer

terminology_app = typer.Typer(
    help="Code systems: load, list, search / 编码体系：加载、列出、检索.", no_args_is_help=True
)
map_app = typer.Typer(
    help="Local → standard code mappings: suggest, review, decide, exchange / 编码映射与审核.",
    no_args_is_help=True,
)

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Store URL (SQLAlchemy); default $HUTONG_DB or per-user SQLite"),
]
UserOption = Annotated[
    str | None,
    typer.Option("--user", "-u", help="Who decides (default $HUTONG_USER or login name)"),
]


def fail(message: str, code: int = 2) -> typer.Exit:
    typer.secho(message, fg=typer.colors.RED, err=True)
    return typer.Exit(code)


def open_store(db: str | None):
    from hutong.terminologies.store import Store

    try:
        return Store(db)
    except Exception as exc:  # a bad URL or an unreachable server: one clear line
        raise fail(f"cannot open the store {db or '(default)'}: {exc}") from None


def user_name(user: str | None) -> str:
    return user or os.environ.get("HUTONG_USER") or getpass.getuser()


# ------------------------------------------------------------------ terminology


@terminology_app.command("load")
def terminology_load(
    path: Annotated[
        Path | None, typer.Argument(help="Code list, table, crosswalk or gray list")
    ] = None,
    system: Annotated[
        str, typer.Option("--system", "-s", help="System name, e.g. icd10-yb-2.0")
    ] = "",
    version: Annotated[str | None, typer.Option(help="Version (default: the system's)")] = None,
    format: Annotated[
        str | None, typer.Option("--format", "-f", help="list|table|crosswalk|who|valuesets")
    ] = None,
    gray: Annotated[
        bool, typer.Option("--gray", help="PATH lists gray codes of a loaded system")
    ] = False,
    code_column: Annotated[str | None, typer.Option(help="Code column of a table")] = None,
    name_column: Annotated[str | None, typer.Option(help="Name column of a table")] = None,
    sheet: Annotated[str | None, typer.Option(help="Excel sheet")] = None,
    replace: Annotated[bool, typer.Option(help="Replace this version if already loaded")] = False,
    db: DbOption = None,
) -> None:
    """Load a code system (or, with --gray, its gray codes) into the store, in one transaction."""
    from hutong.terminologies.codesystem import CodeListError
    from hutong.terminologies.loaders import load, read_gray

    if not system:
        raise fail("--system is required (e.g. icd10-yb-2.0) / 请用 --system 指定编码体系")
    store = open_store(db)
    try:
        if gray:
            if path is None:
                raise fail("--gray needs the PATH of the gray list")
            codes = read_gray(path)
            unknown = store.mark_gray(system, codes, version)
            typer.echo(f"{system}: {len(codes) - len(unknown)} gray codes marked / 灰码已标记")
            if unknown:
                typer.secho(
                    f"  {len(unknown)} codes not in {system}: {', '.join(sorted(unknown)[:10])}",
                    fg="yellow",
                )
            return
        cs = load(path, system, version=version, format=format, code_column=code_column,
                  name_column=name_column, sheet=sheet)  # fmt: skip
        info = store.save_code_system(cs, replace=replace)
    except (CodeListError, ValueError, FileNotFoundError) as exc:
        raise fail(str(exc)) from None
    typer.echo(
        f"{info.name} {info.version}: {info.loaded} codes, {len(cs.gray)} gray · {info.source}"
    )


@terminology_app.command("list")
def terminology_list(db: DbOption = None) -> None:
    """The code systems in the store (name, version, codes, current)."""
    store = open_store(db)
    infos = store.code_systems()
    if not infos:
        typer.echo(
            "no code systems loaded; try: hutong terminology load FILE --system icd10-yb-2.0"
        )
    for i in infos:
        mark = "*" if i.current else " "
        typer.echo(f"{mark} {i.name:<18} {i.version:<10} {i.loaded:>7} codes  {i.title}")


@terminology_app.command("search")
def terminology_search(
    text: Annotated[str, typer.Argument(help="Chinese text, pinyin initials or a code prefix")],
    system: Annotated[str, typer.Option("--system", "-s", help="System name")] = "icd10-yb-2.0",
    limit: Annotated[int, typer.Option(min=1)] = 20,
    db: DbOption = None,
) -> None:
    """Search a loaded system by Chinese name, pinyin initials (gxb) or code prefix (I25.1)."""
    store = open_store(db)
    try:
        hits = store.search(text, system, limit=limit)
    except ValueError as exc:
        raise fail(str(exc)) from None
    for c in hits:
        flag = " [灰码 gray]" if c.gray else ""
        typer.echo(f"{c.code:<20} {c.display}{flag}")
    if not hits:
        typer.echo("no match / 无匹配")


# ------------------------------------------------------------------ map


def _matcher(store, system: str):
    """A matcher over ``system`` that already knows the coders' approved names (learned)."""
    from hutong.terminologies.matcher import Matcher

    cs = _system_for_matching(store, system)
    learned = None
    if any(i.name == system for i in store.code_systems()):
        approved = store.approved(system)
        named = approved[approved["local_name"] != ""]
        learned = dict(zip(named["local_name"], named["code"], strict=True))
    return Matcher(cs, learned=learned)


def _system_for_matching(store, system: str):
    from hutong.terminologies.codesystem import sample_code_system

    try:
        return store.code_system(system)
    except ValueError:
        try:
            return sample_code_system(system)
        except FileNotFoundError:
            raise fail(
                f"{system} is not loaded; run: hutong terminology load FILE --system {system}"
            ) from None


@map_app.command("suggest")
def map_suggest(
    input: Annotated[
        Path, typer.Argument(help="CSV with columns local_code, local_name (others kept)")
    ],
    system: Annotated[str, typer.Option("--system", "-s", help="Target system")] = "icd10-yb-2.0",
    top: Annotated[int, typer.Option(min=1, max=50, help="Candidates per term")] = 5,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output CSV")] = Path("suggestions.csv"),
    db: DbOption = None,
) -> None:
    """Top-K standard codes for each local term, with a score and why (CSV in, CSV out)."""
    import pandas as pd
    from rich.progress import Progress

    terms = _read_terms(input)
    matcher = _matcher(open_store(db), system)
    parts = []
    with Progress(transient=True) as progress:
        task = progress.add_task("matching / 匹配中", total=len(terms))
        for start in range(0, len(terms), 2000):
            chunk = terms.iloc[start : start + 2000]
            parts.append(matcher.suggest_many(chunk, top=top))
            progress.update(task, advance=len(chunk))
    result = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    result.to_csv(out, index=False, encoding="utf-8-sig", lineterminator="\n")
    typer.echo(f"{len(terms)} terms → {len(result)} candidates in {out}")


def _read_terms(path: Path):
    import pandas as pd

    from hutong.adapters.encoding import decode

    if not path.exists():
        raise fail(f"{path}: no such file / 文件不存在")
    import io

    text = decode(path.read_bytes()).text
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    missing = [c for c in ("local_code", "local_name") if c not in frame.columns]
    if missing:
        raise fail(
            f"{path}: missing column(s) {', '.join(missing)}; found: {', '.join(frame.columns)}"
        )
    empty = frame[(frame["local_code"].str.strip() == "") & (frame["local_name"].str.strip() == "")]
    if len(empty):
        rows = ", ".join(str(i + 2) for i in empty.index[:10])
        raise fail(
            f"{path}: empty local term (no code and no name) on row(s) {rows} / 空的本地术语"
        )
    return frame.replace("", None)


@map_app.command("auto")
def map_auto(
    min_score: Annotated[
        float, typer.Option("--min-score", help="Accept the best candidate at or above")
    ] = 95.0,
    system: Annotated[str, typer.Option("--system", "-s")] = "icd10-yb-2.0",
    local_system: Annotated[
        str | None, typer.Option(help="Only this local system (vendor-a:diagnosis)")
    ] = None,
    db: DbOption = None,
) -> None:
    """Match every queued local term; mark the best candidate `auto` when it scores ≥ MIN."""
    store = open_store(db)
    queue = store.queue(target=system, local_system=local_system)
    terms = queue.drop_duplicates(["local_system", "local_code", "local_name"])
    if terms.empty:
        typer.echo("nothing queued / 队列为空")
        return
    matcher = _matcher(store, system)
    found = matcher.suggest_many(
        terms[["local_system", "local_code", "local_name"]].replace("", None), top=5
    )
    auto = 0
    for (ls, code, name), group in found.groupby(
        ["local_system", found["local_code"].fillna(""), found["local_name"].fillna("")], sort=True
    ):
        best = group["score"].iloc[0]
        status = "auto" if best >= min_score else "unreviewed"
        auto += status == "auto"
        candidates = list(zip(group["code"], group["display"], group["score"], strict=True))
        store.propose(ls, code or None, name or None, system, candidates, status=status)
    typer.echo(f"{len(terms)} terms matched; {auto} auto-mapped at ≥ {min_score} / 自动映射")


def _decide(
    action: str, mapping_id: int, user: str | None, version: int | None, code, comment, db
) -> None:
    from hutong.terminologies.curation import MappingConflict

    store = open_store(db)
    try:
        seen = version if version is not None else store.mapping(mapping_id).version
        m = store.decide(mapping_id, action, user_name(user), seen, code=code, comment=comment)
    except MappingConflict as exc:
        raise fail(f"conflict / 冲突: {exc}", 3) from None
    except (ValueError, LookupError) as exc:
        raise fail(str(exc)) from None
    term = f"{m.local_code or '-'} {m.local_name}"
    typer.echo(f"mapping {m.id}: {term} → {m.code} {m.display} [{m.status}] v{m.version}")


VersionOption = Annotated[
    int | None,
    typer.Option("--version", help="The version you reviewed (refused if it changed since)"),
]


@map_app.command("approve")
def map_approve(
    mapping_id: Annotated[
        int | None, typer.Argument(help="Mapping id (see `map review` / `map stats`)")
    ] = None,
    above: Annotated[
        float | None, typer.Option("--above", help="Bulk: approve every best candidate ≥ score")
    ] = None,
    system: Annotated[
        str | None, typer.Option("--system", "-s", help="Bulk: only this target")
    ] = None,
    code: Annotated[str | None, typer.Option(help="Approve with this code instead")] = None,
    comment: Annotated[str | None, typer.Option()] = None,
    user: UserOption = None,
    version: VersionOption = None,
    db: DbOption = None,
) -> None:
    """Approve a mapping (reviewers' decision), or with --above S all candidates scoring ≥ S."""
    if above is not None:
        n = open_store(db).bulk_approve(above, user_name(user), target=system)
        typer.echo(f"{n} mappings approved at ≥ {above} / 批量审核通过")
        return
    if mapping_id is None:
        raise fail("give a MAPPING_ID or --above SCORE")
    _decide("approve", mapping_id, user, version, code, comment, db)


@map_app.command("reject")
def map_reject(
    mapping_id: int,
    comment: Annotated[str | None, typer.Option()] = None,
    user: UserOption = None,
    version: VersionOption = None,
    db: DbOption = None,
) -> None:
    """Reject a candidate mapping."""
    _decide("reject", mapping_id, user, version, None, comment, db)


@map_app.command("flag")
def map_flag(
    mapping_id: int,
    comment: Annotated[str | None, typer.Option()] = None,
    user: UserOption = None,
    version: VersionOption = None,
    db: DbOption = None,
) -> None:
    """Flag a mapping for a second look (e.g. for the reviewer)."""
    _decide("flag", mapping_id, user, version, None, comment, db)


@map_app.command("import")
def map_import(
    path: Annotated[Path, typer.Argument(help="ConceptMap JSON or mappings CSV")],
    user: UserOption = None,
    db: DbOption = None,
) -> None:
    """Import mappings (ConceptMap .json or .csv) in one transaction."""
    import json

    from hutong.terminologies.conceptmap import import_conceptmap, import_csv

    store = open_store(db)
    try:
        if path.suffix.lower() == ".json":
            counts = import_conceptmap(store, json.loads(path.read_text("utf-8")), user_name(user))
        else:
            counts = import_csv(store, path, user_name(user))
    except (ValueError, FileNotFoundError, KeyError) as exc:
        raise fail(f"{path}: {exc}") from None
    typer.echo(f"{path}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


@map_app.command("export")
def map_export(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file")],
    format: Annotated[str, typer.Option("--format", "-f", help="conceptmap|csv")] = "csv",
    local_system: Annotated[
        str | None, typer.Option(help="Local system (needed for conceptmap)")
    ] = None,
    system: Annotated[str, typer.Option("--system", "-s")] = "icd10-yb-2.0",
    db: DbOption = None,
) -> None:
    """Export mappings as FHIR ConceptMap JSON or CSV (lossless: import reads them back)."""
    import json

    from hutong.terminologies.conceptmap import export_conceptmap, export_csv

    store = open_store(db)
    if format == "conceptmap":
        if not local_system:
            raise fail("--local-system is required for a ConceptMap (one source system per map)")
        doc = export_conceptmap(store, local_system, system)
        out.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", "utf-8")
        typer.echo(f"ConceptMap {local_system} → {system}: {out}")
    elif format == "csv":
        n = export_csv(store, out, local_system=local_system, target=system)
        typer.echo(f"{n} mappings → {out}")
    else:
        raise fail(f"unknown format {format!r}; conceptmap or csv")


@map_app.command("stats")
def map_stats(
    system: Annotated[str | None, typer.Option("--system", "-s")] = None,
    local_system: Annotated[str | None, typer.Option()] = None,
    db: DbOption = None,
) -> None:
    """Mappings by status, and how much of the local terms' frequency is covered."""
    import json

    stats = open_store(db).stats(target=system, local_system=local_system)
    typer.echo(json.dumps(stats, ensure_ascii=False, indent=2, default=str))


@map_app.command("reapply")
def map_reapply(
    system: Annotated[str, typer.Option("--system", "-s", help="System with a new version loaded")],
    version: Annotated[str, typer.Option("--version", help="The new version")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the report as CSV")] = None,
    user: UserOption = None,
    db: DbOption = None,
) -> None:
    """Move decisions to a new version of a system; report retired codes and changed names."""
    report = open_store(db).reapply(system, version, user_name(user))
    for k, v in report.counts.items():
        typer.echo(f"  {k:<14} {v}")
    if out is not None:
        report.rows.to_csv(out, index=False, encoding="utf-8-sig", lineterminator="\n")
        typer.echo(f"report → {out}")


@map_app.command("review")
def map_review(
    system: Annotated[str, typer.Option("--system", "-s")] = "icd10-yb-2.0",
    local_system: Annotated[str | None, typer.Option()] = None,
    user: UserOption = None,
    db: DbOption = None,
) -> None:
    """Work through the queue in the terminal: approve, reject, flag, skip, search, quit."""
    from hutong.cli_review import review_loop

    review_loop(open_store(db), system, local_system, user_name(user))
