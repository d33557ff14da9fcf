"""Bounded memory for any input size: spill the adapters' rows to disk, then deal them into
partitions that each hold whole patients.

A run reads every input once, batch by batch, and appends each batch's canonical rows to one
Arrow stream file per table (``spill/<table>.arrow``). Rows are then dealt into ``P``
partitions by their owning patient, so everything linking needs (a patient's stays, a stay's
diagnoses, procedures and fees, results and images) lands in the same partition, and each
partition is processed alone: peak memory follows the partition size, not the input size.

Who owns a row: its ``patient_id`` (after HL7 A40 merges); a row that names only a visit takes
the patient of the first encounter with that visit number; an image series or instance takes
the patient of its study. A row nobody owns (an orphan) is dealt by its own key and rejected
by linking as it would be in one piece. A run with no more stays than the partition size is
one partition, processed exactly as before.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from hutong.model import SCHEMAS, conform

SPILL = "spill"
PARTS = "parts"


class Spill:
    """Append-only Arrow stream files, one per canonical table."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self._writers: dict[str, pa.ipc.RecordBatchStreamWriter] = {}
        self._files: dict[str, object] = {}
        self.rows: dict[str, int] = {}

    def add(self, table: str, frame: pd.DataFrame | pa.Table) -> None:
        """Append rows (a frame, or a table already conformed to the canonical schema)."""
        if frame is None or len(frame) == 0:
            return
        batch = frame if isinstance(frame, pa.Table) else conform(table, frame)
        writer = self._writers.get(table)
        if writer is None:
            sink = pa.OSFile(str(self.folder / f"{table}.arrow"), "wb")
            self._files[table] = sink
            writer = self._writers[table] = pa.ipc.new_stream(sink, SCHEMAS[table])
        writer.write_table(batch)
        self.rows[table] = self.rows.get(table, 0) + len(frame)

    def close(self) -> None:
        for table, writer in self._writers.items():
            writer.close()
            self._files[table].close()
        self._writers.clear()


def batches(folder: Path, table: str, columns: list[str] | None = None) -> Iterator[pa.Table]:
    """The record batches of ``folder/<table>.arrow`` in write order (none when absent)."""
    path = folder / f"{table}.arrow"
    if not path.exists():
        return
    # read, not memory-mapped: a mapped file's touched pages count in the process's RSS
    # until it is closed, so a run-wide spill would look (and be accounted) as big as itself
    with pa.OSFile(str(path), "rb") as source:
        reader = pa.ipc.open_stream(source)
        for batch in reader:
            t = pa.Table.from_batches([batch])
            yield t.select(columns) if columns else t


def read_tables(folder: Path) -> dict[str, pd.DataFrame]:
    """Every table of a spill or partition folder as pandas (empty frames for absent ones)."""
    out = {}
    for table, schema in SCHEMAS.items():
        parts = list(batches(folder, table))
        data = pa.concat_tables(parts) if parts else schema.empty_table()
        out[table] = data.to_pandas()
    return out


def partition_count(stays: int, size: int) -> int:
    """How many partitions ``stays`` encounters need at ``size`` stays each (at least one)."""
    return max(1, math.ceil(stays / max(1, size)))


# Tables whose rows carry an identifier that linking compares across patients: a visit number
# two patients claim, or a result, report, order or drug sent again under the same id.
SHARED_KEYS = {
    "encounter": "mdtrt_id", "order": "order_id", "report": "report_id",
    "observation": "observation_id", "medication": "med_id", "imaging_study": "study_uid",
}  # fmt: skip


def _hash(values: pd.Series) -> np.ndarray:
    """64-bit hashes of the values (stable across runs and machines); nulls hash to 0."""
    missing = values.isna().to_numpy()
    out = pd.util.hash_array(values.to_numpy(dtype=object, na_value=""))
    out[missing] = 0
    return out


def _replace(values: np.ndarray, mapping: dict[int, int]) -> np.ndarray:
    """``values`` (uint64) with each key of ``mapping`` replaced by its value, exactly (a
    pandas map would pass through float64 and lose the low bits of a 64-bit hash)."""
    keys = np.fromiter(mapping.keys(), dtype="uint64", count=len(mapping))
    order = np.argsort(keys)
    keys = keys[order]
    targets = np.fromiter(mapping.values(), dtype="uint64", count=len(mapping))[order]
    at = np.minimum(np.searchsorted(keys, values), len(keys) - 1)
    hit = keys[at] == values
    return np.where(hit, targets[at], values).astype("uint64")


