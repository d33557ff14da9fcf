"""The cases a QC run shows (report, worklist, impact rows) and their rows, read from its parts.

>>> top = None
>>> for part in parts:                                                    # doctest: +SKIP
...     top = first_cases(pd.read_parquet(part / PER_CASE), top, 20_000, 50_000)
>>> ids = set(top["mdtrt_id"])                                            # doctest: +SKIP
>>> findings = read_shown([p / "findings.csv" for p in parts], ids)       # doctest: +SKIP

A run can hold millions of cases; the report and worklist show the first few thousand. So the
finish ranks the cases part by part (each part hands over its per-case sums, see
:func:`prepare_finish`) and then picks only those cases' rows out of the parts' files: memory
follows the caps and the part size, not the run's size. The shown cases are the same however
the run is partitioned (see :func:`first_cases`).
"""

from __future__ import annotations

import csv
import io
import json
import re
from itertools import compress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hutong.mapping.facesheet import NODES
from hutong.model import is_in

if TYPE_CHECKING:
    from hutong.mapping.facesheet import FaceSheet

TRACE_ID = re.compile(r'\n\{"mdtrt_id": "([^"\\\n]*)"')  # a trace line's case, unescaped
SCORE = ["mdtrt_id", "score"]  # what the finish reads of scores.csv
UNSHOWN_NODES = ("iteminfo",)  # face-sheet nodes neither the worklist nor the report shows
RANK = ["money", "errors", "findings", "mdtrt_id"]  # most money, errors, findings first; by id
ASCENDING = [False, False, False, True]  # of each :data:`RANK` column
PER_CASE = "qc-per-case.parquet"  # a part's cases with findings: errors, findings, money
TALLY = "tally"  # the key of a part's findings tally in its counts
NEXT = "next"  # the key, in the first cases' ``attrs``, of the first case left out


def prepare_finish(
    folder: Path, counts: dict[str, Any], findings: pd.DataFrame, priced: pd.DataFrame | None
) -> None:
    """What the run's finish needs of a part, made by the part (parts run in parallel, the
    finish in one process): the findings' tally (into ``counts``) and each case's errors,
    findings and money at stake (:data:`PER_CASE`). ``findings`` are those the part wrote, taken
    as the finish would read them (:func:`light_of`); ``priced`` is the part's impact table as
    it wrote it, ranked as the run's is (:func:`~hutong.quality.priced.ranked_as_written`), or
    None without a DRG pack."""
    from hutong.quality.tally import tally

    light = light_of(findings)
    counts[TALLY] = tally(light).to_dict()
    per_case(light, priced).to_parquet(folder / PER_CASE, index=False)


def per_case(findings: pd.DataFrame, impact: pd.DataFrame | None) -> pd.DataFrame:
    """Per case with findings: its errors, findings and money at stake (sum of |amount|)."""
    per_case = (
        findings.assign(error=findings["severity"] == "error")
        .groupby("mdtrt_id")
        .agg(errors=("error", "sum"), findings=("rule_id", "size"))
    )
    money = pd.Series(0.0, index=per_case.index)
    if impact is not None and len(impact):
        amount = pd.to_numeric(impact["amount"], errors="coerce").abs()
        money = amount.groupby(impact["mdtrt_id"]).sum().reindex(per_case.index).fillna(0.0)
    return per_case.assign(money=money).reset_index()


