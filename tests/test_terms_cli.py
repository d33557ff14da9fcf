"""The coders' path through the CLI: load code systems, search, suggest, decide, exchange, and a
run that applies the decisions."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hutong.cli import app
from hutong.terminologies.store import Store

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DX = ROOT / "src/hutong/terminologies/data/sample-icd10-yb-2.0.txt"
SAMPLE_PX = ROOT / "src/hutong/terminologies/data/sample-icd9cm3-yb-2.0.txt"
runner = CliRunner()


@pytest.fixture
def db(tmp_path, monkeypatch) -> str:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv("HUTONG_DB", url)
    monkeypatch.setenv("HUTONG_USER", "coder.wang")
    return url


def cli(*args: str, input: str | None = None):
    return runner.invoke(app, list(args), input=input, catch_exceptions=False)


def loaded(db: str) -> str:
    assert cli("terminology", "load", str(SAMPLE_DX), "--system", "icd10-yb-2.0").exit_code == 0
    assert cli("terminology", "load", str(SAMPLE_PX), "--system", "icd9cm3-yb-2.0").exit_code == 0
    return db


def test_load_list_and_search(db):
    result = cli("terminology", "load", str(SAMPLE_DX), "--system", "icd10-yb-2.0")
    assert result.exit_code == 0 and "icd10-yb-2.0 2.0" in result.output
    assert "gray" in result.output
    listing = cli("terminology", "list").output
    assert "icd10-yb-2.0" in listing and "* " in listing
    assert "I25.103" in cli("terminology", "search", "冠状动脉", "-s", "icd10-yb-2.0").output
    assert "I25.103" in cli("terminology", "search", "I25.1", "-s", "icd10-yb-2.0").output
    by_initials = cli("terminology", "search", "gzdmzyyh", "-s", "icd10-yb-2.0").output
    assert "I25.103" in by_initials
    again = runner.invoke(app, ["terminology", "load", str(SAMPLE_DX), "--system", "icd10-yb-2.0"])
    assert again.exit_code == 2 and "already" in again.output


def test_gray_list_load_marks_codes(db, tmp_path):
    cli("terminology", "load", str(SAMPLE_DX), "--system", "icd10-yb-2.0")
    gray = tmp_path / "gray.txt"
    gray.write_text("I25.103 冠状动脉粥样硬化性心脏病\nZ99.999 没有这个\n", "utf-8")
    result = cli("terminology", "load", str(gray), "--system", "icd10-yb-2.0", "--gray")
    assert result.exit_code == 0 and "1 gray codes marked" in result.output
    assert "Z99.999" in result.output
    assert "[灰码 gray]" in cli("terminology", "search", "I25.103").output


def test_bad_code_list_is_a_clear_error_and_loads_nothing(db, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("I10.x00 高血压\nI25.103\n", "utf-8")
    result = runner.invoke(app, ["terminology", "load", str(bad), "--system", "icd10-yb-2.0"])
    assert result.exit_code == 2 and f"{bad}:2" in result.output
    assert "no code systems loaded" in cli("terminology", "list").output
    unknown = runner.invoke(app, ["terminology", "load", str(SAMPLE_DX), "--system", "icd-11"])
    assert unknown.exit_code == 2 and "icd10-yb-2.0" in unknown.output


def test_suggest_writes_ranked_candidates_and_keeps_extra_columns(db, tmp_path):
    loaded(db)
    terms = tmp_path / "terms.csv"
    terms.write_text("local_code,local_name,dept\nI25.1,冠心病,心内科\n,脑梗,神经内科\n", "utf-8")
    out = tmp_path / "out.csv"
    result = cli(
        "map", "suggest", str(terms), "--system", "icd10-yb-2.0", "--top", "3", "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    assert len(rows) == 6
    first = {(r["local_name"], r["rank"]): r for r in rows}
    assert (
        first[("冠心病", "1")]["code"] == "I25.103" and first[("冠心病", "1")]["dept"] == "心内科"
    )
    assert first[("脑梗", "1")]["code"] == "I63.900"
    assert {"local_code", "local_name", "rank", "code", "display", "score"} <= set(rows[0])


def test_suggest_refuses_empty_terms_and_missing_columns(db, tmp_path):
    loaded(db)
    bad = tmp_path / "bad.csv"
    bad.write_text("local_code,local_name\nI10,高血压\n,\n", "utf-8")
    result = runner.invoke(app, ["map", "suggest", str(bad), "--out", str(tmp_path / "o.csv")])
    assert result.exit_code == 2 and "row(s) 3" in result.output
    nocol = tmp_path / "nocol.csv"
    nocol.write_text("code,name\nI10,高血压\n", "utf-8")
    result = runner.invoke(app, ["map", "suggest", str(nocol), "--out", str(tmp_path / "o.csv")])
    assert result.exit_code == 2 and "local_name" in result.output


def run_vendor_a(tmp_path: Path, *extra: str) -> dict:
    out = tmp_path / f"run{len(list(tmp_path.glob('run*')))}"
    result = cli(
        "run", str(ROOT / "samples/vendor-a"), "-p", "vendor-a", "-o", str(out), "-q", *extra
    )
    assert result.exit_code == 0, result.output
    return {"out": out, "manifest": json.loads((out / "manifest.json").read_text("utf-8"))}


def test_run_queues_terms_then_applies_a_coders_decision(db, tmp_path):
    loaded(db)
    first = run_vendor_a(tmp_path)
    assert first["manifest"]["coding"]["diagnosis"].get("unmapped", 0) > 0
    queue = list(csv.DictReader((first["out"] / "unmapped.csv").open(encoding="utf-8-sig")))
    chd = next(r for r in queue if r["local_name"] == "冠心病")
    assert chd["best_code"] == "I25.103" and float(chd["best_score"]) > 80 and chd["why"]

    store = Store(db)
    pending = store.queue(target="icd10-yb-2.0", local_system="vendor-a:diagnosis")
    row = pending[(pending["local_name"] == "冠心病") & (pending["code"] == "I25.103")].iloc[0]
    store.close()
    result = cli(
        "map", "approve", str(int(row["mapping_id"])), "--version", str(int(row["version"]))
    )
    assert result.exit_code == 0 and "[approved]" in result.output
    stale = runner.invoke(
        app, ["map", "reject", str(int(row["mapping_id"])), "--version", str(int(row["version"]))]
    )
    assert stale.exit_code == 3 and "conflict" in stale.output

    second = run_vendor_a(tmp_path)
    assert second["manifest"]["coding"]["diagnosis"]["approved"] > 0
    diseinfo = (second["out"] / "facesheet/diseinfo.csv").read_text("utf-8-sig")
    assert "I25.1," not in diseinfo and "I25.103" in diseinfo
    queue = (second["out"] / "unmapped.csv").read_text("utf-8-sig")
    assert "冠心病" not in queue


def test_auto_map_marks_auto_and_no_store_ignores_decisions(db, tmp_path):
    loaded(db)
    auto = run_vendor_a(tmp_path, "--auto-map", "95")
    assert auto["manifest"]["coding"]["diagnosis"]["auto"] > 0
    assert auto["manifest"]["auto_map"] == 95.0
    plain = run_vendor_a(tmp_path, "--no-store")
    assert "auto" not in plain["manifest"]["coding"]["diagnosis"]
    stats = json.loads(cli("map", "stats").output)
    assert stats


def test_auto_bulk_approve_export_import_round_trip(db, tmp_path):
    loaded(db)
    run_vendor_a(tmp_path)
    assert "auto-mapped" in cli("map", "auto", "--min-score", "99", "-s", "icd10-yb-2.0").output
    approved = cli("map", "approve", "--above", "95", "-s", "icd10-yb-2.0")
    assert approved.exit_code == 0 and "approved" in approved.output
    cm = tmp_path / "map.json"
    result = cli(
        "map", "export", "-f", "conceptmap", "--local-system", "vendor-a:diagnosis", "-o", str(cm)
    )
    assert result.exit_code == 0
    from fhir.resources.R4B.conceptmap import ConceptMap

    doc = json.loads(cm.read_text("utf-8"))
    ConceptMap.model_validate(doc)
    other = f"sqlite:///{tmp_path / 'other.db'}"
    for path in (SAMPLE_DX, SAMPLE_PX):
        system = "icd10-yb-2.0" if path == SAMPLE_DX else "icd9cm3-yb-2.0"
        cli("terminology", "load", str(path), "--system", system, "--db", other)
    assert cli("map", "import", str(cm), "--db", other).exit_code == 0
    cm2 = tmp_path / "map2.json"
    cli(
        "map",
        "export",
        "-f",
        "conceptmap",
        "--local-system",
        "vendor-a:diagnosis",
        "-o",
        str(cm2),
        "--db",
        other,
    )
    assert json.loads(cm2.read_text("utf-8")) == doc
    flat = tmp_path / "map.csv"
    assert cli("map", "export", "-f", "csv", "-o", str(flat)).exit_code == 0
    assert "vendor-a:diagnosis" in flat.read_text("utf-8-sig")


def test_review_loop_approves_with_a_key(db, tmp_path):
    loaded(db)
    run_vendor_a(tmp_path)
    result = cli("map", "review", "-s", "icd10-yb-2.0", input="1\nq\n")
    assert result.exit_code == 0, result.output
    assert "1 decisions" in result.output
    store = Store(db)
    approved = store.approved("icd10-yb-2.0", "vendor-a:diagnosis")
    store.close()
    assert len(approved) == 1 and approved["status"].iloc[0] == "approved"


def test_review_search_then_approve_a_hit(db, tmp_path):
    loaded(db)
    run_vendor_a(tmp_path)
    store = Store(db)
    first = store.queue(target="icd10-yb-2.0").iloc[0]
    candidates = store.queue(target="icd10-yb-2.0")
    shown = candidates[
        (candidates["local_code"] == first["local_code"])
        & (candidates["local_name"] == first["local_name"])
    ]
    store.close()
    pick = len(shown) + 1  # first search hit is numbered after the candidates
    result = cli("map", "review", "-s", "icd10-yb-2.0", input=f"/I10.x05\n{pick}\nq\n")
    assert result.exit_code == 0, result.output
    store = Store(db)
    approved = store.approved("icd10-yb-2.0")
    store.close()
    assert list(approved["code"]) == ["I10.x05"]


def test_reapply_after_a_new_version_reports_retired_and_renamed(db, tmp_path):
    loaded(db)
    run_vendor_a(tmp_path)
    store = Store(db)
    pending = store.queue(target="icd10-yb-2.0", local_system="vendor-a:diagnosis")
    for name, code in (("冠心病", "I25.103"), ("脑梗", "I63.900"), ("前列腺增生症", "N40.x00")):
        row = pending[(pending["local_name"] == name) & (pending["code"] == code)].iloc[0]
        store.decide(int(row["mapping_id"]), "approve", "reviewer.li", int(row["version"]))
    store.close()
    text = SAMPLE_DX.read_text("utf-8").splitlines()
    newer = [line for line in text if not line.startswith("I63.900 ")]
    newer = [line.replace("N40.x00 前列腺增生", "N40.x00 良性前列腺增生") for line in newer]
    v21 = tmp_path / "icd10-yb-2.1.txt"
    v21.write_text("\n".join(newer) + "\n", "utf-8")
    loaded_v21 = cli(
        "terminology", "load", str(v21), "--system", "icd10-yb-2.0", "--version", "2.1"
    )
    assert loaded_v21.exit_code == 0, loaded_v21.output
    report = tmp_path / "reapply.csv"
    result = cli("map", "reapply", "-s", "icd10-yb-2.0", "--version", "2.1", "-o", str(report))
    assert result.exit_code == 0, result.output
    rows = {r["code"]: r for r in csv.DictReader(report.open(encoding="utf-8-sig"))}
    assert rows["I25.103"]["outcome"] != rows["I63.900"]["outcome"]
    assert "retired" in rows["I63.900"]["outcome"]
    assert rows["N40.x00"]["new_display"] == "良性前列腺增生"
