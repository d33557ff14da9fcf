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

from hutong.adapters.batch import IPC_WRITE, Spilled
from hutong.linking import surviving
from hutong.model import SCHEMAS, conform
from hutong.parallel import ordered_map

SPILL = "spill"
PARTS = "parts"


# The deal appends a small slice to every partition's file for each spilled batch: unbuffered,
# each slice was a write per column buffer (millions of system calls at 1M cases, half the
# deal's time).
_BUFFER = 1 << 16  # per open file: 64 KiB x partitions x tables stays small
_DEAL_BATCH = 1 << 20  # bytes of a partition's rows the deal holds before writing them


class Spill:
    """Append-only Arrow files, one per canonical table: Arrow IPC streams one after another
    (a table added is written into the open stream; a :class:`Spilled` one, a stream already,
    is appended as it is and the next table added opens a new stream)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self._writers: dict[str, pa.ipc.RecordBatchStreamWriter] = {}
        self._files: dict[str, pa.NativeFile] = {}
        self.rows: dict[str, int] = {}

    def add(self, table: str, frame: pd.DataFrame | pa.Table | Spilled) -> None:
        """Append rows (a frame, or a table already conformed to the canonical schema, or the
        stream of one)."""
        if frame is None or len(frame) == 0:
            return
        if isinstance(frame, Spilled):
            writer = self._writers.pop(table, None)
            if writer is not None:
                writer.close()  # its stream ends: the bytes are one of their own
            self._sink(table).write(frame.data)
        else:
            batch = frame if isinstance(frame, pa.Table) else conform(table, frame)
            writer = self._writers.get(table)
            if writer is None:
                writer = pa.ipc.new_stream(self._sink(table), SCHEMAS[table], options=IPC_WRITE)
                self._writers[table] = writer
            writer.write_table(batch)
        self.rows[table] = self.rows.get(table, 0) + len(frame)

    def _sink(self, table: str) -> pa.NativeFile:
        sink = self._files.get(table)
        if sink is None:
            path = str(self.folder / f"{table}.arrow")
            sink = self._files[table] = pa.output_stream(path, buffer_size=_BUFFER)
        return sink

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        for sink in self._files.values():
            sink.close()
        self._writers.clear()
        self._files.clear()


def batches(folder: Path, table: str, columns: list[str] | None = None) -> Iterator[pa.Table]:
    """The record batches of ``folder/<table>.arrow`` in write order (none when absent)."""
    path = folder / f"{table}.arrow"
    if not path.exists():
        return
    # read, not memory-mapped: a mapped file's touched pages count in the process's RSS
    # until it is closed, so a run-wide spill would look (and be accounted) as big as itself
    with pa.OSFile(str(path), "rb") as source:
        size = source.size()
        while source.tell() < size:  # the streams one after another (see Spill)
            for batch in pa.ipc.open_stream(source):
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
    """64-bit hashes of the values (stable across runs and machines); nulls hash to 0.

    Each distinct value is hashed once (a stay's twenty fee rows share its visit number):
    the hash is per element, so this gives what hashing every row gives, for less."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    if len(uniques) == 0:
        return np.zeros(len(values), dtype="uint64")
    hashed = pd.util.hash_array(np.asarray(uniques, dtype=object), categorize=False)
    out = hashed[codes]
    out[codes < 0] = 0
    return out


class _HashMap:
    """uint64 key hash → uint64 target, looked up exactly and a whole array at a time (a
    pandas map would pass through float64 and lose the low bits of a 64-bit hash)."""

    def __init__(self, keys: np.ndarray, targets: np.ndarray) -> None:
        order = np.argsort(keys, kind="stable")
        self.keys = np.asarray(keys, dtype="uint64")[order]
        self.targets = np.asarray(targets, dtype="uint64")[order]

    def __len__(self) -> int:
        return len(self.keys)

    def get(self, values: np.ndarray) -> np.ndarray:
        """The target of each value, 0 where it is not a key."""
        if len(self.keys) == 0:
            return np.zeros(len(values), dtype="uint64")
        at = np.minimum(np.searchsorted(self.keys, values), len(self.keys) - 1)
        return np.where(self.keys[at] == values, self.targets[at], 0).astype("uint64")

    def replace(self, values: np.ndarray) -> np.ndarray:
        """``values`` with each key replaced by its target (targets are never 0)."""
        found = self.get(values)
        return np.where(found != 0, found, values).astype("uint64")


class Owners:
    """Who owns a row, as a 64-bit patient hash: merges (merged id → surviving id) applied;
    a visit or a study belongs to the patient of its first row; patients that share a visit
    number or a result/report/order/drug id are joined (their rows must meet in one
    partition for linking to decide as it would in one piece)."""

    def __init__(self, spill: Path) -> None:
        into: dict[str, str] = {}
        for t in batches(spill, "patient_link", ["merged_id", "patient_id"]):
            into.update(zip(t["merged_id"].to_pylist(), t["patient_id"].to_pylist(), strict=True))
        self.final = {m: surviving(m, into) for m in into}
        # (table, key) → its pairs: the visits and studies are read once for both uses below
        self._read: dict[tuple[str, str], pd.DataFrame] = {}
        self.visit = self._first(spill, "encounter", "mdtrt_id")
        self.study = self._first(spill, "imaging_study", "study_uid")
        self.root = self._joined(spill)
        del self._read  # not carried into the dealing workers

    def patient(self, pid: pd.Series) -> np.ndarray:
        """Hashes of the (merged) patient ids; 0 for none."""
        if self.final:
            pid = pid.map(self.final).fillna(pid)  # merged ids to the surviving one
        return _hash(pid)

    def _pairs(self, spill: Path, table: str, key: str) -> pd.DataFrame:
        """(key hash, patient hash) of a table's rows, in row order (a batch's repeats once)."""
        if (table, key) not in self._read:
            self._read[(table, key)] = self._pairs_read(spill, table, key)
        return self._read[(table, key)]

    def _pairs_read(self, spill: Path, table: str, key: str) -> pd.DataFrame:
        parts = []
        for t in batches(spill, table, [key, "patient_id"]):
            frame = t.to_pandas()
            pid = self.patient(frame["patient_id"])
            pair = pd.DataFrame({"key": _hash(frame[key]), "pid": pid})
            parts.append(pair[(pair["key"] != 0) & (pair["pid"] != 0)].drop_duplicates())
        if not parts:
            return pd.DataFrame({"key": np.array([], "uint64"), "pid": np.array([], "uint64")})
        return pd.concat(parts, ignore_index=True)

    def _first(self, spill: Path, table: str, key: str) -> _HashMap:
        """key hash → patient hash of the first row with that key."""
        pairs = self._pairs(spill, table, key).drop_duplicates("key", keep="first")
        return _HashMap(pairs["key"].to_numpy("uint64"), pairs["pid"].to_numpy("uint64"))

    def _joined(self, spill: Path) -> _HashMap:
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
        joined = {x: find(x) for x in parent}
        keys = np.fromiter(joined.keys(), dtype="uint64", count=len(joined))
        return _HashMap(keys, np.fromiter(joined.values(), dtype="uint64", count=len(joined)))

    def keys(self, table: str, frame: pd.DataFrame) -> np.ndarray:
        """The dealing key of each row: its owning patient's hash, else its own id's hash."""
        n = len(frame)
        pid = self.patient(frame["patient_id"]) if "patient_id" in frame else np.zeros(n, "uint64")
        if "mdtrt_id" in frame and table == "encounter":
            # an encounter goes with the first patient its visit number was seen with
            by_visit = self.visit.get(_hash(frame["mdtrt_id"]))
            pid = np.where(by_visit != 0, by_visit, pid)
        elif "mdtrt_id" in frame:
            self._fill(pid, frame["mdtrt_id"], self.visit)  # other rows: when they name no patient
        if "study_uid" in frame and table in ("imaging_series", "imaging_instance"):
            self._fill(pid, frame["study_uid"], self.study)
        if len(self.root):
            pid = self.root.replace(pid)
        for own in ("mdtrt_id", "study_uid", "series_uid", "order_id", "report_id"):
            orphan = pid == 0
            if own in frame and orphan.any():
                pid[orphan] = _hash(frame[own][orphan])
        return pid

    @staticmethod
    def _fill(pid: np.ndarray, key: pd.Series, owner: _HashMap) -> None:
        """Set, in place, the owner of the rows that have none yet from their ``key``."""
        orphan = pid == 0
        if orphan.any():
            pid[orphan] = owner.get(_hash(key[orphan]))


# The columns Owners.keys reads.
DEALING_COLUMNS = ("patient_id", "mdtrt_id", "study_uid", "series_uid", "order_id", "report_id")


def deal(spill: Path, target: Path, count: int, workers: int = 1) -> list[Path]:
    """Deal every spilled row into ``count`` partition folders ``target/p00000`` ...; returns
    the folders in order. Rows keep their spill order within a partition. With ``workers`` > 1
    the tables are dealt in that many forked processes (each table's files are its own)."""
    global _DEALING
    folders = [target / f"p{i:05d}" for i in range(count)]
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    present = [t for t in SCHEMAS if (spill / f"{t}.arrow").exists()]
    present.sort(key=lambda t: -(spill / f"{t}.arrow").stat().st_size)  # the big ones first
    _DEALING = (Owners(spill), spill, folders)  # inherited by the forked workers
    try:
        for _ in ordered_map(_deal_table, present, workers):
            pass
    finally:
        _DEALING = None
    return folders


_DEALING: tuple[Owners, Path, list[Path]] | None = None


def _deal_table(table: str) -> int:
    """Every row of one spilled table into its partition's file; returns the rows dealt."""
    assert _DEALING is not None
    owners, spill, folders = _DEALING
    sinks = [Spill(f) for f in folders]
    # a partition's slices wait until they make a batch worth writing: at a hundred partitions
    # a slice of a spilled batch is a few dozen rows, and each write costs as much as a big one
    waiting: list[list[pa.Table]] = [[] for _ in folders]
    size = [0.0] * len(folders)

    def write(i: int) -> None:
        sinks[i].add(table, pa.concat_tables(waiting[i]).combine_chunks())
        waiting[i], size[i] = [], 0

    rows = 0
    for data in batches(spill, table):
        # rows stay Arrow (already canonical): only the columns that decide the owner
        # go through pandas
        owned = data.select([c for c in DEALING_COLUMNS if c in data.column_names])
        part = owners.keys(table, owned.to_pandas()) % np.uint64(len(folders))
        # one stable sort and a slice per partition, not a filter per partition: the
        # rows of each partition keep their spill order either way
        order = np.argsort(part, kind="stable")
        ordered = data.take(pa.array(order))
        ends = np.searchsorted(part[order], np.arange(len(folders) + 1, dtype="uint64"))
        # a slice's size by the batch's bytes per row: measuring a slice walks every column's
        # buffers, and at a hundred partitions that cost a quarter of the deal
        per_row = data.nbytes / max(1, len(data))
        for i in np.flatnonzero(np.diff(ends)).tolist():
            rows_of_i = int(ends[i + 1] - ends[i])
            waiting[i].append(ordered.slice(ends[i], rows_of_i))
            size[i] += rows_of_i * per_row
            if size[i] >= _DEAL_BATCH:
                write(i)
        rows += len(data)
    for i, sink in enumerate(sinks):
        if waiting[i]:
            write(i)
        sink.close()
    return rows
