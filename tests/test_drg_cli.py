"""Grouping through the CLI: `hutong group` on a face-sheet folder and `run --drg-pack`."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from typer.testing import CliRunner

from hutong.cli import app

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def test_run_groups_and_group_command_agree(reference, tmp_path):
    pack = reference / "chs-drg-2.0"
    out = tmp_path / "run"
    args = ["run", str(ROOT / "samples" / "vendor-a"), "-o", str(out), "-q", "--no-store",
            "--auto-map", "95", "--drg-pack", str(pack),
            "--dx-codes", str(reference / "icd10-yb-2.0.txt"),
            "--px-codes", str(reference / "icd9cm3-yb-2.0.txt")]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    drg = json.loads((out / "manifest.json").read_text("utf-8"))["drg"]
    assert drg["pack"] == "chs-drg-2.0" and drg["cases"] == 197 and drg["grouped"] > 150
    rows = list(csv.DictReader((out / "qc" / "groups.csv").open(encoding="utf-8-sig")))
    assert all(r["drg"] == "0000" or r["drg"].startswith(r["adrg"]) for r in rows)
    assert all(r["reason"] for r in rows if r["drg"] == "0000")
    traces = [json.loads(x) for x in (out / "qc" / "trace.ndjson").open(encoding="utf-8")]
    assert len(traces) == 197 and all(t["trace"] for t in traces)
    again = tmp_path / "group"
    result = runner.invoke(
        app, ["group", str(out / "facesheet"), "--pack", str(pack), "-o", str(again)]
    )
    assert result.exit_code == 0, result.output
    assert (again / "groups.csv").read_bytes() == (out / "qc" / "groups.csv").read_bytes()


def test_group_with_a_missing_pack_file_is_a_clear_error(tmp_path):
    folder = ROOT / "samples" / "vendor-a"
    out = tmp_path / "run"
    assert (
        runner.invoke(app, ["run", str(folder), "-o", str(out), "-q", "--no-store"]).exit_code == 0
    )
    result = runner.invoke(
        app, ["group", str(out / "facesheet"), "--pack", str(tmp_path), "-o", str(tmp_path / "g")]
    )
    assert result.exit_code == 2 and "missing file" in result.output


def test_run_with_the_shipped_sample_pack_groups_the_demo_cases(tmp_path):
    """vendor-a as the demo runs it (--auto-map 95): the sample pack groups nearly every case."""
    from hutong.quality.drg import sample_pack_path

    out = tmp_path / "run"
    args = ["run", str(ROOT / "samples" / "vendor-a"), "-o", str(out), "-q", "--no-store",
            "--auto-map", "95", "--drg-pack", str(sample_pack_path())]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    drg = json.loads((out / "manifest.json").read_text("utf-8"))["drg"]
    assert drg["pack"] == "sample-pack" and drg["cases"] == 197
    assert drg["grouped"] >= 0.95 * drg["cases"], drg
    rows = list(csv.DictReader((out / "qc" / "groups.csv").open(encoding="utf-8-sig")))
    assert len({r["adrg"] for r in rows}) >= 25  # many ADRGs, not one catch-all
    assert all(
        r["drg"] == "0000" or r["drg"][:3] == r["adrg"] or r["drg"].endswith("QY") for r in rows
    )
