"""``emit_fhir`` never puts a float in a resource: every FHIR decimal is a ``Decimal``.

A run writes its resources with ``write_ndjson(..., floats=False)``, which skips looking for a
float orjson would spell unlike ``json``; this is what makes that safe. Checked on the real
third-party corpus (HL7 v2, CDA, DICOM read by their adapters) and on the emitters' own
fixtures (face sheet, clinical and claim tables)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from conftest import SHARED, floats_in, need
from hutong.adapters.detect import detect, reader
from hutong.linking import link
from hutong.mapping.fhir import emit_fhir
from hutong.mapping.fhir.ndjson import ndjson_bytes
from hutong.model import SCHEMAS, canonical


def test_the_walk_finds_a_float():
    resources = {"Observation": [{"id": "o", "valueQuantity": {"value": 7.1}, "x": [1, 0.5]}]}
    assert floats_in(resources) == ["Observation/o.valueQuantity.value", "Observation/o.x[1]"]


@pytest.fixture(scope="module")
def corpus_resources() -> dict[str, list[dict]]:
    """The corpus's HL7 v2, CDA and DICOM files through their adapters, linked and emitted."""
    corpus = need(SHARED / "corpus", "the real-file corpus (../shared/corpus)")
    parts: dict[str, list[pd.DataFrame]] = {t: [] for t in SCHEMAS}
    sources = set()
    for folder in ("hl7v2", "cda", "dicom"):
        for path in sorted(p for p in (corpus / folder).rglob("*") if p.is_file()):
            kind = detect(path)
            if kind not in ("hl7v2", "cda", "dicom"):
                continue
            sources.add(path.as_posix())
            for batch in reader(kind)(Path(path)):
                for table, frame in batch.tables.items():
                    parts[table].append(frame)
    tables = {t: pd.concat(p, ignore_index=True) for t, p in parts.items() if p}
    tables = {t: tables.get(t, canonical(t, pd.DataFrame())) for t in SCHEMAS}
    tables, _, _ = link(tables, sources)
    return emit_fhir({t: canonical(t, f) for t, f in tables.items()}, [])


def test_corpus_resources_hold_no_float(corpus_resources):
    kinds = {k for k, items in corpus_resources.items() if items}
    assert {"Patient", "Encounter", "Observation", "DiagnosticReport", "ImagingStudy"} <= kinds
    numbers = [r for r in corpus_resources["Observation"] if "value" in r.get("valueQuantity", {})]
    assert numbers  # the walk below looks at real numbers, not only text
    assert floats_in(corpus_resources) == []


def test_corpus_lines_are_the_same_without_the_float_check(corpus_resources):
    for items in corpus_resources.values():
        for resource in items:
            assert ndjson_bytes(resource, floats=False) == ndjson_bytes(resource)


def test_a_float_is_still_spelled_as_json_spells_it_by_default():
    resource = {"id": "x", "value": 1e-05}
    assert ndjson_bytes(resource) == b'{"id":"x","value":1e-05}'
