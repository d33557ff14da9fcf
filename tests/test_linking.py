"""Linking rows across files and systems: merges, duplicates, superseded results, orphans."""

from __future__ import annotations

import pandas as pd

from hutong.linking import link
from hutong.model import SCHEMAS


def frames(**rows: list[dict]) -> dict[str, pd.DataFrame]:
    out = {}
    for table, schema in SCHEMAS.items():
        out[table] = pd.DataFrame(rows.get(table, []), columns=schema.names)
    return out


def prov(source: str, locator: str) -> dict:
    return {"source": source, "locator": locator, "vendor": "v"}


def patient(pid: str, source: str = "his.csv", loc: str = "his.csv:2") -> dict:
    return {"patient_id": pid, "name": f"患者{pid}", **prov(source, loc)}


def stay(mdtrt: str, pid: str, source: str = "his.csv", loc: str = "his.csv:2") -> dict:
    return {"mdtrt_id": mdtrt, "patient_id": pid, "enc_class": "IMP", **prov(source, loc)}


def result(oid: str, pid: str, value: float, source: str, loc: str, mdtrt=None) -> dict:
    return {"observation_id": oid, "patient_id": pid, "mdtrt_id": mdtrt, "local_name": "血红蛋白",
            "value_num": value, **prov(source, loc)}  # fmt: skip


def test_a_later_hl7_message_supersedes_an_earlier_result():
    t = frames(
        patient=[patient("P1", "lab.hl7", "lab.hl7#1")],
        observation=[result("R1/1", "P1", 120, "lab.hl7", "lab.hl7#1/OBX[1]"),
                     result("R1/1", "P1", 125, "lab.hl7", "lab.hl7#2/OBX[1]")],
    )  # fmt: skip
    out, rejects, notes = link(t, {"lab.hl7"})
    assert rejects == [] and list(out["observation"]["value_num"]) == [125]
    assert notes["observation: superseded by a later message"] == 1


def test_an_export_sending_one_id_twice_with_other_content_is_a_duplicate_record():
    t = frames(
        patient=[patient("P1")],
        observation=[result("R1/1", "P1", 120, "lis.csv", "lis.csv:2"),
                     result("R1/1", "P1", 120, "lis.csv", "lis.csv:3"),
                     result("R1/1", "P1", 99, "lis.csv", "lis.csv:4")],
    )  # fmt: skip
    out, rejects, _ = link(t)
    assert [(r.reason, r.locator) for r in rejects] == [("duplicate", "lis.csv:4")]
    assert list(out["observation"]["value_num"]) == [120]


def test_a_visit_number_of_another_patient_is_rejected_and_links_are_dropped():
    t = frames(
        patient=[patient("P1"), patient("P2", "doc.xml", "doc.xml"),
                 patient("P2", "lab.hl7", "lab.hl7#1")],
        encounter=[stay("V1", "P1"), stay("V1", "P2", "doc.xml", "doc.xml")],
        observation=[result("O1", "P2", 1.0, "lab.hl7", "lab.hl7#1/OBX[1]", mdtrt="V1")],
    )  # fmt: skip
    out, rejects, notes = link(t, {"doc.xml", "lab.hl7"})
    assert [(r.reason, r.source) for r in rejects] == [("duplicate", "doc.xml")]
    assert "already belongs to patient 'P1'" in rejects[0].message
    assert list(out["encounter"]["patient_id"]) == ["P1"]
    assert out["observation"]["mdtrt_id"].isna().all()
    assert any("visit link dropped" in k for k in notes)


def test_merges_apply_and_orphans_take_their_whole_record():
    t = frames(
        patient=[patient("OLD"), patient("NEW", "adt.hl7", "adt.hl7#1")],
        patient_link=[{"patient_id": "NEW", "merged_id": "OLD", **prov("adt.hl7", "adt.hl7#2")}],
        encounter=[stay("V1", "OLD")],
        diagnosis=[{"mdtrt_id": "V9", "seq": 1, **prov("his.csv", "his.csv:5/1")},
                   {"mdtrt_id": "V1", "seq": 1, **prov("his.csv", "his.csv:2/1")}],
        observation=[result("O1", "GONE", 1.0, "lab.hl7", "lab.hl7#3/OBX[1]")],
    )  # fmt: skip
    out, rejects, _ = link(t, {"adt.hl7", "lab.hl7"})
    assert list(out["encounter"]["patient_id"]) == ["NEW"]
    assert sorted((r.reason, r.locator) for r in rejects) == [
        ("orphan", "his.csv:5"),
        ("orphan", "lab.hl7#3"),
    ]
    assert list(out["diagnosis"]["mdtrt_id"]) == ["V1"]
