"""De-identification through the CLI: nothing personal left, intervals exact, keyed pseudonyms."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import SHARED, need
from hutong.cli import app

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = [ROOT / "samples" / "vendor-a", ROOT / "samples" / "lis-a"]
runner = CliRunner()
KEY = "hutong-test-key-0123456789"


def run(out: Path, *extra: str, inputs=SAMPLES) -> None:
    args = ["run", *map(str, inputs), "-o", str(out), "-q", "--no-store", *extra]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output


def scan(folder: Path, inputs=SAMPLES) -> tuple[int, str]:
    args = ["deid", "scan", str(folder)] + [a for p in inputs for a in ("-i", str(p))]
    result = runner.invoke(app, args)
    return result.exit_code, result.output


def stays(folder: Path) -> list[dict]:
    with (folder / "facesheet" / "setlinfo.csv").open(encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("deid")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HUTONG_DEID_KEY", KEY)
        run(base / "plain")
        run(base / "research", "--deid", "research")
        run(base / "again", "--deid", "research")
        mp.setenv("HUTONG_DEID_KEY", KEY + "-other")
        run(base / "other", "--deid", "research")
    return {name: base / name for name in ("plain", "research", "again", "other")}


def test_the_scanner_finds_personal_data_in_the_identified_output_only(outputs):
    code, text = scan(outputs["plain"])
    assert code == 1 and {"certno", "mobile", "name", "address"} <= set(text.split())
    code, text = scan(outputs["research"])
    assert code == 0, text
    assert text.startswith("0 findings")


def test_length_of_stay_and_age_equal_the_identified_run(outputs):
    def profile(rows):
        return Counter((r["act_ipt_days"], r["age"], r["nwb_age"], r["gend"]) for r in rows)

    plain, safe = stays(outputs["plain"]), stays(outputs["research"])
    assert len(plain) == len(safe) and profile(plain) == profile(safe)
    assert {r["mdtrt_id"] for r in plain}.isdisjoint({r["mdtrt_id"] for r in safe})
    assert all(not r["psn_name"] and not r["certno"] for r in safe)


def test_qc_does_not_report_what_de_identification_removed(outputs):
    def rules(folder: Path) -> Counter:
        with (folder / "qc" / "findings.csv").open(encoding="utf-8-sig") as f:
            return Counter(r["rule_id"] for r in csv.DictReader(f))

    plain, safe = rules(outputs["plain"]), rules(outputs["research"])
    # Only the ID-number check is lost: its field is gone, so it cannot run.
    assert plain - safe == Counter({"SL-ID-01": plain["SL-ID-01"]}) and not safe - plain
    manifest = json.loads((outputs["research"] / "manifest.json").read_text("utf-8"))
    suppressed = manifest["qc"]["suppressed_by_deid"]
    assert suppressed["SL-REQ-01"] >= len(stays(outputs["research"]))  # every psn_name, certno
    assert (
        "suppressed_by_deid"
        not in json.loads((outputs["plain"] / "manifest.json").read_text("utf-8"))["qc"]
    )


def test_same_key_same_pseudonyms_other_key_other_ones(outputs):
    first = (outputs["research"] / "facesheet" / "setlinfo.csv").read_bytes()
    assert (outputs["again"] / "facesheet" / "setlinfo.csv").read_bytes() == first
    ids = {r["mdtrt_id"] for r in stays(outputs["research"])}
    assert ids.isdisjoint({r["mdtrt_id"] for r in stays(outputs["other"])})


def test_a_deid_run_needs_a_key(tmp_path, monkeypatch):
    monkeypatch.delenv("HUTONG_DEID_KEY", raising=False)
    result = runner.invoke(
        app, ["run", str(SAMPLES[0]), "-o", str(tmp_path), "-q", "--no-store", "--deid", "share"]
    )
    assert result.exit_code == 2 and "HUTONG_DEID_KEY" in result.output


def test_demo_with_deid(tmp_path, monkeypatch):
    monkeypatch.setenv("HUTONG_DEID_KEY", KEY)
    out = tmp_path / "demo"
    args = ["demo", "--deid", "research", "--out", str(out), "--samples", str(ROOT / "samples")]
    result = runner.invoke(app, [*args, "-q"])
    assert result.exit_code == 0, result.output
    inputs = [*SAMPLES, ROOT / "samples" / "vendor-b"]
    code, text = scan(out, inputs)
    assert code == 0, text


def test_corpus_deid_leaves_nothing_personal(tmp_path, monkeypatch):
    corpus = need(SHARED / "corpus", "the real-file corpus")
    monkeypatch.setenv("HUTONG_DEID_KEY", KEY)
    inputs = [corpus / "hl7v2", corpus / "cda", corpus / "dicom"]
    run(tmp_path / "out", "--deid", "research", inputs=inputs)
    code, text = scan(tmp_path / "out", inputs)
    assert code == 0, text
