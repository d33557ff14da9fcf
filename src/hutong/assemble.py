"""The run's outputs from its partitions' parts, in partition order.

Per-case files are concatenated as the parts finish (CSV parts keep one header; see
:class:`Appender`), bundles renumbered; the QC job finishes over its parts; the coders' queue
and the counts are summed; rejects are sorted. A run of one partition gives exactly what
processing it whole gives.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd

from hutong.concat import append_file, open_target

NODES = ("setlinfo", "diseinfo", "oprninfo", "iteminfo")
QUEUE_KEY = ["table", "target_system", "local_code", "local_name"]


FACESHEET_FILES = (*(f"{n}.csv" for n in NODES), "4101.ndjson")


class Appender:
    """The run's concatenated outputs, appended part by part as the partitions finish.

    ``files`` maps a folder of each part to the names concatenated from it into the same
    folder of ``out`` (``None``: whatever ``*.ndjson`` the part has, the FHIR types). Parts are
    taken in order only, each once its ``done`` marker exists, so the bytes are those
    :func:`~hutong.quality.job.concat_files` gives at the end; the copy (gigabytes at a million
    cases) happens while later partitions are still processing, not after the last one."""

    def __init__(self, parts: list[Path], out: Path, files: dict[str, tuple[str, ...] | None]):
        self.parts, self.out, self.files = parts, out, files
        self.taken = 0  # parts appended
        self._open: dict[Path, BinaryIO] = {}

    def catch_up(self) -> None:
        """Append every finished part that follows the ones already appended."""
        from hutong.stages import DONE

        while self.taken < len(self.parts) and (self.parts[self.taken] / DONE).exists():
            self._append(self.parts[self.taken])
            self.taken += 1

    def close(self) -> None:
        """Append the rest (every part must be done) and close; a named file no part had is
        written empty, as concat_files writes it."""
        self.catch_up()
        if self.taken < len(self.parts):
            raise RuntimeError(f"partition {self.parts[self.taken]} is not done")
        for folder, names in self.files.items():
            for name in names or ():
                target = self.out / folder / name
                if target not in self._open:
                    self._open[target] = open_target(target)
        for handle in self._open.values():
            handle.close()

    def _append(self, part: Path) -> None:
        for folder, names in self.files.items():
            source = part / folder
            found = names or tuple(sorted(f.name for f in source.glob("*.ndjson")))
            for name in found:
                path = source / name
                if not path.exists():
                    continue
                target = self.out / folder / name
                out = self._open.get(target)
                first = out is None
                if out is None:
                    out = self._open[target] = open_target(target)
                # a CSV part's BOM + header: the first part's only
                append_file(path, out, skip_header=not first and target.suffix == ".csv")


def fhir(parts: list[Path], out: Path) -> dict[str, int]:
    """The resources of each type the parts wrote (the :class:`Appender` concatenated them);
    a stale type file of an earlier run into the same folder is removed."""
    from hutong.mapping.fhir.ndjson import TYPES

    out.mkdir(parents=True, exist_ok=True)
    kinds = sorted({f.stem for p in parts for f in (p / "fhir").glob("*.ndjson")})
    for kind in set(TYPES) - set(kinds):
        (out / f"{kind}.ndjson").unlink(missing_ok=True)
    counts: Counter = Counter()
    for p in parts:
        counts.update(json.loads((p / "counts.json").read_text("utf-8"))["fhir"])
    return {k: counts[k] for k in kinds}


def bundles(parts: list[Path], out: Path) -> None:
    """The parts' transaction Bundles, numbered on across parts."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    number = 0
    for p in parts:
        for path in sorted((p / "bundles").glob("bundle-*.json")):
            number += 1
            shutil.copyfile(path, out / f"bundle-{number:04d}.json")


def queue(parts: list[Path]) -> pd.DataFrame:
    """The coders' queue of the run: each unmapped local term once, its counts summed (the
    matcher's best candidates are added once per term by ``coding.with_best``)."""
    frames = [
        pd.read_csv(p / "unmapped.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
        for p in parts
    ]
    frame = pd.concat(frames, ignore_index=True)
    if len(parts) == 1 or frame.empty:
        return frame
    frame["count"] = frame["count"].astype(int)
    merged = frame.groupby(QUEUE_KEY, sort=False).agg(
        count=("count", "sum"), example=("example", "min"), vendor=("vendor", "min"),
    )  # fmt: skip
    merged = merged.reset_index().reindex(columns=frames[0].columns)
    return merged.sort_values(
        ["table", "count", "local_code", "local_name"],
        ascending=[True, False, True, True],
        kind="mergesort",
    ).reset_index(drop=True)


def parquet(parts: list[Path], out: Path) -> None:
    """OUT/parquet/{tables,facesheet}/<name>/part-NNNNN.parquet: one file per partition."""
    if out.exists():
        shutil.rmtree(out)
    for i, p in enumerate(parts):
        for path in sorted((p / "parquet").glob("*/*/part.parquet")):
            target = out / path.parent.parent.name / path.parent.name
            target.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target / f"part-{i:05d}.parquet")


def counts(parts: list[Path]) -> dict[str, Any]:
    """The parts' counts summed: tables, face-sheet nodes, coding statuses, linking notes;
    FHIR errors and dropped rows listed; the de-identification report summed."""
    docs = [json.loads((p / "counts.json").read_text("utf-8")) for p in parts]
    out: dict[str, Any] = {
        "tables": _sum(d["tables"] for d in docs),
        "facesheet": {n: sum(d["facesheet"][n] for d in docs) for n in NODES},
        "linking": _sum(d["linking"] for d in docs),
        "coding": {t: _sum(d["coding"][t] for d in docs) for t in ("diagnosis", "procedure")},
        "fhir_errors": [e for d in docs for e in d["fhir_errors"]],
        "fhir_validated": docs[0]["fhir_validated"] if docs else "none",
        "dropped": [x for d in docs for x in d["dropped"]],
    }
    if docs and "deid" in docs[0]:
        out["deid"] = _deid([d["deid"] for d in docs])
    return out


def kanon(parts: list[Path], k: int) -> dict:
    from hutong.mapping.deid_kanon import QUASI_IDENTIFIERS, k_report

    frames = [pd.read_csv(p / "kanon.csv", dtype=str, keep_default_na=False) for p in parts]
    frame = pd.concat(frames, ignore_index=True)
    frame["size"] = frame["size"].astype(int)
    sizes = frame.set_index(list(QUASI_IDENTIFIERS))["size"]
    return k_report(sizes, k)


def _sum(dicts) -> dict:
    total: Counter = Counter()
    for d in dicts:
        total.update(d)
    return dict(sorted(total.items())) if total else {}


def _deid(reports: list[dict]) -> dict:
    """Reports of several partitions as one: numbers add, nested counts add, text kept."""
    out: dict[str, Any] = {}
    for report in reports:
        for key, value in report.items():
            if isinstance(value, bool) or not isinstance(value, (int, float, dict)):
                out.setdefault(key, value)
            elif isinstance(value, dict):
                merged = out.setdefault(key, {})
                for k, v in value.items():
                    merged[k] = merged.get(k, 0) + v if isinstance(v, (int, float)) else v
            else:
                out[key] = out.get(key, 0) + value
    return out
