"""A run's priced findings from its parts in bounded memory: ``impact.csv`` ranked by money,
the shown cases' rows, the money per rule and the totals.

>>> files = [rank_part(read_part(p / "impact.csv"), tmp / p.name) for p in parts]  # doctest: +SKIP
>>> merged = merge_parts(files, out / "impact.csv", shown_ids)        # doctest: +SKIP

Each part's table is ranked on its own (|amount| largest first, unknown last, then case and
rule; stable) and written as ``impact.csv`` is; the parts' rows are then merged line by line
(``heapq.merge``: equal keys keep part order), which is the order of the whole table sorted at
once, so a run writes the same bytes whatever its size and memory holds one row per part. Kept
in memory: the shown cases' rows (bounded by the report's cap) and, so the run's sums are
exactly those of the whole column, each priced finding's amount, weight difference and rule
as 8 + 8 + 4 bytes.
"""

from __future__ import annotations

import csv
import heapq
import io
from array import array
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hutong.quality.impact import COLUMNS, FLOAT_FORMAT, write_impact

TEXT = {"mdtrt_id": str, "rule_id": str, "drg_before": str, "drg_after": str}
BLANK = ("fix_zh", "fix_en", "drg_before", "drg_after", "rule_id", "field")  # NaN → ""
CASE, RULE = COLUMNS.index("mdtrt_id"), COLUMNS.index("rule_id")
BEFORE, AFTER = COLUMNS.index("drg_before"), COLUMNS.index("drg_after")
DIFF, AMOUNT = COLUMNS.index("weight_diff"), COLUMNS.index("amount")


@dataclass(frozen=True)
class Merged:
    """What the run's finish needs from every priced finding."""

    shown: pd.DataFrame  # the shown cases' rows, in impact.csv's order
    rule_amounts: pd.Series  # money per rule (every priced finding)
    summary: dict[str, Any]  # findings, group_changes, weight_diff, amount


def read_part(path: Path) -> pd.DataFrame:
    """A part's impact table as written by ``qc_part``."""
    return pd.read_csv(path, encoding="utf-8-sig", dtype=TEXT)


def ranked(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows in the run's order: |amount| largest first (unknown last), case, rule; stable."""
    table = rows.reindex(columns=COLUMNS)
    for col in BLANK:
        table[col] = table[col].astype("object").where(table[col].notna(), "")
    return (
        table.assign(_m=-table["amount"].abs())
        .sort_values(["_m", "mdtrt_id", "rule_id"], kind="mergesort", na_position="last")
        .drop(columns="_m")
        .reset_index(drop=True)
    )


def ranked_as_written(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`ranked` of the table as ``impact.csv`` holds it once written (numbers to the
    four decimals written; an empty text is missing), without writing and reading it back: a
    part writes its table once, ranked. The text stays the text it is, where ``read_part``
    would read an id "NA" as missing and a fix "1" as the number 1.0."""
    table = table.reindex(columns=COLUMNS)
    written = {}
    for col in COLUMNS[7:]:
        numbers = table[col].to_numpy(dtype="float64", na_value=np.nan)
        known = ~np.isnan(numbers)
        numbers = numbers.copy()  # to the decimals written, as the CSV writer formats them
        numbers[known] = np.char.mod(FLOAT_FORMAT, numbers[known]).astype("float64")
        written[col] = numbers
    for col in COLUMNS[:7]:
        text = table[col].astype("object")
        written[col] = text.where(text.notna() & (text != ""), np.nan).to_numpy()
    return ranked(pd.DataFrame(written, columns=COLUMNS))


def rank_part(rows: pd.DataFrame, target: Path) -> Path:
    """Write a part's rows ranked (see :func:`ranked`) as ``impact.csv`` is written."""
    return write_impact(ranked(rows), target)


def _key(row: list[str]) -> tuple:
    """The order of :func:`ranked` for a written row (empty is NaN, and NaN goes last)."""
    amount, case = row[AMOUNT], row[CASE]
    return (amount == "", -abs(float(amount)) if amount else 0.0, case == "", case, row[RULE])


def _rows(path: Path, stack: ExitStack) -> Iterator[list[str]]:
    lines = stack.enter_context(path.open(encoding="utf-8-sig", newline=""))
    reader = csv.reader(lines)
    next(reader, None)  # header
    return reader


def merge_parts(files: list[Path], target: Path, shown: set) -> Merged:
    """Merge ranked part files into ``target`` (pandas writes CSV with the ``csv`` module, so
    rows read and written again keep their bytes); collect what :class:`Merged` holds."""
    amounts, diffs, rules = array("d"), array("d"), array("i")
    codes: dict[str, int] = {}
    kept: list[list[str]] = []
    changes = 0
    with ExitStack() as stack:
        streams = [_rows(f, stack) for f in files]
        with target.open("w", encoding="utf-8-sig", newline="") as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(COLUMNS)
            for row in heapq.merge(*streams, key=_key):
                writer.writerow(row)
                amounts.append(float(row[AMOUNT]) if row[AMOUNT] else np.nan)
                diffs.append(float(row[DIFF]) if row[DIFF] else np.nan)
                rules.append(codes.setdefault(row[RULE], len(codes)))
                changes += row[BEFORE] != row[AFTER]
                if row[CASE] in shown:
                    kept.append(row)
    amount = pd.Series(np.frombuffer(amounts, dtype="float64") if amounts else [], dtype="float64")
    diff = pd.Series(np.frombuffer(diffs, dtype="float64") if diffs else [], dtype="float64")
    names = pd.Series(list(codes), dtype="object")
    per_rule = amount.groupby(np.frombuffer(rules, dtype="int32") if rules else []).sum(min_count=1)
    per_rule.index = pd.Index(names.to_numpy()[per_rule.index.to_numpy(dtype=int)], name="rule_id")
    summary = {
        "findings": len(amount),
        "group_changes": changes,
        "weight_diff": round(float(diff.sum(min_count=1)), 4) if diff.notna().any() else None,
        "amount": round(float(amount.sum(min_count=1)), 2) if amount.notna().any() else None,
    }
    return Merged(_frame(kept), per_rule.sort_index(kind="mergesort"), summary)


def _frame(rows: list[list[str]]) -> pd.DataFrame:
    """Rows read back as the whole table was read (types as ``read_part`` and ``ranked``)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    text.seek(0)
    table = pd.read_csv(text, dtype=TEXT).reindex(columns=COLUMNS)
    for col in BLANK:
        table[col] = table[col].astype("object").where(table[col].notna(), "")
    return table
