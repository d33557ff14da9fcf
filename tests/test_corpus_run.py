"""Every real third-party file of ../shared/corpus through `hutong run`: each record converted or
rejected with a reason, NEG files rejected, and every FHIR resource written valid."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import SHARED, need, references
from hutong.cli import app

FOLDERS = ("hl7v2", "cda", "dicom")


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory) -> Path:
    corpus = need(SHARED / "corpus", "the real-file corpus (../shared/corpus)")
    out = tmp_path_factory.mktemp("corpus") / "out"
    inputs = [str(corpus / f) for f in FOLDERS]
    result = CliRunner().invoke(app, ["run", *inputs, "--out", str(out), "-q", "--no-store"])
    assert result.exit_code == 0, result.output
    return out


def test_every_corpus_file_is_accounted_for(corpus_run):
    manifest = json.loads((corpus_run / "manifest.json").read_text("utf-8"))
    corpus = SHARED / "corpus"
    expected = {p.as_posix() for f in FOLDERS for p in (corpus / f).rglob("*") if p.is_file()}
    seen = {entry["file"] for entry in manifest["inputs"]}
    assert seen == expected
    for entry in manifest["inputs"]:
        assert entry["read"] >= 1, entry["file"]
        assert entry["read"] == entry["converted"] + entry["rejected"], entry
        if "_NEG_" in Path(entry["file"]).name:
            assert entry["rejected"] >= 1, f"{entry['file']} must be rejected"
    rejects = [json.loads(line) for line in (corpus_run / "rejects.ndjson").open()]
    assert all(r["reason"] and r["message"] and r["locator"] for r in rejects)
    assert sum(e["rejected"] for e in manifest["inputs"]) == len(rejects)
    assert manifest["fhir"]["dropped"] == []  # every converted record reached the FHIR output


def test_every_fhir_resource_written_validates(corpus_run):
    from fhir.resources.R4B import get_fhir_model_class

    ids, refs = set(), []
    for path in sorted((corpus_run / "fhir").glob("*.ndjson")):
        model = get_fhir_model_class(path.stem)
        for line in path.read_text("utf-8").splitlines():
            data = json.loads(line)
            model.model_validate(data)
            ids.add(f"{path.stem}/{data['id']}")
            refs.extend(references(data))
    assert {"Patient", "Observation", "DiagnosticReport", "ImagingStudy"} <= {
        i.split("/")[0] for i in ids
    }
    assert [r for r in refs if r not in ids] == []
