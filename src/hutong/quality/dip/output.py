"""Write a DIP grouping: ``dip.csv`` (one row per case) and ``dip_trace.ndjson`` (its steps)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from hutong.quality.dip.grouper import COLUMNS, UNGROUPABLE

CSV_COLUMNS = [c for c in COLUMNS if c != "trace"]
DECIMALS = {"base_score": 4, "score": 4, "adjusted_score": 4, "cost": 2, "payment": 2}


def _text(frame: pd.DataFrame) -> pd.DataFrame:
    """Numbers as written: scores to 4 decimals, money to 0.01, empty when absent."""
    out = frame[CSV_COLUMNS].copy()
    for col, places in DECIMALS.items():
        out[col] = [
            "" if x is None or math.isnan(x) else f"{x:.{places}f}" for x in frame[col].tolist()
        ]
    return out


def write_dip(frame: pd.DataFrame, folder: Path) -> dict:
    """Write both files into ``folder``; returns counts (and the payment total) for a manifest."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ordered = frame.sort_values("mdtrt_id", kind="mergesort")
    _text(ordered).to_csv(
        folder / "dip.csv", index=False, encoding="utf-8-sig", lineterminator="\n"
    )
    with (folder / "dip_trace.ndjson").open("w", encoding="utf-8", newline="\n") as out:
        for mdtrt_id, code, trace in zip(
            ordered["mdtrt_id"], ordered["dip_code"], ordered["trace"], strict=True
        ):
            doc = {"mdtrt_id": mdtrt_id, "dip_code": code, "trace": list(trace)}
            out.write(json.dumps(doc, ensure_ascii=False) + "\n")
    kinds = ordered["kind"].value_counts()
    outliers = ordered["outlier"].value_counts()
    payment = ordered["payment"].sum(min_count=1)
    return {
        "cases": len(ordered),
        "core": int(kinds.get("core", 0)),
        "integrated": int(kinds.get("integrated", 0)),
        "ungroupable": int(kinds.get(UNGROUPABLE, 0)),
        "high_outliers": int(outliers.get("high", 0)),
        "low_outliers": int(outliers.get("low", 0)),
        "payment_total": None if pd.isna(payment) else round(float(payment), 2),
    }
