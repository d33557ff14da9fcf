"""A synthetic LIS export for the samples: lab results of the same patients and stays as a
vendor's HIS export, so a run shows results linking across systems.

Rows are built in canonical field names and written through the ``lis-a`` profile's column map
and value tables, like the HIS writers, so profile and sample cannot drift.
"""

from __future__ import annotations

import csv
import random
import tomllib
from datetime import timedelta
from importlib import resources
from pathlib import Path

FLAGS = {"H": "↑", "L": "↓"}


def _panels() -> list[dict]:
    text = resources.files("hutong.synthetic").joinpath("lab.toml").read_text("utf-8")
    return tomllib.loads(text)["panel"]


def lab_rows(cases: list[dict], seed: int) -> list[dict]:
    """Result rows (canonical fields) for the clean adult inpatient cases: 1–3 panels each."""
    rows: list[dict] = []
    panels = _panels()
    for case in cases:
        enc, pat = case["encounter"], case["patient"]
        if case["broken"] or enc.get("nwb_bir_wt") is not None:
            continue
        rng = random.Random(f"hutong-synthetic/{seed}/lab/{enc['mdtrt_id']}")
        for p, panel in enumerate(rng.sample(panels, rng.randint(1, len(panels)))):
            taken = enc["adm_time"] + timedelta(
                hours=rng.randint(1, 20), minutes=rng.randint(0, 59)
            )
            report_id = f"L{enc['mdtrt_id']}{p + 1:02d}"
            for i, item in enumerate(panel["items"], start=1):
                row = {
                    "report_id": report_id, "observation_id": f"{report_id}-{i:02d}",
                    "patient_id": pat["patient_id"], "mdtrt_id": enc["mdtrt_id"],
                    "name": pat["name"], "gend": pat["gend"], "brdy": pat["brdy"],
                    "order_id": f"SQ{report_id[1:]}", "panel_code": panel["code"],
                    "panel_name": panel["name"], "local_code": item["code"],
                    "local_name": item["name"], "effective_time": taken,
                    "issued_time": taken + timedelta(hours=2),
                }  # fmt: skip
                row.update(_result(rng, item))
                rows.append(row)
    return rows


def _result(rng: random.Random, item: dict) -> dict:
    if "text" in item:
        value = rng.choice(item["text"])
        return {"value_text": value, "abnormal_flag": "A" if "阳" in value else "N"}
    value = round(max(0.0, rng.gauss(item["mean"], item["sd"])), item["digits"])
    flag = "H" if value > item["high"] else "L" if value < item["low"] else "N"
    return {
        "value_num": value if item["digits"] else int(value),
        "unit": item["unit"],
        "ref_range": f"{item['low']}-{item['high']}",
        "abnormal_flag": flag,
    }


def write_lab(rows: list[dict], profile, out_dir: Path, part: str = "2024") -> Path:
    """Write ``rows`` as the profile's result file (column names from its maps)."""
    writer = LabWriter(profile, out_dir, part)
    writer.write(rows)
    return writer.close()


class LabRows:
    """The profile's result columns and local values: canonical rows → value lists."""

    def __init__(self, profile) -> None:
        self.kind = next(iter(profile.files.values()))
        self.columns: dict[str, str] = {}
        for _, group in profile.groups_for(self.kind.name):
            for field, column in group.columns.items():
                self.columns.setdefault(column, field)
        self.columns.update({"组合代码": "panel_code", "组合名称": "panel_name"})
        self.local = {
            f: {code: word for word, code in reversed(t.items())} for f, t in profile.values.items()
        }
        self.formats = (profile.datetime_formats[0], profile.date_formats[0])

    def render(self, rows: list[dict]) -> list[list[str]]:
        stamp, day = self.formats
        lines = []
        for row in rows:
            out = []
            for field in self.columns.values():
                value = row.get(field)
                if hasattr(value, "strftime"):
                    value = value.strftime(stamp if hasattr(value, "hour") else day)
                value = self.local.get(field, {}).get(value, value)
                out.append("" if value is None else str(value))
            lines.append(out)
        return lines


class LabWriter:
    """The profile's result file, opened once and appended to chunk by chunk."""

    def __init__(self, profile, out_dir: Path, part: str = "2024") -> None:
        self.rows = LabRows(profile)
        kind = self.rows.kind
        out_dir.mkdir(parents=True, exist_ok=True)
        self.path = out_dir / kind.writer["name"].replace("{part}", part)
        encoding = kind.writer.get("encoding", "utf-8")
        self.handle = self.path.open("w", encoding=encoding, newline="")
        self.writer = csv.writer(self.handle, lineterminator="\n")
        self.writer.writerow(list(self.rows.columns))

    def write(self, rows: list[dict]) -> None:
        self.append(self.rows.render(rows))

    def append(self, lines: list[list[str]]) -> None:
        self.writer.writerows(lines)

    def close(self) -> Path:
        self.handle.close()
        return self.path
