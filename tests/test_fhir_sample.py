"""The validation sample of a large run: every reference inside the sample resolves, also the
references of the resources pulled in because a sampled one points at them."""

from __future__ import annotations

from hutong.mapping.fhir.gate import SAMPLE_SIZE, validation_sample
from hutong.mapping.fhir.validate import references


def chain(n: int) -> dict[str, list[dict]]:
    """Claims → Encounters → Conditions → Patients, n of each (a sample takes every k-th)."""
    out: dict[str, list[dict]] = {"Patient": [], "Condition": [], "Encounter": [], "Claim": []}
    for i in range(n):
        out["Patient"].append({"resourceType": "Patient", "id": f"p{i}"})
        out["Condition"].append(
            {"resourceType": "Condition", "id": f"c{i}", "subject": {"reference": f"Patient/p{i}"}}
        )
        out["Encounter"].append(
            {"resourceType": "Encounter", "id": f"e{i}",
             "diagnosis": [{"condition": {"reference": f"Condition/c{(i + 1) % n}"}}]}
        )  # fmt: skip
        out["Claim"].append(
            {"resourceType": "Claim", "id": f"x{i}", "item": [
                {"encounter": [{"reference": f"Encounter/e{(i + 2) % n}"}]}]}
        )  # fmt: skip
    return out


def test_sample_is_closed_under_references():
    resources = chain(SAMPLE_SIZE * 4)
    mode, sample = validation_sample("sample", resources)
    total = sum(len(v) for v in sample.values())
    assert mode == "sample" and total < sum(len(v) for v in resources.values())
    ids = {f"{k}/{r['id']}" for k, items in sample.items() for r in items}
    for items in sample.values():
        for r in items:
            for ref in references(r):
                assert ref in ids, ref
