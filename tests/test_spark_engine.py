"""`hutong run --engine spark` on local[2] writes the same bytes as the in-process engine: the
same partition function runs on Spark executors (PySpark and Java 17+ needed; in CI both are)."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import IN_CI
from hutong.cli import app

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = [ROOT / "samples" / "vendor-a", ROOT / "samples" / "lis-a"]
runner = CliRunner()


def need_spark() -> None:
    missing = []
    if importlib.util.find_spec("pyspark") is None:
        missing.append("PySpark (pip install hutong[spark])")
    if shutil.which("java") is None:
        missing.append("Java 17+")
    if missing:
        message = f"the Spark engine needs {' and '.join(missing)}"
        if IN_CI:
            pytest.fail(f"CI=true but {message}")
        pytest.skip(message)


def outputs(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_spark_on_local_2_equals_the_local_engine(tmp_path):
    need_spark()
    common = [*map(str, SAMPLES), "-q", "--no-store", "--partition-size", "40",
              "--drg-pack", "sample", "--format", "parquet"]  # fmt: skip
    local = runner.invoke(app, ["run", *common, "-o", str(tmp_path / "local")])
    assert local.exit_code == 0, local.output
    on_spark = ["-o", str(tmp_path / "spark"), "--engine", "spark", "--spark-master", "local[2]"]
    spark = runner.invoke(app, ["run", *common, *on_spark])
    assert spark.exit_code == 0, spark.output
    a, b = outputs(tmp_path / "local"), outputs(tmp_path / "spark")
    assert len(a) > 20 and a.keys() == b.keys()
    assert [name for name in a if a[name] != b[name]] == []