def first_cases(
    per_case: pd.DataFrame, top: pd.DataFrame | None, cases: int, findings: int
) -> pd.DataFrame:
    """The first cases of ``per_case`` and of ``top`` (what this gave for the parts before):
    at most ``cases`` cases whose findings add up to at most ``findings`` (the first case
    always), in :data:`RANK` order.

    Why the parts give what one sort of all cases gives: a case is whole in one part and ids
    are unique, so the order is total and the shown cases are a prefix of it, ended by the
    first case that breaks a cap. That case, left out, goes along in ``attrs[NEXT]`` and is
    ranked with the next part's cases, so a later case ranked after it stays out however
    small; the cases dropped before rank after it and stay out for good."""
    frames = [per_case]
    if top is not None:
        after = top.attrs.get(NEXT, [])
        stopper = [pd.DataFrame(after, columns=top.columns).astype(top.dtypes.to_dict())]
        frames = [top, *(stopper if after else []), per_case]
    both = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    ranked = both.sort_values(RANK, ascending=ASCENDING, kind="mergesort")
    count = _within(ranked["findings"].to_numpy(), cases, findings)
    shown = ranked.iloc[:count].reset_index(drop=True)
    shown.attrs = {NEXT: ranked.iloc[count : count + 1].to_dict("records")}
    return shown


def _within(findings: np.ndarray, cases: int, budget: int) -> int:
    """How many of the ranked cases fit the caps: the first ``cases`` while their findings add
    up to at most ``budget``, the first case always (when ``cases`` lets one in)."""
    position = np.arange(len(findings))
    fits = (position < cases) & ((np.cumsum(findings) <= budget) | (position == 0))
    return len(fits) if fits.all() else int(fits.argmin())


LIGHT = {"mdtrt_id": "str", "rule_id": "category", "severity": "category"}  # read_light's


def light_of(findings: pd.DataFrame) -> pd.DataFrame:
    """:func:`read_light` of findings as ``findings.csv`` holds them once written, without
    reading the file back (an empty id is missing, as it reads back; an id "NA" stays "NA")."""
    light = findings[list(LIGHT)].astype("str").astype(LIGHT)  # text as read_csv makes it
    ids = light["mdtrt_id"]
    return light.assign(mdtrt_id=ids.where(ids != "")).reset_index(drop=True)


def read_light(path: Path) -> pd.DataFrame:
    """Case, rule and severity of every finding (categories: small for millions of rows)."""
    frame = pd.read_csv(path, encoding="utf-8-sig", usecols=list(LIGHT), dtype=LIGHT)
    return frame[list(LIGHT)]


def read_shown(paths: list[Path], ids: set) -> pd.DataFrame:
    """The findings of the shown cases, read part by part."""
    parts = [shown_csv(p, ids, dtype=str, keep_default_na=False) for p in paths]
    return pd.concat(parts, ignore_index=True).replace({"": None})


