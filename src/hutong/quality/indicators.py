"""The 2016 face-sheet quality indicators (国卫办医发〔2016〕24号), as far as a sheet can give them.

>>> table = indicators(sheet, findings)                      # doctest: +SKIP
>>> write_indicators(table, out / "indicators.csv")          # doctest: +SKIP

Which rules feed which indicator, and how each is counted, is data (``data/indicators.toml``).
Several indicators need a chart review to be exact; those rows are proxies and their note says
so. The upload rate needs numbers a face sheet does not hold, so it is listed as not computable.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from fnmatch import fnmatchcase
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hutong.mapping.facesheet import FaceSheet
from hutong.model import is_in
from hutong.quality.coding import main_rows, western
from hutong.quality.kinds import blank, texts
from hutong.quality.pack import load_pack
from hutong.quality.score import ScoreTable, finding_code, load_score_table, score_cases

COLUMNS = ["indicator", "name_zh", "name_en", "numerator", "denominator", "rate", "note"]
METHODS = ("completeness", "dx_code", "op_code", "case", "excellent", "none")


@cache
def _builtin() -> tuple[dict[str, Any], ...]:
    text = resources.files("hutong.quality").joinpath("data", "indicators.toml").read_text("utf-8")
    return tuple(parse_indicators(text, "indicators.toml"))


def parse_indicators(text: str, origin: str = "<indicators>") -> list[dict[str, Any]]:
    """The ``[[indicator]]`` entries of a TOML text, each checked for a known method."""
    entries = tomllib.loads(text).get("indicator", [])
    for entry in entries:
        for key in ("id", "name_zh", "name_en", "method"):
            if not isinstance(entry.get(key), str):
                raise ValueError(f"{origin}: indicator needs a text {key!r}: {entry}")
        if entry["method"] not in METHODS:
            raise ValueError(f"{origin}: indicator {entry['id']}: unknown method {entry['method']}")
    return entries


def _matches(rule_ids: pd.Series, patterns: Iterable[str]) -> np.ndarray:
    patterns = list(patterns)
    seen = [r for r in rule_ids.dropna().unique() if any(fnmatchcase(r, p) for p in patterns)]
    return is_in(rule_ids, seen).to_numpy(dtype=bool)


def _required_fields(spec: dict[str, Any]) -> list[str]:
    rule_id = spec.get("required_rule")
    if not rule_id:
        return list(spec.get("fields", []))
    return list(load_pack("nhsa-settlement").rule(rule_id).fields)


def _completeness(sheet: FaceSheet, spec: dict[str, Any]) -> tuple[float, float]:
    setl = sheet.setlinfo
    fields = [f for f in _required_fields(spec) if f in setl.columns]
    filled = sum(int((~blank(setl[f])).sum()) for f in fields)
    total = len(setl) * len(fields)
    for node, names in spec.get("rows", {}).items():
        frame = sheet.node(node)
        if node == "diseinfo":
            frame = western(frame)
        for f in names:
            filled += int((~blank(frame[f])).sum())
            total += len(frame)
    return filled, total


def _row_codes(frame: pd.DataFrame, code: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "mdtrt_id": frame["mdtrt_id"].astype("string"),
            "code": frame[code].astype("string").str.strip().str.replace("†", "+", regex=False),
        }
    )


def _code_rows(rows: pd.DataFrame, findings: pd.DataFrame, codes: pd.Series) -> tuple[float, float]:
    """Rows whose code is filled and shows in no finding of the case (numerator, denominator);
    ``codes`` are the findings' codes (:func:`finding_code`)."""
    codes = codes.astype(str)
    bad = set(zip(findings["mdtrt_id"].astype(str), codes, strict=True))
    ok = [
        not pd.isna(c) and c != "" and (str(i), str(c)) not in bad
        for i, c in zip(rows["mdtrt_id"].tolist(), texts(rows["code"]), strict=True)
    ]
    return sum(ok), len(rows)


def _dx_code(sheet: FaceSheet, found: pd.DataFrame, which: str, codes) -> tuple[float, float]:
    rows = western(sheet.diseinfo)
    main = main_rows(sheet.diseinfo)
    rows = main if which == "main" else rows.drop(index=main.index)
    return _code_rows(_row_codes(rows, "diag_code"), found, codes)


def _case(sheet: FaceSheet, found: pd.DataFrame, scope: str) -> tuple[float, float]:
    ids = sheet.setlinfo["mdtrt_id"].dropna().astype(str).drop_duplicates()
    if scope == "with_procedures":
        ids = ids[is_in(ids, set(sheet.oprninfo["mdtrt_id"].dropna().astype(str)))]
    hit = set(found["mdtrt_id"].dropna().astype(str))
    return int((~is_in(ids, hit)).sum()), len(ids)


def indicators(
    sheet: FaceSheet,
    findings: pd.DataFrame,
    scores: pd.DataFrame | None = None,
    spec: Iterable[dict[str, Any]] | Path | str | None = None,
    table: ScoreTable | None = None,
) -> pd.DataFrame:
    """One row per 2016 indicator: ``indicator, name_zh, name_en, numerator, denominator, rate,
    note`` (rate = numerator / denominator, NaN when the denominator is 0 or not computable).

    ``scores`` are :func:`~hutong.quality.score.score_cases` results (computed with ``table`` when
    not given); ``spec`` replaces the built-in ``data/indicators.toml`` (a path or parsed
    entries).
    """
    if spec is None:
        entries = list(_builtin())
    elif isinstance(spec, (str, Path)):
        entries = parse_indicators(Path(spec).read_text("utf-8"), str(spec))
    else:
        entries = list(spec)
    rows = []
    every: pd.Series | None = None  # the findings' codes, read once (a finding at a time)
    for entry in entries:
        method = entry["method"]
        chosen = _matches(findings["rule_id"], entry.get("rules", []))
        found = findings[chosen]
        if method in ("dx_code", "op_code"):
            every = finding_code(findings) if every is None else every
            codes = every[chosen]
        num: float = np.nan
        den: float = np.nan
        if method == "completeness":
            num, den = _completeness(sheet, entry)
        elif method == "dx_code":
            num, den = _dx_code(sheet, found, entry.get("which", "main"), codes)
        elif method == "op_code":
            num, den = _code_rows(_row_codes(sheet.oprninfo, "oprn_oprt_code"), found, codes)
        elif method == "case":
            num, den = _case(sheet, found, entry.get("scope", "all"))
        elif method == "excellent":
            table = table or load_score_table()
            if scores is None:
                scores = score_cases(sheet, findings, table)
            threshold = float(entry.get("threshold", table.excellent))
            num, den = int((scores["score"] >= threshold).sum()), len(scores)
        rate = num / den if den and not pd.isna(den) else np.nan
        note = " / ".join(n for n in (entry.get("note_zh", ""), entry.get("note_en", "")) if n)
        if method == "excellent":
            note = f"阈值 / threshold {threshold:g}; " + note
        rows.append([entry["id"], entry["name_zh"], entry["name_en"], num, den, rate, note])
    out = pd.DataFrame(rows, columns=COLUMNS)
    out["numerator"] = out["numerator"].astype("Float64")
    out["denominator"] = out["denominator"].astype("Float64")
    out["rate"] = out["rate"].astype("Float64").round(6)
    return out


def write_indicators(table: pd.DataFrame, path: Path | str) -> Path:
    """Write ``indicators.csv`` (UTF-8 with BOM, ``\\n`` line ends; empty cells when not
    computable)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table[COLUMNS].to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\n")
    return path
