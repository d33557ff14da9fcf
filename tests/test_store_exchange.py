"""Mappings out and back in: FHIR R4 ConceptMap and CSV round-trip without losing anything."""

from __future__ import annotations

import copy
from dataclasses import asdict

import pytest
from fhir.resources.R4B.conceptmap import ConceptMap

from hutong.terminologies.codesystem import DIAGNOSIS, sample_code_system
from hutong.terminologies.conceptmap import (
    CSV_COLUMNS,
    export_conceptmap,
    export_csv,
    import_conceptmap,
    import_csv,
)
from stores import LOCAL, new_store_fixture, store_fixture, store_url_fixture  # noqa: F401

KEPT = ("local_system", "local_code", "local_name", "target", "target_version", "code", "display")
REVIEW = ("status", "equivalence", "score", "author", "reviewer", "comment")


def curated(store):
    """A small curated map: every status, a name-only term, a comment, a narrower map."""
    chd = store.propose(
        LOCAL, "L001", "冠心病", DIAGNOSIS, [("I25.103", "", 0.92), ("I20.000", "", 0.4)]
    )
    store.decide(chd[0].id, "approve", "alice", 1, comment="查阅病历")
    store.decide(chd[1].id, "reject", "alice", 1)
    store.propose(LOCAL, None, "高血压", DIAGNOSIS, [("I10.x00x002", "", 0.99)], status="auto")
    [mi] = store.propose(LOCAL, "L003", "心梗", DIAGNOSIS, [("I21.401", "", 0.6)], author="matcher")
    store.decide(mi.id, "approve", "bob", 1, equivalence="narrower", comment="非ST段抬高型")
    store.propose(LOCAL, "L004", "", DIAGNOSIS, [("I63.900", "", None)])
    [ob] = store.propose(LOCAL, "L005", "肥胖", DIAGNOSIS, [("E66.900", "", 0.7)])
    store.decide(ob.id, "flag", "carol", 1, comment="请复核")
    [hk] = store.propose(LOCAL, "L006", "低钾", DIAGNOSIS, [("E87.600", "", 0.3)])
    store.decide(hk.id, "ignore", "carol", 1)


def rows(store):
    return [{k: asdict(m)[k] for k in KEPT + REVIEW} for m in store.mappings()]


def test_the_export_is_a_valid_r4_conceptmap_carrying_the_review_state(store):
    curated(store)
    doc = export_conceptmap(store, LOCAL, DIAGNOSIS)
    ConceptMap.model_validate(doc)
    assert doc["url"] == "urn:hutong:conceptmap:vendor-a:diagnosis:icd10-yb-2.0"
    assert (doc["sourceUri"], doc["targetUri"]) == (
        "urn:hutong:cs:local:vendor-a:diagnosis", "urn:hutong:cs:icd10-yb-2.0",
    )  # fmt: skip
    assert doc["status"] == "draft"  # unreviewed and flagged mappings remain
    [group] = doc["group"]
    assert group["targetVersion"] == "2.0"
    by_name = {e["display"]: e for e in group["element"] if "display" in e}
    assert "code" not in by_name["高血压"]  # a term known by name only
    assert "display" not in next(e for e in group["element"] if e.get("code") == "L004")
    chd = {t["code"]: t for t in by_name["冠心病"]["target"]}
    assert chd["I25.103"]["comment"] == "查阅病历"
    assert {
        x["url"]: next(v for k, v in x.items() if k != "url") for x in chd["I25.103"]["extension"]
    } == {
        "urn:hutong:ext:map-status": "approved",
        "urn:hutong:ext:author": "hutong",
        "urn:hutong:ext:reviewer": "alice",
        "urn:hutong:ext:score": 0.92,
    }
    assert export_conceptmap(store, LOCAL, DIAGNOSIS) == doc  # deterministic
    applied = export_conceptmap(store, LOCAL, DIAGNOSIS, statuses=("approved", "auto"))
    assert applied["status"] == "active" and applied["version"] != doc["version"]
    assert sum(len(e["target"]) for e in applied["group"][0]["element"]) == 3


