"""The coding office's QC job end to end: `run_qc` and the `hutong qc / group / dip` commands
with the shipped sample DRG pack (and its weights) and DIP catalog."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from hutong.cli import app
from hutong.quality.job import QcJob, QcJobError, load_job, run_qc
from qc_cases import MAIN_DX, OTHER_DX, case, combine

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
QC_FILES = {"findings.csv", "scores.csv", "indicators.csv", "worklist.xlsx", "report.html"}
DRG_FILES = {"groups.csv", "trace.ndjson", "cmi.csv", "impact.csv"}
DIP_FILES = {"dip.csv", "dip_trace.ndjson"}
SAMPLE = Path("sample")


def rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.open(encoding="utf-8-sig")))


def sheet():
    """A clean case, one with an unknown sex code and one whose main diagnosis was absent on
    admission (入院病情 4), so some findings touch grouping and some do not."""
    return combine(
        case("ZY1"),
        case("ZY2", setlinfo={"gend": "3"}),
        case("ZY3", diseinfo=[{**MAIN_DX, "adm_cond_type": "4"}, OTHER_DX]),
    )


def test_run_qc_writes_every_output_and_a_summary(tmp_path):
    job = QcJob(drg_pack=SAMPLE, dip_catalog=SAMPLE, base_rate=10_000)
    findings, summary = run_qc(sheet(), tmp_path, job)
    assert {p.name for p in tmp_path.iterdir()} == QC_FILES | DRG_FILES | DIP_FILES
    assert summary["findings"] == len(findings) == len(rows(tmp_path / "findings.csv"))
    assert {"SL-DOM-01", "SL-DX-01"} <= set(findings["rule_id"])
    scores = {r["mdtrt_id"]: float(r["score"]) for r in rows(tmp_path / "scores.csv")}
    assert scores["ZY1"] == 100 and scores["ZY2"] < 100 and scores["ZY3"] < 100
    assert summary["score"]["cases"] == 3 and summary["score"]["min"] == min(scores.values())
    groups = {r["mdtrt_id"]: r["drg"] for r in rows(tmp_path / "groups.csv")}
    assert set(groups) == {"ZY1", "ZY2", "ZY3"} and summary["drg"]["cases"] == 3
    impact = rows(tmp_path / "impact.csv")
    assert [r["rule_id"] for r in impact] == ["SL-DX-01"]  # the sex code touches no group
    assert impact[0]["drg_before"] == groups["ZY3"]
    cmi = rows(tmp_path / "cmi.csv")
    assert cmi[-1]["dept"] == "全院" and summary["drg"]["cmi"] == pytest.approx(
        float(cmi[-1]["cmi"]), abs=1e-4
    )
    weights = [float(r["weight"]) for r in rows(tmp_path / "groups.csv") if r["weight"]]
    assert len(weights) == int(cmi[-1]["weighted_cases"]) > 0
    assert sum(weights) == pytest.approx(float(cmi[-1]["total_weight"]), abs=1e-3)
    assert summary["dip"]["cases"] == 3
    book = load_workbook(tmp_path / "worklist.xlsx")
    assert book.active.max_row == len(findings) + 1
    assert "SL-DX-01" in (tmp_path / "report.html").read_text("utf-8")


def test_run_qc_without_packs_writes_the_qc_files_only(tmp_path):
    findings, summary = run_qc(sheet(), tmp_path, QcJob())
    assert {p.name for p in tmp_path.iterdir()} == QC_FILES
    assert "drg" not in summary and "dip" not in summary and len(findings)


def test_an_empty_face_sheet_still_gives_every_output(tmp_path):
    empty = sheet()
    for node in ("setlinfo", "diseinfo", "oprninfo", "iteminfo"):
        setattr(empty, node, getattr(empty, node).iloc[0:0])
    findings, summary = run_qc(empty, tmp_path, QcJob(drg_pack=SAMPLE, dip_catalog=SAMPLE))
    assert findings.empty and summary["drg"]["cases"] == 0
    assert {p.name for p in tmp_path.iterdir()} == QC_FILES | DRG_FILES | DIP_FILES


def test_bad_files_fail_when_loaded_naming_the_file(tmp_path):
    weights = tmp_path / "w.csv"
    weights.write_text("drg,weight\nFR19,heavy\n", "utf-8")
    with pytest.raises(QcJobError, match=r"w\.csv"):
        load_job(QcJob(drg_pack=SAMPLE, weights=weights))
    with pytest.raises(QcJobError, match="missing file"):
        load_job(QcJob(drg_pack=tmp_path))
    with pytest.raises(QcJobError, match=r"nope\.csv"):
        load_job(QcJob(dip_catalog=tmp_path / "nope.csv"))
    with pytest.raises(QcJobError, match="unknown rule pack"):
        load_job(QcJob(rules="nhsa-settlement+no-such-pack"))


@pytest.fixture(scope="module")
def facesheet_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run") / "out"
    args = ["run", str(ROOT / "samples" / "vendor-b"), "-o", str(out), "-q", "--no-store"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return out / "facesheet"


def test_qc_command_groups_prices_and_agrees_with_group_and_dip(facesheet_dir, tmp_path):
    qc = tmp_path / "qc"
    args = ["qc", str(facesheet_dir), "-o", str(qc), "--drg-pack", "sample",
            "--dip-catalog", "sample", "--base-rate", "10000"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "CMI" in result.output and "DIP" in result.output and "impact" in result.output
    assert {p.name for p in qc.iterdir()} == QC_FILES | DRG_FILES | DIP_FILES
    impact = pd.read_csv(qc / "impact.csv", encoding="utf-8-sig")
    priced = impact.dropna(subset=["weight_diff"])
    assert len(priced) and (priced["amount"] == (priced["weight_diff"] * 10_000).round(2)).all()
    group = tmp_path / "group"
    args = ["group", str(facesheet_dir), "--pack", "sample", "-o", str(group)]
    assert runner.invoke(app, args).exit_code == 0
    for name in ("groups.csv", "trace.ndjson", "cmi.csv"):
        assert (group / name).read_bytes() == (qc / name).read_bytes()
    dip = tmp_path / "dip"
    result = runner.invoke(app, ["dip", str(facesheet_dir), "-o", str(dip)])
    assert result.exit_code == 0 and "illustrative" in result.output
    assert (dip / "dip.csv").read_bytes() == (qc / "dip.csv").read_bytes()


def test_run_with_a_bad_drg_pack_fails_before_writing(tmp_path):
    out = tmp_path / "out"
    args = ["run", str(ROOT / "samples" / "vendor-a"), "-o", str(out), "-q", "--no-store",
            "--drg-pack", str(tmp_path)]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "missing file" in result.output
    assert not (out / "manifest.json").exists()
