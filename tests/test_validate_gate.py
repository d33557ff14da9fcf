"""`hutong validate`: the conformance gate over what a run (or anyone) wrote."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from hutong.cli import app
from hutong.mapping.fhir.gate import validation_sample as _validation

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def test_the_demo_output_passes_the_gate(tmp_path):
    out = tmp_path / "demo"
    demo = runner.invoke(app, ["demo", "--out", str(out), "--samples", str(ROOT / "samples"), "-q"])
    assert demo.exit_code == 0, demo.output
    result = runner.invoke(app, ["validate", str(out)])
    assert result.exit_code == 0, result.output
    assert "0 errors" in result.output and "resources checked" in result.output


def test_a_broken_bundle_reports_each_error_with_resource_and_path(tmp_path):
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": {"resourceType": "Patient", "id": "p1", "gender": "mal"}},
            {"resource": {"resourceType": "Encounter", "id": "e1", "status": "finished",
                          "class": {"code": "IMP"}, "subject": {"reference": "Patient/nope"}}},
            {"resource": {"resourceType": "Observation", "id": "o1", "status": "final",
                          "code": {"text": "血红蛋白"}, "valueQuantity": {"value": "abc"}}},
        ],
    }  # fmt: skip
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(bundle), "utf-8")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert any("#entry[0] Patient/p1: gender" in line and "mal" in line for line in lines)
    assert any("#entry[1] Encounter/e1: reference Patient/nope" in line for line in lines)
    assert any("#entry[2] Observation/o1: valueQuantity.value" in line for line in lines)
    assert "3 resources checked" in result.output


def test_ndjson_lines_and_unreadable_lines_are_located(tmp_path):
    good = {"resourceType": "Patient", "id": "p1", "gender": "female"}
    path = tmp_path / "Patient.ndjson"
    path.write_text(json.dumps(good) + "\n{not json\n", "utf-8")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1 and f"{path}:2: not JSON" in result.output


def test_sampling_keeps_referenced_resources():
    patients = [{"resourceType": "Patient", "id": f"p{i}"} for i in range(30_000)]
    obs = [{"resourceType": "Observation", "id": "o1", "subject": {"reference": "Patient/p29999"}}]
    mode, sample = _validation("auto", {"Patient": patients, "Observation": obs})
    assert mode == "sample" and len(sample["Patient"]) < 3_000
    assert any(p["id"] == "p29999" for p in sample["Patient"])
    assert _validation("none", {"Patient": patients})[0] == "none"


def test_run_with_bundle_writes_idempotent_transactions_that_pass_the_gate(tmp_path):
    outs = []
    for name in ("one", "two"):
        out = tmp_path / name
        args = ["run", str(ROOT / "samples" / "vendor-a"), "-o", str(out), "-q", "--no-store"]
        result = runner.invoke(app, [*args, "--bundle"])
        assert result.exit_code == 0, result.output
        outs.append(out)
    bundles = sorted((outs[0] / "bundles").glob("bundle-*.json"))
    assert bundles
    entries = [e for b in bundles for e in json.loads(b.read_text("utf-8"))["entry"]]
    assert all(e["request"]["method"] == "PUT" for e in entries)
    assert {e["resource"]["resourceType"] for e in entries} >= {"Patient", "Claim"}
    ndjson = sum(
        len(p.read_text("utf-8").splitlines()) for p in (outs[0] / "fhir").glob("*.ndjson")
    )
    assert len(entries) == ndjson
    gate = runner.invoke(app, ["validate", str(outs[0] / "bundles")])
    assert gate.exit_code == 0, gate.output
    for a, b in zip(bundles, sorted((outs[1] / "bundles").glob("bundle-*.json")), strict=True):
        assert a.read_bytes() == b.read_bytes()


def test_an_id_that_is_not_the_stable_one_is_reported(tmp_path):
    from hutong.mapping.fhir.ids import resource_id

    system = "urn:hutong:sid:vendor-a:medcasno"
    good = {"resourceType": "Patient", "id": resource_id(system, "B1"),
            "identifier": [{"system": system, "value": "B1"}]}  # fmt: skip
    bad = {**good, "id": "0f0f0f0f-0000-4000-8000-000000000000",
           "identifier": [{"system": system, "value": "B2"}]}  # fmt: skip
    path = tmp_path / "Patient.ndjson"
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n", "utf-8")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert f"{path}:2 Patient/0f0f0f0f-0000-4000-8000-000000000000: id:" in result.output
    assert "1 errors" in result.output