def test_conceptmap_round_trips_into_a_fresh_store(store, new_store):
    curated(store)
    doc = export_conceptmap(store, LOCAL, DIAGNOSIS)
    fresh = new_store()
    fresh.save_code_system(sample_code_system(DIAGNOSIS))
    assert import_conceptmap(fresh, copy.deepcopy(doc), "dave") == {
        "created": 7, "updated": 0, "unchanged": 0,
    }  # fmt: skip
    assert export_conceptmap(fresh, LOCAL, DIAGNOSIS) == doc
    assert rows(fresh) == rows(store)
    assert fresh.history(fresh.mappings()[0].id)[-1]["actor"] == "dave"
    assert import_conceptmap(fresh, doc, "dave")["unchanged"] == 7  # importing again: no-op


def test_an_import_updates_changed_rows_and_keeps_one_applied_mapping(store):
    curated(store)
    doc = export_conceptmap(store, LOCAL, DIAGNOSIS)
    chd = next(e for e in doc["group"][0]["element"] if e.get("code") == "L001")
    for target in chd["target"]:  # another team approved the other candidate
        status = "approved" if target["code"] == "I20.000" else "rejected"
        target["extension"][0]["valueCode"] = status
    assert import_conceptmap(store, doc, "erin") == {"created": 0, "updated": 2, "unchanged": 5}
    approved = store.approved(DIAGNOSIS)
    assert approved.loc[approved["local_code"] == "L001", "code"].tolist() == ["I20.000"]


def test_imports_refuse_foreign_or_inconsistent_documents(store):
    curated(store)
    doc, before = export_conceptmap(store, LOCAL, DIAGNOSIS), rows(store)
    with pytest.raises(ValueError, match="unknown local system 'vendor-b:diagnosis'"):
        export_conceptmap(store, "vendor-b:diagnosis", DIAGNOSIS)
    with pytest.raises(ValueError, match=r"unknown code system 'icd9cm3-yb-2\.0'"):
        export_conceptmap(store, LOCAL, "icd9cm3-yb-2.0")
    with pytest.raises(ValueError, match="sourceUri 'http://x' is not a hutong system URI"):
        import_conceptmap(store, {**doc, "sourceUri": "http://x"}, "erin")
    with pytest.raises(ValueError, match="status"):
        import_conceptmap(store, {k: v for k, v in doc.items() if k != "status"}, "erin")
    bad = copy.deepcopy(doc)
    bad["group"][0]["element"][0]["target"][0]["code"] = "X99.999"
    with pytest.raises(ValueError, match=r"group\[0\]\.element\[0\]\.target\[0\]: .*X99\.999"):
        import_conceptmap(store, bad, "erin")
    bad = copy.deepcopy(doc)
    bad["group"][0]["targetVersion"] = "9.9"
    with pytest.raises(ValueError, match=r"no version '9\.9'"):
        import_conceptmap(store, bad, "erin")
    assert rows(store) == before  # nothing half-imported


def test_csv_round_trips_into_a_fresh_store(store, new_store, tmp_path):
    curated(store)
    path = tmp_path / "mappings.csv"
    assert export_csv(store, path) == 7
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # BOM: Excel opens it as UTF-8
    assert path.read_text(encoding="utf-8-sig").splitlines()[0] == ",".join(CSV_COLUMNS)
    fresh = new_store()
    fresh.save_code_system(sample_code_system(DIAGNOSIS))
    assert import_csv(fresh, path, "dave")["created"] == 7
    assert rows(fresh) == rows(store)
    again = tmp_path / "again.csv"
    export_csv(fresh, again)
    assert again.read_bytes() == path.read_bytes()


def test_a_csv_with_a_bad_line_names_it_and_imports_nothing(store, tmp_path):
    path = tmp_path / "edited.csv"
    path.write_text(
        ",".join(CSV_COLUMNS[:-1]) + "\n"
        f"{LOCAL},L1,脑梗,{DIAGNOSIS},I63.900,,approved,equivalent,0.9,alice,,\n"
        f"{LOCAL},L2,贫血,{DIAGNOSIS},D64.901,,approve,equivalent,,alice,,\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match=r"edited.csv:3: status 'approve' is not one of"):
        import_csv(store, path, "dave")
    assert store.mappings() == []
