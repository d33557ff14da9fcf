"""Claim per inpatient stay from the charge table, and transaction Bundles of the output."""

from __future__ import annotations

import json
from decimal import Decimal

import pandas as pd
import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.claim import Claim

from conftest import floats_in
from hutong.mapping.fhir import emit_fhir, validate, write_bundles
from hutong.mapping.fhir.bundle import ordered
from hutong.mapping.fhir.ids import resource_id
from hutong.mapping.fhir.systems import valueset_system
from hutong.model import Reject
from test_fhir_emit import canonical, tables


def charges() -> pd.DataFrame:
    rows = [
        ("ZY001", "01", 120.0, "CW"),
        ("ZY001", "03", 0.1, "CT"),
        ("ZY001", "03", 0.2, "MR"),
        ("ZY001", "09", 12.345, "XY"),  # rounds half up to 12.35
        ("ZY002", "07", 33.0, "HL"),
        ("ZY002", "99", 5.0, "??"),  # not a fee category
        ("ZY002", None, 5.0, "NA"),  # no fee category
        ("ZY002", "01", None, "NO"),  # no amount
        ("ZY999", "01", 8.0, "CW"),  # no such stay
    ]
    return canonical(
        "charge",
        [
            {"mdtrt_id": stay, "med_chrgitm": fee, "amt": amt, "item_local_code": local}
            for stay, fee, amt, local in rows
        ],
    )


def billed() -> dict[str, pd.DataFrame]:
    given = tables()
    given["encounter"] = given["encounter"].assign(
        fixmedins_name="北京协和医院", hi_type=["1", None]
    )
    given["charge"] = charges()
    return given


@pytest.fixture(scope="module")
def emitted() -> tuple[dict[str, list[dict]], list[Reject]]:
    rejects: list[Reject] = []
    return emit_fhir(billed(), rejects), rejects


def test_claim_amounts_are_decimals_never_floats(emitted):
    resources, _ = emitted
    assert resources["Claim"]
    assert floats_in(resources) == []  # what write_ndjson(floats=False) relies on


def claim_of(resources: dict[str, list[dict]], stay: str) -> dict:
    return next(c for c in resources["Claim"] if c["identifier"][0]["value"] == stay)


def test_one_claim_per_billed_stay_that_validates(emitted):
    resources, _ = emitted
    assert len(resources["Claim"]) == 2
    assert validate(resources) == []
    for resource in resources["Claim"]:
        Claim.model_validate(resource)


def test_claim_items_are_fee_category_sums_in_exact_decimals(emitted):
    resources, _ = emitted
    claim = claim_of(resources, "ZY001")
    encounter = next(
        e
        for e in resources["Encounter"]
        if e["id"] in claim["item"][0]["encounter"][0]["reference"]
    )
    system = valueset_system("med_chrgitm")
    items = [
        (
            i["sequence"],
            i["productOrService"]["coding"][0]["system"],
            i["productOrService"]["coding"][0]["code"],
            i["productOrService"]["coding"][0]["display"],
            i["net"],
        )
        for i in claim["item"]
    ]
    assert items == [
        (1, system, "01", "床位费", {"value": Decimal("120.00"), "currency": "CNY"}),
        (2, system, "03", "检查费", {"value": Decimal("0.30"), "currency": "CNY"}),
        (3, system, "09", "西药费", {"value": Decimal("12.35"), "currency": "CNY"}),
    ]
    assert claim["total"] == {"value": Decimal("132.65"), "currency": "CNY"}
    assert sum(i["net"]["value"] for i in claim["item"]) == claim["total"]["value"]
    assert all(
        i["encounter"] == [{"reference": f"Encounter/{encounter['id']}"}] for i in claim["item"]
    )


def test_claim_header(emitted):
    resources, _ = emitted
    claim = claim_of(resources, "ZY001")
    assert claim["id"] == resource_id("urn:hutong:sid:vendor-a:claim", "ZY001")
    assert claim["status"] == "active" and claim["use"] == "claim"
    assert claim["type"]["coding"][0] == {
        "system": "http://terminology.hl7.org/CodeSystem/claim-type",
        "code": "institutional",
    }
    assert claim["priority"]["coding"][0]["code"] == "normal"
    assert claim["created"] == "2025-03-05T18:30:00+08:00"
    assert claim["provider"] == {"display": "北京协和医院"}
    assert claim["insurance"] == [
        {"sequence": 1, "focal": True, "coverage": {"display": "医保 职工基本医疗保险"}}
    ]
    assert claim_of(resources, "ZY002")["insurance"][0]["coverage"] == {"display": "医保"}
    encounter = next(e for e in resources["Encounter"] if e["identifier"][0]["value"] == "ZY001")
    assert claim["patient"] == encounter["subject"]
    conditions = [d["condition"] for d in encounter["diagnosis"]]
    assert [d["diagnosisReference"] for d in claim["diagnosis"]] == conditions
    assert [d["sequence"] for d in claim["diagnosis"]] == [1, 2, 3]


