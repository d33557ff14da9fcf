"""`hutong inspect` and `hutong profile check`: what an integrator asks before a run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import SHARED, need
from hutong.cli import app

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def described(path: Path) -> dict:
    result = runner.invoke(app, ["inspect", str(path)])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.mark.parametrize(
    ("sample", "profile"),
    [("vendor-a/住院病案首页_2024.csv", "vendor-a"), ("vendor-b/VISIT.xlsx", "vendor-b"),
     ("vendor-b/DIAG.csv", "vendor-b"), ("vendor-b/FEE.csv", "vendor-b")],
)  # fmt: skip
def test_inspect_names_the_profile_of_a_sample(sample, profile):
    info = described(ROOT / "samples" / sample)
    assert info["format"] == "table" and info["profile"] == profile
    assert info["columns"] and info["samples"]
    if sample.startswith("vendor-a"):
        assert info["encoding"] == "gb18030" and "住院流水号" in info["columns"]


def test_inspect_names_hl7_version_and_message_types():
    corpus = need(SHARED / "corpus", "the real-file corpus")
    info = described(corpus / "hl7v2" / "mirth_ADT-A40_plus_ORU-R01_v2.3_2msgs.hl7")
    assert info["format"] == "hl7v2"
    assert info["versions"] == {"2.3": 2}
    assert info["message_types"] == {"ADT^A40": 1, "ORU^R01": 1}


def test_inspect_dicom_and_cda():
    corpus = need(SHARED / "corpus", "the real-file corpus")
    ct = described(corpus / "dicom" / "pyd_CT_small_explicitLE.dcm")
    assert ct["format"] == "dicom" and ct["modality"] == "CT"
    wst = described(next((ROOT / "samples" / "cda").glob("C0032_*.xml")))
    assert wst["format"] == "cda" and wst["document"] == "WS/T 500.52 住院病案首页"


def test_inspect_unrecognized_file(tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01garbage")
    assert described(junk)["format"] == "unrecognized"


def test_profile_check_lists_uncovered_values_and_columns(tmp_path):
    source = ROOT / "samples" / "vendor-b" / "DIAG.csv"
    lines = source.read_text("utf-8").splitlines()
    header = lines[0].split(",")
    row = lines[1].split(",")
    row[header.index("POA")] = "Q"
    bad = tmp_path / "DIAG.csv"
    bad.write_text("\n".join([lines[0] + ",EXTRA", ",".join(row) + ",1"]) + "\n", "utf-8")
    result = runner.invoke(app, ["profile", "check", "vendor-b", str(bad)])
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["kind"] == "diag"
    assert report["uncovered_values"] == {"POA (adm_cond_type)": {"Q": 1}}
    assert report["unused_columns"] == ["EXTRA"]
    clean = runner.invoke(app, ["profile", "check", "vendor-b", str(source)])
    assert clean.exit_code == 0, clean.output


def test_run_with_an_hl7_profile_maps_a_z_segment_field_without_code(tmp_path):
    corpus = need(SHARED / "corpus", "the real-file corpus")
    prof = tmp_path / "nd-elr.toml"
    prof.write_text(
        '[vendor]\nname = "nd-elr"\n[[map]]\nfield = "ZLR-2.1"\ncolumn = "report.conclusion"\n',
        "utf-8",
    )
    source = corpus / "hl7v2" / "cdc_ORU-R01_v2.3z_Zsegment_ZLR.hl7"
    out = tmp_path / "out"
    args = ["run", str(source), "-o", str(out), "-q", "--no-store", "--hl7-profile", str(prof)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    reports = [json.loads(x) for x in (out / "fhir" / "DiagnosticReport.ndjson").open()]
    assert [r.get("conclusion") for r in reports] == ["Bismarck Event Surveillance"]