class Owners:
    """Who owns a row, as a 64-bit patient hash: merges (merged id → surviving id) applied;
    a visit or a study belongs to the patient of its first row; patients that share a visit
    number or a result/report/order/drug id are joined (their rows must meet in one
    partition for linking to decide as it would in one piece)."""

    def __init__(self, spill: Path) -> None:
        into: dict[str, str] = {}
        for t in batches(spill, "patient_link", ["merged_id", "patient_id"]):
            into.update(zip(t["merged_id"].to_pylist(), t["patient_id"].to_pylist(), strict=True))
        self.final = {m: self._follow(m, into) for m in into}
        self.visit = self._first(spill, "encounter", "mdtrt_id")
        self.study = self._first(spill, "imaging_study", "study_uid")
        self.root = self._joined(spill)

    @staticmethod
    def _follow(pid: str, into: dict[str, str]) -> str:
        seen = set()
        while pid in into and pid not in seen:
            seen.add(pid)
            pid = into[pid]
        return pid

    def patient(self, pid: pd.Series) -> np.ndarray:
        """Hashes of the (merged) patient ids; 0 for none."""
        if self.final:
            pid = pid.map(self.final).fillna(pid)  # merged ids to the surviving one
        return _hash(pid)

    def _pairs(self, spill: Path, table: str, key: str) -> pd.DataFrame:
        parts = []
        for t in batches(spill, table, [key, "patient_id"]):
            frame = t.to_pandas()
            pid = self.patient(frame["patient_id"])
            pair = pd.DataFrame({"key": _hash(frame[key]), "pid": pid})
            parts.append(pair[(pair["key"] != 0) & (pair["pid"] != 0)].drop_duplicates())
        if not parts:
            return pd.DataFrame({"key": np.array([], "uint64"), "pid": np.array([], "uint64")})
        return pd.concat(parts, ignore_index=True)

    def _first(self, spill: Path, table: str, key: str) -> pd.Series:
        """key hash → patient hash of the first row with that key."""
        pairs = self._pairs(spill, table, key).drop_duplicates("key", keep="first")
        return pd.Series(pairs["pid"].to_numpy(), index=pairs["key"].to_numpy())

    def _joined(self, spill: Path) -> dict[int, int]:
        """Patient hash → the smallest hash of the patients it shares an identifier with."""
        parent: dict[int, int] = {}

        def find(x: int) -> int:
            while parent.get(x, x) != x:
                x = parent[x]
            return x

        for table, key in SHARED_KEYS.items():
            pairs = self._pairs(spill, table, key).drop_duplicates()
            shared = pairs[pairs.duplicated("key", keep=False)]
            for _, group in shared.groupby("key", sort=True):
                ids = sorted(int(p) for p in group["pid"])
                for other in ids[1:]:
                    a, b = find(ids[0]), find(other)
                    if a != b:
                        parent[max(a, b)] = min(a, b)
        return {x: find(x) for x in parent}

    def keys(self, table: str, frame: pd.DataFrame) -> np.ndarray:
        """The dealing key of each row: its owning patient's hash, else its own id's hash."""
        n = len(frame)
        pid = self.patient(frame["patient_id"]) if "patient_id" in frame else np.zeros(n, "uint64")
        if "mdtrt_id" in frame:
            by_visit = (
                pd.Series(_hash(frame["mdtrt_id"])).map(self.visit).fillna(0).to_numpy("uint64")
            )
            # an encounter goes with the first patient its visit number was seen with
            pid = (
                np.where(by_visit != 0, by_visit, pid)
                if table == "encounter"
                else np.where(pid != 0, pid, by_visit)
            )
        if "study_uid" in frame and table in ("imaging_series", "imaging_instance"):
            by_study = (
                pd.Series(_hash(frame["study_uid"])).map(self.study).fillna(0).to_numpy("uint64")
            )
            pid = np.where(pid != 0, pid, by_study)
        if self.root:
            pid = _replace(pid, self.root)
        for own in ("mdtrt_id", "study_uid", "series_uid", "order_id", "report_id"):
            if own in frame:
                pid = np.where(pid != 0, pid, _hash(frame[own]))
        return pid


# The columns Owners.keys reads.
DEALING_COLUMNS = ("patient_id", "mdtrt_id", "study_uid", "series_uid", "order_id", "report_id")


def deal(spill: Path, target: Path, count: int) -> list[Path]:
    """Deal every spilled row into ``count`` partition folders ``target/p00000`` ...; returns
    the folders in order. Rows keep their spill order within a partition."""
    owners = Owners(spill)
    folders = [target / f"p{i:05d}" for i in range(count)]
    sinks = [Spill(f) for f in folders]
    for table in SCHEMAS:
        for data in batches(spill, table):
            # rows stay Arrow (already canonical): only the columns that decide the owner
            # go through pandas
            owned = data.select([c for c in DEALING_COLUMNS if c in data.column_names])
            part = owners.keys(table, owned.to_pandas()) % np.uint64(count)
            # one stable sort and a slice per partition, not a filter per partition: the
            # rows of each partition keep their spill order either way
            order = np.argsort(part, kind="stable")
            ordered = data.take(pa.array(order))
            ends = np.searchsorted(part[order], np.arange(count + 1, dtype="uint64"))
            for i in np.flatnonzero(np.diff(ends)).tolist():
                sinks[i].add(table, ordered.slice(ends[i], ends[i + 1] - ends[i]))
    for sink in sinks:
        sink.close()
    return folders
