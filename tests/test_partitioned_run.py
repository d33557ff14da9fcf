"""A run dealt into many partitions writes what one piece writes (as sets of lines), a killed
run resumed writes the same bytes as an uninterrupted one, and the Parquet and JSON-progress
outputs are there. The partition size is set small so a 200-case sample needs several."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import SHARED, need
from hutong.cli import app

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = [ROOT / "samples" / "vendor-a", ROOT / "samples" / "lis-a"]
runner = CliRunner()


def run(out: Path, *extra: str, inputs=SAMPLES) -> None:
    args = ["run", *map(str, inputs), "-o", str(out), "-q", "--no-store", *extra]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output


def outputs(folder: Path) -> dict[str, bytes]:
    """Every output file's bytes by relative path (the work folder must be gone)."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def lines(data: bytes) -> list[bytes]:
    return sorted(data.splitlines())


def manifest(folder: Path) -> dict:
    doc = json.loads((folder / "manifest.json").read_text("utf-8"))
    doc.pop("partitions")
    doc["fhir"].pop("validated")  # auto: all in one piece, a shared-out sample in many
    return doc


def assert_same_content(whole: Path, dealt: Path) -> None:
    a, b = outputs(whole), outputs(dealt)
    assert a.keys() == b.keys()
    for name in a:
        if name.endswith((".csv", ".ndjson")):
            assert lines(a[name]) == lines(b[name]), name
    assert manifest(whole) == manifest(dealt)


