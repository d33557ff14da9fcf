"""Write a grouping: ``groups.csv`` (one row per case; its weight last when weights were given)
and ``trace.ndjson`` (the steps of each)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

COLUMNS = ["mdtrt_id", "mdc", "adrg", "drg", "cc_status", "reason"]


def write_groups(groups: pd.DataFrame, folder: Path) -> dict[str, int]:
    """Write the two files into ``folder``; returns cases per DRG status for the manifest."""
    folder.mkdir(parents=True, exist_ok=True)
    ordered = groups.sort_values("mdtrt_id", kind="mergesort")
    columns = COLUMNS + (["weight"] if "weight" in ordered else [])  # when weights were given
    ordered[columns].to_csv(
        folder / "groups.csv", index=False, encoding="utf-8-sig", lineterminator="\n",
        float_format="%.4f",
    )  # fmt: skip
    encode = json.JSONEncoder(ensure_ascii=False).encode  # as json.dumps, made once
    traces: dict[tuple, str] = {}  # many cases share a trace: each one encoded once
    columns = (ordered[c].tolist() for c in ("mdtrt_id", "drg", "trace"))
    with (folder / "trace.ndjson").open("w", encoding="utf-8", newline="\n") as out:
        for mdtrt_id, drg, trace in zip(*columns, strict=True):
            steps = tuple(trace)
            text = traces.get(steps)
            if text is None:
                text = traces[steps] = encode(list(steps))
            # what encode({"mdtrt_id": ..., "drg": ..., "trace": [...]}) writes, piece by piece
            head = f'{{"mdtrt_id": {encode(mdtrt_id)}, "drg": {encode(drg)}, "trace": '
            out.write(f"{head}{text}}}\n")
    grouped = int((ordered["drg"] != "0000").sum())
    return {"cases": len(ordered), "grouped": grouped, "ungroupable": len(ordered) - grouped}
