"""What a run gives the coders: its local terms with their frequency, and candidates for the
terms no decision covers yet, recorded in the store per hospital system (``vendor:table``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from hutong.terminologies.coding import TERM, UNMAPPED, Coder, distinct_terms, local_systems

if TYPE_CHECKING:
    from hutong.terminologies.store import Store


def in_store(store: Store, system) -> bool:
    """Whether the store holds this very version of a code system (decisions refer to it)."""
    return any(i.name == system.id and i.version == system.version for i in store.code_systems())


def feed_store(store: Store, tables: dict[str, pd.DataFrame], coders: dict[str, Coder]) -> None:
    """Record this run's local terms (not national codes) in the store, with their frequency,
    and propose candidates for the unmapped ones (the coders' queue), per hospital system."""
    for table, coder in coders.items():
        frame = tables[table]
        if frame.empty or not in_store(store, coder.system):
            continue
        # Terms already written as national codes need no curation: only local ones are kept.
        frame = frame[frame["map_status"].isin([UNMAPPED, "auto", "approved"])]
        frame = frame.assign(**{c: frame[c].astype("object").fillna("") for c in TERM})
        frame = frame[(frame["local_code"] != "") | (frame["local_name"] != "")]
        for local_system, rows in frame.groupby(local_systems(frame, table), sort=True):
            feed_terms(store, local_system, coder, rows)


def feed_terms(store: Store, local_system: str, coder: Coder, rows: pd.DataFrame) -> None:
    # per department when the rows say where they were seen (the stay's department)
    by = [*TERM, "department"] if "department" in rows else TERM
    if "department" in rows:
        rows = rows.assign(department=rows["department"].astype("object").fillna(""))
    counts = (
        rows.groupby(by, sort=True)
        .agg(count=("mdtrt_id", "size"), example=("locator", "min"))
        .reset_index()
    )
    counts["example"] = counts.groupby(TERM)["example"].transform("min")  # over departments
    store.record_terms(local_system, coder.system.id, counts)
    todo = rows.drop_duplicates(TERM)
    todo = todo[todo["map_status"].isin([UNMAPPED, "auto"])]
    if todo.empty:
        return
    suggestions = coder.matcher.suggest_many(distinct_terms(todo).replace("", None), top=5)
    for (code, name), group in suggestions.groupby(
        [suggestions["local_code"].fillna(""), suggestions["local_name"].fillna("")], sort=True
    ):
        chosen = todo[(todo["local_code"] == code) & (todo["local_name"] == name)]
        auto = not chosen.empty and chosen["map_status"].iloc[0] == "auto"
        candidates = list(zip(group["code"], group["display"], group["score"], strict=True))
        if auto:  # the code the run applied goes first, so the store marks that one auto
            applied = chosen["code"].iloc[0]
            candidates.sort(key=lambda c: c[0] != applied)
        store.propose(
            local_system, code or None, name or None, coder.system.id, candidates,
            status="auto" if auto else "unreviewed",
        )  # fmt: skip