@pytest.fixture(scope="module")
def whole(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("whole") / "out"
    run(out)
    return out


def test_many_partitions_write_what_one_piece_writes(whole, tmp_path):
    dealt = tmp_path / "dealt"
    run(dealt, "--partition-size", "40")
    doc = json.loads((dealt / "manifest.json").read_text("utf-8"))
    assert (
        doc["partitions"] == 5
        and json.loads((whole / "manifest.json").read_text())["partitions"] == 1
    )
    assert_same_content(whole, dealt)
    assert not (dealt / ".hutong-work").exists()


def test_the_corpus_dealt_by_patient_links_as_in_one_piece(tmp_path):
    corpus = need(SHARED / "corpus", "the real-file corpus")
    inputs = [corpus / "hl7v2", corpus / "cda", corpus / "dicom"]
    run(tmp_path / "whole", inputs=inputs)
    run(tmp_path / "dealt", "--partition-size", "5", inputs=inputs)
    assert_same_content(tmp_path / "whole", tmp_path / "dealt")
    ids = [json.loads(x)["id"] for x in (tmp_path / "dealt/fhir/DiagnosticReport.ndjson").open()]
    assert len(ids) == len(set(ids))  # a report id two patients share is decided once


def test_a_killed_run_resumed_writes_the_same_bytes(whole, tmp_path):
    out = tmp_path / "out"
    args = [sys.executable, "-m", "hutong.cli", "run", *map(str, SAMPLES), "-o", str(out), "-q",
            "--no-store", "--partition-size", "40"]  # fmt: skip
    env = {**os.environ, "HUTONG_TEST_STOP_AFTER": "2"}
    killed = subprocess.run(args, env=env, capture_output=True, cwd=ROOT)
    assert killed.returncode == 137
    work = out / ".hutong-work"
    finished = sorted(p.name for p in (work / "out").iterdir() if (p / "done").exists())
    assert finished == ["p00000", "p00001"] and not (out / "manifest.json").exists()
    resumed = subprocess.run([*args, "--resume"], capture_output=True, cwd=ROOT)
    assert resumed.returncode == 0, resumed.stderr.decode()
    straight = tmp_path / "straight"
    run(straight, "--partition-size", "40")
    assert outputs(out) == outputs(straight)
    patients = [json.loads(x)["id"] for x in (out / "fhir" / "Patient.ndjson").open()]
    assert len(patients) == len(set(patients)) == 197


def test_killed_without_a_store_resumed_with_one_feeds_it_every_term(tmp_path):
    """Parts keep their local terms only when a store is fed: a resume that brings a store
    starts afresh rather than find parts without them."""
    from hutong.terminologies.store import Store

    out, straight = tmp_path / "out", tmp_path / "straight"
    lists = ROOT / "src" / "hutong" / "terminologies" / "data"
    dx, px = lists / "sample-icd10-yb-2.0.txt", lists / "sample-icd9cm3-yb-2.0.txt"
    # the same code lists either way (a store's own would change the run's fingerprint anyway)
    base = [sys.executable, "-m", "hutong.cli", "run", *map(str, SAMPLES), "-q",
            "--partition-size", "40", "--dx-codes", str(dx), "--px-codes", str(px)]  # fmt: skip
    env = {**os.environ, "HUTONG_TEST_STOP_AFTER": "2"}
    killed = subprocess.run([*base, "-o", str(out), "--no-store"], env=env, cwd=ROOT)
    assert killed.returncode == 137
    assert not list((out / ".hutong-work" / "out").glob("*/terms"))  # none kept without a store
    stores = {}
    for name, folder, extra in (("resumed", out, ["--resume"]), ("straight", straight, [])):
        stores[name] = f"sqlite:///{tmp_path / name}.db"
        for path, system in ((dx, "icd10-yb-2.0"), (px, "icd9cm3-yb-2.0")):
            load = ["terminology", "load", str(path), "--system", system, "--db", stores[name]]
            assert runner.invoke(app, load).exit_code == 0
        args = [*base, "-o", str(folder), "--db", stores[name], *extra]
        done = subprocess.run(args, capture_output=True, cwd=ROOT)
        assert done.returncode == 0, done.stderr.decode()
    counts = {}
    for name, url in stores.items():
        store = Store(url)
        counts[name] = store.stats()
        store.close()
    assert counts["resumed"]["terms"] == counts["straight"]["terms"] > 0
    assert counts["resumed"]["frequency"] == counts["straight"]["frequency"]
    assert outputs(out).keys() == outputs(straight).keys()


def test_resume_with_other_inputs_starts_afresh(tmp_path):
    out = tmp_path / "out"
    run(out, "--partition-size", "40")
    run(out, "--resume", "--partition-size", "40", inputs=SAMPLES[:1])
    doc = json.loads((out / "manifest.json").read_text("utf-8"))
    assert [f["file"].rsplit("/", 2)[-2] for f in doc["inputs"]] == ["vendor-a"]


def test_parquet_holds_the_canonical_tables_and_the_face_sheet(whole, tmp_path):
    out = tmp_path / "out"
    run(out, "--format", "parquet", "--partition-size", "40")
    encounter = pd.read_parquet(out / "parquet" / "tables" / "encounter")
    setlinfo = pd.read_parquet(out / "parquet" / "facesheet" / "setlinfo")
    doc = json.loads((out / "manifest.json").read_text("utf-8"))
    assert len(encounter) == doc["tables"]["encounter"] and len(setlinfo) == 197
    csv = pd.read_csv(whole / "facesheet" / "setlinfo.csv", encoding="utf-8-sig", dtype=str)
    assert sorted(setlinfo["mdtrt_id"]) == sorted(csv["mdtrt_id"])
    assert len(list((out / "parquet" / "tables" / "encounter").glob("*.parquet"))) == 5


@pytest.mark.parametrize("workers", ["1", "2"])
def test_progress_json_is_one_object_per_line(tmp_path, workers):
    args = [sys.executable, "-m", "hutong.cli", "run", *map(str, SAMPLES), "-o",
            str(tmp_path / "o"), "--no-store", "--partition-size", "60",
            "--progress", "json", "--workers", workers]  # fmt: skip
    done = subprocess.run(args, capture_output=True, cwd=ROOT, text=True)
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    stages = [e["stage"] for e in events]
    assert stages.count("read") == 2
    # each partition reported once as it finishes (also from worker processes), then the
    # assembly of the outputs
    assert [e["done"] for e in events if e["stage"] == "partition"] == [1, 2, 3, 4]
    assert events[-3:] == [
        {"stage": "partition", "done": 4, "total": 4},
        {"stage": "assemble", "done": 0, "total": 1},
        {"stage": "assemble", "done": 1, "total": 1},
    ]


def test_no_fhir_writes_the_same_face_sheet_and_qc(whole, tmp_path):
    out = tmp_path / "out"
    run(out, "--no-fhir")
    assert not (out / "fhir").exists()
    a, b = outputs(whole), outputs(out)
    for name in b:
        if name.startswith(("facesheet/", "qc/")) and not name.endswith((".html", ".xlsx")):
            assert a[name] == b[name], name


def test_two_worker_processes_write_the_same_bytes(tmp_path):
    run(tmp_path / "one", "--partition-size", "40")
    run(tmp_path / "two", "--partition-size", "40", "--workers", "2")
    assert outputs(tmp_path / "one") == outputs(tmp_path / "two")