def shown_csv(path: Path, ids: set, **read: Any) -> pd.DataFrame:
    """The rows of the cases ``ids`` in a part's CSV file, as ``pd.read_csv`` with ``read``
    reads them: the rows are picked with the csv module and only those are parsed (pandas
    writes CSV with the csv module, so rows read and written again keep their bytes)."""
    kept = io.StringIO()
    with path.open(encoding="utf-8-sig", newline="") as lines:
        reader = csv.reader(lines)
        header = next(reader, None)
        if header is None or "mdtrt_id" not in header:  # nothing to pick by: read it all
            return shown_rows(pd.read_csv(path, encoding="utf-8-sig", **read), ids)
        at = header.index("mdtrt_id")
        writer = csv.writer(kept, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(row for row in reader if len(row) > at and row[at] in ids)
    kept.seek(0)
    return shown_rows(pd.read_csv(kept, **read), ids)  # again: a picked "NA" may be read as NaN


def shown_rows(frame: pd.DataFrame, ids: set) -> pd.DataFrame:
    """The rows of ``frame`` whose case is one of ``ids``."""
    return frame[is_in(frame["mdtrt_id"], ids).to_numpy(dtype=bool)]


def write_cases(sheet: FaceSheet, ids: set, folder: Path) -> None:
    """What the finish reads of the cases ``ids`` (see :func:`read_cases`) as Parquet, types
    kept: their shown settlement fields and their diagnosis and procedure rows; of a node
    nothing shows, no rows (its columns, for the finish's empty frame). All 81 settlement
    fields and the fee rows of half the cases cost a part's writer 3 % of its time."""
    from hutong.quality.report import SHOWN_SETL

    folder.mkdir(parents=True, exist_ok=True)
    for node in NODES:
        frame = sheet.node(node)
        if node == "setlinfo":
            frame = frame[[c for c in SHOWN_SETL if c in frame.columns]]
        if node in UNSHOWN_NODES:
            part = frame.iloc[0:0]
        else:
            part = shown_rows(frame, ids) if len(frame) else frame
        part.reset_index(drop=True).to_parquet(folder / f"{node}.parquet", index=False)


def read_cases(folders: list[Path], ids: set) -> FaceSheet:
    """What the worklist and the report show of the cases ``ids``, from the parts' case
    files: the settlement fields they show (:data:`~hutong.quality.report.SHOWN_SETL`), the
    diagnosis and procedure rows, no item rows."""
    from hutong.mapping.facesheet import FaceSheet
    from hutong.quality.report import SHOWN_SETL

    nodes = {}
    for node in NODES:
        columns = SHOWN_SETL if node == "setlinfo" else None
        if node in UNSHOWN_NODES or not ids:
            frame = pd.read_parquet(folders[0] / f"{node}.parquet", columns=columns)
            nodes[node] = frame.iloc[0:0]
            continue
        frames = [_parquet_rows(f / f"{node}.parquet", ids, columns) for f in folders]
        nodes[node] = pd.concat(frames, ignore_index=True)
    return FaceSheet(**nodes)


def _parquet_rows(path: Path, ids: set, columns: list[str] | None) -> pd.DataFrame:
    """The rows of the cases ``ids`` in a part's case file, filtered before they become a
    frame (a part holds thousands of cases, the report shows a few of them)."""
    import pyarrow as pa

    try:
        return pd.read_parquet(path, columns=columns, filters=[("mdtrt_id", "in", ids)])
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        frame = pd.read_parquet(path, columns=columns)  # e.g. ids that are not text
        return shown_rows(frame, ids).reset_index(drop=True)


def read_scores(paths: list[Path], ids: set) -> tuple[pd.DataFrame, pd.Series]:
    """The shown cases' scores, and every case's score (4 bytes a case), part by part (the
    score only: the report shows no sub-scores)."""
    shown, every = [], []
    for path in paths:
        part = pd.read_csv(path, encoding="utf-8-sig", dtype={"mdtrt_id": str}, usecols=SCORE)
        every.append(part["score"].astype("float32"))
        shown.append(shown_rows(part, ids))
        del part
    scores = pd.concat(shown, ignore_index=True) if shown else pd.DataFrame()
    return scores, (pd.concat(every, ignore_index=True) if every else pd.Series(dtype="float32"))


def read_groups(parts: list[Path], ids: set) -> pd.DataFrame:
    """The shown cases' groups (groups.csv) with their grouping traces (trace.ndjson)."""
    groups = pd.concat(
        [shown_csv(p / "groups.csv", ids, dtype=str) for p in parts], ignore_index=True
    )
    if "weight" in groups:
        groups["weight"] = pd.to_numeric(groups["weight"])
    traces: dict[str, Any] = {}
    for part in parts:
        shown_traces(part / "trace.ndjson", ids, traces)
    groups["trace"] = [traces.get(i, []) for i in groups["mdtrt_id"]]
    return groups


def shown_traces(path: Path, ids: set, traces: dict[str, Any]) -> None:
    """Add the traces of the cases ``ids`` in a part's trace.ndjson to ``traces``. The part
    has a line per case and the report shows a few: the lines are picked by their case id,
    found by :data:`TRACE_ID`, and only those are parsed (every line when some line's id is
    not found so, e.g. an escaped one)."""
    if not path.exists():
        return
    text = path.read_text("utf-8")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    found = TRACE_ID.findall("\n" + text)  # one id a line, in order, when every line has one
    if len(found) == len(lines):
        lines = list(compress(lines, map(ids.__contains__, found)))
    for line in lines:
        doc = json.loads(line)
        if doc["mdtrt_id"] in ids:
            traces[doc["mdtrt_id"]] = doc["trace"]
