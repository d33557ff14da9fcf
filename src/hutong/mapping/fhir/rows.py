"""Which rows of a table become resources: joins to the ids they link to (orphans rejected),
the first row of each resource id (a repeat that differs is rejected), and the reject of a
row, naming its file, record and field. Kept apart from :mod:`emit`, which decides what each
resource type is built from."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from hutong.mapping.fhir import coded
from hutong.model import Reject


def _only(elements: list[dict], kept: pd.Series) -> list[dict]:
    """The elements whose row is kept."""
    return [e for e, keep in zip(elements, kept, strict=True) if keep]


def _named(
    frame: pd.DataFrame, table: str, key: str, found: list[Reject], *also: str
) -> pd.DataFrame:
    """Rows that have a code or a name: the resource's code is required, so the others are
    rejected as ``missing_value``."""
    bad = coded.nameless(frame, *also)
    for _, row in frame[bad].iterrows():
        message = f"{table} {row[key]!r} without code or name: not converted to FHIR / 必填值缺失"
        found.append(_reject(row, "missing_value", message, "name"))
    return frame[~bad].reset_index(drop=True)


def _link(frame: pd.DataFrame, keys: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the id columns of ``keys`` where the shared columns match (left join; an
    optional link, so a row without a match keeps a missing id and is not rejected)."""
    on = [c for c in keys.columns if c in frame.columns]
    # keys without duplicates are many-to-one by construction: no ``validate`` pass needed
    return frame.merge(keys.drop_duplicates(on), how="left", on=on)


def _in_order(frame: pd.DataFrame, order: list[str]) -> bool:
    """True when sorting by ``order`` would keep the rows as they are, because the first
    column is strictly increasing (a key column is unique, so the others never decide)."""
    if not order or not len(frame):
        return True
    first = frame[order[0]]
    if first.dtype != object or first.isna().any():
        return False
    index = pd.Index(first, dtype=object)
    try:
        return index.is_monotonic_increasing and index.is_unique
    except TypeError:  # values that do not compare (mixed types): let the sort decide
        return False


def _attach(
    frame: pd.DataFrame,
    keys: pd.DataFrame,
    field: str,
    message: str,
    found: list[Reject],
    optional: bool = False,
) -> pd.DataFrame:
    """Rows of ``frame`` joined to the ids in ``keys`` on the columns both have (vendor +
    ``field``, ...); rows without a match are rejected as orphans (``message`` is formatted with
    the row). With ``optional``, a row whose ``field`` is missing is kept, without the ids."""
    on = [c for c in keys.columns if c in frame.columns]
    merged = frame.merge(keys.drop_duplicates(on), how="left", on=on)  # many-to-one, as above
    hit = merged[[c for c in keys.columns if c not in on]].notna().all(axis=1)
    if optional:
        hit |= merged[field].isna()
    if hit.all():  # the usual case; the merge made a new frame with a fresh index
        return merged
    for _, row in merged[~hit].iterrows():
        found.append(_reject(row, "orphan", message.format(**row.to_dict()), field))
    return merged[hit].reset_index(drop=True)


def _kept(resources: list[dict], frame: pd.DataFrame, field: str, found: list[Reject]) -> pd.Series:
    """Which rows give a new resource id. A repeat that says the same is dropped quietly (a
    wide export repeats the patient on every stay); a repeat that differs is rejected."""
    ids = [r["id"] for r in resources]
    names = _Names(resources)
    return _firsts(resources, ids, names, frame, field, found)


class _Names:
    """``Type/id`` of each resource, spelled only for the few a reject message names."""

    def __init__(self, resources: list[dict]):
        self.resources = resources

    def __getitem__(self, i: int) -> str:
        return f"{self.resources[i]['resourceType']}/{self.resources[i]['id']}"


def _firsts(
    items: list[dict],
    keys: list[str],
    names: Sequence[str] | _Names,
    frame: pd.DataFrame,
    field: str,
    found: list[Reject],
) -> pd.Series:
    """Which rows are the first of their key (see :func:`_kept`); ``names`` name the items in
    the reject message."""
    if len(items) == len(keys) == len(set(keys)):  # no key twice: every row is the first
        return pd.Series(True, index=frame.index, dtype=bool)
    first: dict[str, dict] = {}
    kept = []
    for i, (item, key) in enumerate(zip(items, keys, strict=True)):
        earlier = first.setdefault(key, item)
        kept.append(earlier is item)
        if earlier is not item and earlier != item:
            message = f"differs from an earlier row for {names[i]}; first row kept / 重复记录"
            found.append(_reject(frame.iloc[i], "duplicate", message, field))
    return pd.Series(kept, index=frame.index, dtype=bool)


def _unique(
    resources: list[dict], frame: pd.DataFrame, field: str, found: list[Reject]
) -> list[dict]:
    kept = _kept(resources, frame, field, found)
    return [r for r, keep in zip(resources, kept, strict=True) if keep]


def _reject(row: pd.Series, reason: str, message: str, field: str) -> Reject:
    def plain(name: str) -> str | None:
        value = row.get(name)
        return None if value is None or pd.isna(value) else str(value)

    return Reject(
        plain("source") or "",
        plain("locator") or "",
        reason,
        message,
        field,
        plain(field),
    )