def test_bad_charge_rows_are_rejected_not_summed(emitted):
    resources, rejects = emitted
    charge = [r for r in rejects if "charge" in r.message]
    assert sorted((r.reason, r.field) for r in charge) == [
        ("missing_value", "amt"),
        ("missing_value", "med_chrgitm"),
        ("orphan", "mdtrt_id"),
        ("unknown_code", "med_chrgitm"),
    ]
    assert claim_of(resources, "ZY002")["total"]["value"] == Decimal("33.00")


def test_no_claim_without_charges_or_for_outpatient_visits():
    assert "Claim" not in emit_fhir(tables())
    given = billed()
    given["encounter"] = given["encounter"].assign(enc_class="AMB")
    rejects: list[Reject] = []
    assert emit_fhir(given, rejects)["Claim"] == []
    assert {r.reason for r in rejects if "charge" in r.message} >= {"orphan"}


def test_claim_falls_back_to_admission_time():
    given = billed()
    given["encounter"] = given["encounter"].assign(dscg_time=pd.NaT)
    claim = claim_of(emit_fhir(given), "ZY001")
    assert claim["created"] == "2025-03-05T08:00:00+08:00"


# ---- bundles ---------------------------------------------------------------------------------


def read(paths) -> list[dict]:
    return [json.loads(p.read_text("utf-8")) for p in paths]


def check_bundles(paths, resources) -> list[dict]:
    bundles = read(paths)
    seen = []
    for bundle in bundles:
        Bundle.model_validate(bundle)
        assert bundle["type"] == "transaction"
        for entry in bundle["entry"]:
            resource = entry["resource"]
            name = f"{resource['resourceType']}/{resource['id']}"
            assert entry["request"] == {"method": "PUT", "url": name}
            assert entry["fullUrl"] == f"urn:uuid:{resource['id']}"
            seen.append(name)
    expected = [f"{r['resourceType']}/{r['id']}" for r in ordered(resources)]
    assert seen == expected  # every resource exactly once, in bundle order
    assert len(set(seen)) == len(seen)
    return bundles


def test_bundle_order_puts_patients_first(emitted):
    resources, _ = emitted
    kinds = [r["resourceType"] for r in ordered(resources)]
    firsts = list(dict.fromkeys(kinds))
    assert firsts[:5] == ["Patient", "Encounter", "Condition", "Procedure", "Claim"]


def test_one_bundle_holds_everything(emitted, tmp_path):
    resources, _ = emitted
    paths = write_bundles(resources, tmp_path)
    assert [p.name for p in paths] == ["bundle-0001.json"]
    check_bundles(paths, resources)


def test_bundles_split_by_entry_count(emitted, tmp_path):
    resources, _ = emitted
    total = sum(len(v) for v in resources.values())
    paths = write_bundles(resources, tmp_path, max_entries=3)
    assert len(paths) == -(-total // 3)
    bundles = check_bundles(paths, resources)
    assert all(len(b["entry"]) <= 3 for b in bundles)


def test_bundles_split_by_bytes(emitted, tmp_path):
    resources, _ = emitted
    largest = max(
        len(json.dumps(r, ensure_ascii=False, default=str).encode()) for r in ordered(resources)
    )
    limit = largest * 2 + 400
    paths = write_bundles(resources, tmp_path, max_bytes=limit)
    assert len(paths) > 1
    check_bundles(paths, resources)
    assert all(len(p.read_bytes().rstrip(b"\n")) <= limit for p in paths)
    # decimals keep their two places in the written JSON
    assert '"value":132.65' in "".join(p.read_text("utf-8") for p in paths)


def test_entry_larger_than_max_bytes_is_an_error(emitted, tmp_path):
    resources, _ = emitted
    with pytest.raises(ValueError, match="over max_bytes"):
        write_bundles(resources, tmp_path, max_bytes=200)


def test_bundles_are_deterministic_and_rewrite_cleanly(emitted, tmp_path):
    resources, _ = emitted
    first = [p.read_bytes() for p in write_bundles(resources, tmp_path / "a", max_entries=4)]
    again = emit_fhir(billed())
    second = write_bundles(again, tmp_path / "b", max_entries=4)
    assert first == [p.read_bytes() for p in second]
    # a smaller re-run into the same folder leaves no stale bundle files behind
    fewer = write_bundles(resources, tmp_path / "b", max_entries=1000)
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == [p.name for p in fewer]
