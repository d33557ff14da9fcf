"""``hutong map review``: the coders' queue in a terminal, one local term at a time.

Keys: a number approves that candidate, r rejects all shown, f flags the first, s skips,
/TEXT searches the target system (hits are numbered after the candidates), q quits. Every
decision goes through the store with the version the coder saw, so a colleague's earlier
decision is a conflict, never overwritten.
"""

from __future__ import annotations

import typer

from hutong.terminologies.curation import MappingConflict

HELP = "1-9 approve · r reject · f flag · s skip · /text search · q quit"


def review_loop(store, system: str, local_system: str | None, user: str) -> int:
    """Run the loop; returns the number of decisions made."""
    queue = store.queue(target=system, local_system=local_system)
    terms = queue.drop_duplicates(["local_system", "local_code", "local_name"])
    if terms.empty:
        typer.echo("queue is empty / 待审核队列为空")
        return 0
    decided = 0
    for n, (_, term) in enumerate(terms.iterrows(), start=1):
        rows = queue[
            (queue["local_system"] == term["local_system"])
            & (queue["local_code"] == term["local_code"])
            & (queue["local_name"] == term["local_name"])
            & queue["mapping_id"].notna()
        ]
        typer.secho(
            f"\n[{n}/{len(terms)}] {term['local_system']}  {term['local_code'] or '-'}  "
            f"{term['local_name']}  ({term['frequency']}×, {term['example']})",
            bold=True,
        )
        for i, (_, r) in enumerate(rows.iterrows(), start=1):
            typer.echo(f"  {i}  {r['code']:<20} {r['display']}  {r['score'] or 0:.1f}")
        outcome = _ask(store, system, rows, user)
        if outcome == "quit":
            break
        decided += outcome == "done"
    typer.echo(f"{decided} decisions / 已审核 {decided} 条")
    return decided


def _ask(store, system: str, rows, user: str) -> str:
    """Read keys until the term is decided, skipped or the coder quits."""
    hits: list = []  # search results, numbered after the candidates
    while True:
        key = typer.prompt(HELP, default="s", show_default=False).strip()
        try:
            if key == "q":
                return "quit"
            if key == "s":
                return "skip"
            if key.startswith("/"):
                hits = store.search(key[1:], system, limit=9)
                for i, c in enumerate(hits, start=len(rows) + 1):
                    typer.echo(f"  {i}  {c.code:<20} {c.display}")
                continue
            if key.isdigit() and 1 <= int(key) <= len(rows):
                r = rows.iloc[int(key) - 1]
                store.decide(int(r["mapping_id"]), "approve", user, int(r["version"]))
                return "done"
            if key.isdigit() and 0 < int(key) - len(rows) <= len(hits):
                return _approve_code(store, rows, hits[int(key) - len(rows) - 1].code, user)
            if key in ("r", "f") and not rows.empty:
                action = "reject" if key == "r" else "flag"
                for _, r in (rows if key == "r" else rows.iloc[:1]).iterrows():
                    store.decide(int(r["mapping_id"]), action, user, int(r["version"]))
                return "done"
        except MappingConflict as exc:
            typer.secho(f"conflict / 冲突: {exc}", fg=typer.colors.RED)
            return "skip"
        except ValueError as exc:
            typer.secho(str(exc), fg=typer.colors.RED)
            continue
        typer.echo(f"? {HELP}")


def _approve_code(store, rows, code: str, user: str) -> str:
    """Approve a code found by search: on the term's first candidate row (code replaced)."""
    if rows.empty:
        typer.secho("this term has no candidate yet; run `hutong map auto` first", fg="yellow")
        return "skip"
    r = rows.iloc[0]
    store.decide(int(r["mapping_id"]), "approve", user, int(r["version"]), code=code)
    return "done"
