"""``hutong run --engine spark``: the partitions of a run processed on Spark, by the same
function the in-process engine calls (:func:`hutong.stages.process`).

The driver reads the inputs and deals the rows into partitions as it always does; each dealt
partition's Arrow batches become rows ``(part, table, batch)`` of a Parquet dataset under the
work folder, which Spark reads and groups by ``part``. On an executor, ``applyInPandas`` turns
one group back into the partition's tables, runs ``process`` in a temporary folder and returns
every output file as a row ``(part, name, data)``; the driver writes them into the parts folder
and assembles the run exactly as for the local engine, so outputs are byte-identical. The run's
context (code systems, the coders' approved mappings and matcher, rule packs, DRG pack, DIP
catalog) is broadcast once. On a cluster the work folder (``OUT/.hutong-work``) must be on
storage every executor can read (HDFS, a shared mount).
"""

from __future__ import annotations

import copyreg
import io
import os
import sys
import tempfile
import types
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from hutong.model import SCHEMAS
from hutong.partitions import batches
from hutong.stages import DONE, Context, process


def read_only(items: dict) -> types.MappingProxyType:
    """Rebuild a read-only mapping (rule packs keep their parameters in them) when unpickled."""
    return types.MappingProxyType(items)


copyreg.pickle(types.MappingProxyType, lambda m: (read_only, (dict(m),)))

INPUT = pa.schema(
    [("part", pa.int32()), ("seq", pa.int32()), ("table", pa.string()), ("batch", pa.binary())]
)
OUTPUT = "part int, name string, data binary"


def process_on_spark(inputs: list[Path], parts: list[Path], ctx: Context, master: str) -> None:
    """Process the partitions read from ``inputs`` into ``parts`` (same order) on Spark."""
    import warnings

    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # executors run this interpreter
    dataset = inputs[0].parent.parent / "spark-input"
    _write_input(inputs, dataset)
    spark = (
        SparkSession.builder.master(master)
        .appName("hutong")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.shuffle.partitions", str(max(1, len(parts))))
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    try:
        shared = spark.sparkContext.broadcast(ctx)

        def run_part(group: pd.DataFrame) -> pd.DataFrame:
            return _process_group(group, shared.value)

        frame = spark.read.parquet(str(dataset))
        results = frame.groupBy("part").applyInPandas(run_part, schema=OUTPUT)
        received = set()
        for row in results.toLocalIterator():
            if row["name"] == DONE:  # written below, once every file of the part is here
                received.add(row["part"])
                continue
            target = parts[row["part"]] / row["name"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(bytes(row["data"]))
        for index in sorted(received):
            (parts[index] / DONE).write_text("", "utf-8")
    finally:
        spark.stop()


def _write_input(inputs: list[Path], dataset: Path) -> None:
    """One Parquet file per partition: a row per Arrow batch of each of its tables."""
    dataset.mkdir(parents=True, exist_ok=True)
    for index, folder in enumerate(inputs):
        rows = {"part": [], "seq": [], "table": [], "batch": []}
        for table in SCHEMAS:
            for data in batches(folder, table):
                sink = io.BytesIO()
                with pa.ipc.new_stream(sink, data.schema) as writer:
                    writer.write_table(data)
                rows["part"].append(index)
                rows["seq"].append(len(rows["seq"]))
                rows["table"].append(table)
                rows["batch"].append(sink.getvalue())
        if not rows["part"]:  # a partition with no rows still has to run (empty outputs)
            rows = {"part": [index], "seq": [0], "table": [""], "batch": [b""]}
        pq.write_table(pa.table(rows, schema=INPUT), dataset / f"part-{index:05d}.parquet")


def _process_group(group: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    """On an executor: one partition's rows → its tables → ``process`` → its output files."""
    part = int(group["part"].iloc[0])
    group = group.sort_values("seq", kind="mergesort")  # a shuffle does not keep row order
    pieces: dict[str, list[pa.Table]] = {}
    for table, data in zip(group["table"], group["batch"], strict=True):
        if table:
            pieces.setdefault(table, []).append(pa.ipc.open_stream(bytes(data)).read_all())
    tables = {
        t: (pa.concat_tables(pieces[t]) if t in pieces else schema.empty_table()).to_pandas()
        for t, schema in SCHEMAS.items()
    }
    rows = {"part": [], "name": [], "data": []}
    with tempfile.TemporaryDirectory(prefix="hutong-part-") as tmp:
        folder = Path(tmp)
        process(tables, ctx, folder)
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            rows["part"].append(part)
            rows["name"].append(path.relative_to(folder).as_posix())
            rows["data"].append(path.read_bytes())
    return pd.DataFrame(rows)
