"""The CDA adapter on the real C-CDA corpus and on small hand-written documents."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest

from conftest import SHARED, need
from hutong.adapters import cda
from hutong.adapters.batch import Batch, record_of
from hutong.adapters.detect import head_of
from hutong.model import SCHEMAS, conform


@pytest.fixture(scope="module")
def corpus() -> Path:
    """../shared/corpus/cda: 22 C-CDA examples (HL7 and Microsoft), one NEG fragment."""
    return need(SHARED / "corpus" / "cda", "the C-CDA corpus (../shared/corpus/cda)")


def one(path: Path) -> Batch:
    batches = list(cda.read(path))
    assert len(batches) == 1
    return batches[0]


def test_every_corpus_document_is_converted_or_rejected(corpus):
    files = sorted(corpus.glob("*.xml"))
    assert len(files) == 22
    for path in files:
        batch = one(path)
        assert batch.read == 1 and batch.kind == "cda"
        converted = bool(batch.tables) and not batch.rejects
        assert converted != bool(batch.rejects), path.name
        if "_NEG_" in path.name:
            assert [r.reason for r in batch.rejects] == ["malformed"]
            assert "xsi" in batch.rejects[0].message
            continue
        assert converted, batch.rejects
        assert cda.sniff(head_of(path), path), path.name
        for table, frame in batch.tables.items():
            conform(table, frame)  # every frame fits its canonical schema
            assert (frame["source"] == path.as_posix()).all()
            assert frame["locator"].map(record_of).eq(path.name).all()


def test_the_neg_fragment_is_not_a_cda_document(corpus):
    path = corpus / "hl7_NEG_fragment_section_undeclared_xsi.xml"
    assert not cda.sniff(head_of(path), path)


def test_ccd_patient_results_and_vital_signs(corpus):
    batch = one(corpus / "hl7_CCD_1.xml")
    patient = batch.tables["patient"].iloc[0]
    assert patient["patient_id"] == "2.16.840.1.113883.4.1|444222222"  # only an SSN: root|ext
    assert patient["name"] == "Eve Betterhalf"
    assert (patient["gend"], patient["gend_local"]) == ("2", "F")
    assert patient["brdy"] == date(1975, 5, 1)
    assert patient["poscode"] == "97867" and patient["tel"] == "+1(555)555-2003"
    obs = batch.tables["observation"].set_index("local_code")
    hb = obs.loc["718-7"]
    assert (hb["local_name"], hb["value_num"], hb["unit"]) == ("Hemoglobin", 13.2, "g/dL")
    assert (hb["code_system"], hb["value_type"], hb["category"]) == ("loinc", "NM", "laboratory")
    assert (hb["ref_low"], hb["ref_high"], hb["abnormal_flag"]) == (12.0, 15.5, "N")
    assert hb["effective_time"] == datetime(2008, 3, 19, 8, 30)
    assert obs.loc["777-3", "abnormal_flag"] == "LL"  # v3 LX (below low threshold) → v2 LL
    report = batch.tables["report"].set_index("report_id").loc[hb["report_id"]]
    assert (report["local_code"], report["category"], report["status"]) == (
        "57021-8",
        "LAB",
        "final",
    )
    vitals = obs[obs["category"] == "vital-signs"].reset_index()
    assert vitals[["local_code", "value_num", "unit"]].values.tolist()[:3] == [
        ["8302-2", 177.0, "cm"],
        ["3141-9", 86.0, "kg"],
        ["8480-6", 132.0, "mm[Hg]"],
    ]
    meds = batch.tables["medication"].set_index("local_code")
    assert meds.loc["197380", ["code_system", "frequency", "route"]].tolist() == [
        "rxnorm",
        "every 12 h",
        "Oral Route of Administration",
    ]


def test_contact_address_from_the_participant_and_no_employer_without_one(corpus):
    """联系人地址 is the contact participant's address; C-CDA has no employerOrganization, so
    工作单位 is unknown (None), never the face sheet's '-' (none)."""
    patient = one(corpus / "hl7_CCD_1.xml").tables["patient"].iloc[0]
    assert patient["coner_name"] == "Boris Bo Betterhalf"
    assert patient["coner_addr"] == "2222 Home Street, Beaverton, OR, US"
    assert patient[["emp_name", "emp_addr", "emp_tel"]].isna().all()


def test_problems_without_an_encounter_are_noted_not_dropped_silently(corpus):
    batch = one(corpus / "hl7_CCD_1.xml")
    assert "diagnosis" not in batch.tables and "encounter" not in batch.tables
    assert any("4 problems without an encounter" in n for n in batch.notes)
    assert any("sections not converted" in n and "48765-2" in n for n in batch.notes)


def test_discharge_summary_encounter_problems_and_procedures(corpus):
    batch = one(corpus / "hl7_Discharge_Summary.xml")
    enc = batch.tables["encounter"].iloc[0]
    assert enc["mdtrt_id"] == "2.16.840.1.113883.19|9937012"
    assert enc["patient_id"] == "2.16.840.1.113883.19.5.99999.2|998991"  # MRN, not the SSN
    assert enc["enc_class"] == "IMP"  # a discharge disposition means a stay
    assert (enc["adm_time"], enc["dscg_time"]) == (
        datetime(2014, 9, 9, 19, 4),
        datetime(2014, 9, 16, 19, 4),
    )
    assert (enc["dscg_way"], enc["dscg_way_local"]) == ("1", "01")
    dx = batch.tables["diagnosis"]
    assert dx[["seq", "local_code", "local_name"]].values.tolist() == [
        [1, "35064005", "Dark stools"],
        [2, "74400008", "Appendicitis"],
    ]
    assert dx["locator"].str.startswith("hl7_Discharge_Summary.xml/section[11450-4]/").all()
    px = batch.tables["procedure"].iloc[0]
    assert (px["local_code"], px["local_name"]) == ("6025007", "Laparoscopic appendectomy")
    assert px["oprn_oprt_date"] == datetime(2014, 9, 10, 9, 22, 5)


def test_office_visit_is_ambulatory_and_keeps_its_problems(corpus):
    batch = one(corpus / "hl7_History_and_Physical.xml")
    enc = batch.tables["encounter"].iloc[0]
    assert enc["enc_class"] == "AMB"  # CPT 99213
    assert enc["adm_time"] == enc["dscg_time"] == datetime(2009, 2, 27, 13, 0)
    names = batch.tables["diagnosis"]["local_name"].tolist()
    assert names == ["Pneumonia", "Asthma"]


def test_unstructured_and_header_only_documents_keep_patient_with_a_note(corpus):
    for name in ("hl7_Unstructured_embedded_PDF_base64.xml", "ms_sample_Discharge_UD.xml"):
        batch = one(corpus / name)
        assert set(batch.tables) == {"patient"}
        assert any("nonXMLBody" in n for n in batch.notes)
    batch = one(corpus / "hl7_Header_Direct_Address.xml")
    assert set(batch.tables) == {"patient"} and not batch.rejects


def test_corpus_ids_are_stable_and_unique_within_a_document(corpus):
    for path in sorted(corpus.glob("hl7_*.xml")):
        first, again = one(path), one(path)
        for table, frame in first.tables.items():
            pd.testing.assert_frame_equal(frame, again.tables[table])
            key = SCHEMAS[table].names[0]
            if table in ("observation", "report", "medication"):
                assert frame[key].is_unique, (path.name, table)


DOC = """<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment before the root -->
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <id root="1.2.3" extension="doc-1"/>
  <code code="34133-9" codeSystem="2.16.840.1.113883.6.1"/>
  <recordTarget><patientRole>
    <id root="2.16.840.1.113883.4.1" extension="111-22-3333"/>
    <id root="1.2.3.4" extension="MRN7"/>
    <patient>
      <id root="2.16.156.10011.1.3" extension="110101199003070011"/>
      <name><family>张</family><given>三</given></name>
      <administrativeGenderCode code="UN" codeSystem="2.16.840.1.113883.5.1"/>
      <birthTime value="19900307"/>
    </patient>
  </patientRole></recordTarget>
  <componentOf><encompassingEncounter>
    <id root="1.2.3.5" extension="V1"/>
    <code code="EMER" codeSystem="2.16.840.1.113883.5.4"/>
    <effectiveTime>
      <low value="20240101083000+0800"/><high value="20240101120000+0800"/>
    </effectiveTime>
  </encompassingEncounter></componentOf>
  <component><structuredBody><component><section>
    <code code="11450-4" codeSystem="2.16.840.1.113883.6.1"/>
    <entry><act classCode="ACT" moodCode="EVN"><entryRelationship typeCode="SUBJ">
      <observation classCode="OBS" moodCode="EVN">
        <value xsi:type="CD" code="38341003" codeSystem="2.16.840.1.113883.6.96"
               displayName="Hypertension">
          <translation code="I10" codeSystem="2.16.840.1.113883.6.90" displayName="Essential HTN"/>
        </value>
      </observation>
    </entryRelationship></act></entry>
    <entry><observation classCode="OBS" moodCode="EVN" negationInd="true">
      <value xsi:type="CD" code="55607006" codeSystem="2.16.840.1.113883.6.96"/>
    </observation></entry>
  </section></component></structuredBody></component>
</ClinicalDocument>
"""


def test_ids_names_and_icd10_translations(tmp_path):
    path = tmp_path / "doc.xml"
    path.write_text(DOC, "utf-8")
    assert cda.sniff(head_of(path), path)
    batch = one(path)
    patient = batch.tables["patient"].iloc[0]
    assert patient["patient_id"] == "1.2.3.4|MRN7" and patient["medcasno"] == "MRN7"
    assert (patient["certno"], patient["patn_cert_type"]) == ("110101199003070011", "01")
    assert (patient["name"], patient["gend"], patient["gend_local"]) == ("张三", "9", "UN")
    enc = batch.tables["encounter"].iloc[0]
    assert (enc["mdtrt_id"], enc["enc_class"]) == ("1.2.3.5|V1", "EMER")
    assert enc["adm_time"] == datetime(2024, 1, 1, 8, 30)  # local wall time, offset dropped
    dx = batch.tables["diagnosis"]
    assert dx[["local_code", "local_name"]].values.tolist() == [["I10", "Essential HTN"]]
    assert any("negated" in n for n in batch.notes)


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b'<?xml version="1.0"?><ClinicalDocument xmlns="urn:hl7-org:v3">', True),
        (b"\xef\xbb\xbf<ClinicalDocument xmlns='urn:hl7-org:v3'>", True),
        (b'<!-- x --><v3:ClinicalDocument xmlns:v3="urn:hl7-org:v3">', True),
        ('<ClinicalDocument xmlns="urn:hl7-org:v3">'.encode("utf-16"), True),
        (b'<!DOCTYPE x [<!ENTITY a "b">]><ClinicalDocument xmlns="urn:hl7-org:v3">', True),
        (b"<ClinicalDocument>", False),  # no HL7 v3 namespace
        (b'<section xmlns="urn:hl7-org:v3">', False),
        (b"MSH|^~\\&|LAB|", False),
        (b"\x00\x01\x02", False),
    ],
)
def test_sniff(head, expected):
    assert cda.sniff(head, Path("x.xml")) is expected


def test_missing_patient_id_is_one_reject(tmp_path):
    path = tmp_path / "anon.xml"
    path.write_text(
        '<ClinicalDocument xmlns="urn:hl7-org:v3"><recordTarget><patientRole>'
        "<patient><name>X</name></patient></patientRole></recordTarget></ClinicalDocument>"
    )
    batch = one(path)
    assert [(r.reason, r.locator, r.field) for r in batch.rejects] == [
        ("missing_value", "anon.xml", "recordTarget/patientRole/id")
    ]
    assert batch.tables == {}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("20240305", datetime(2024, 3, 5)),
        ("202403051030", datetime(2024, 3, 5, 10, 30)),
        ("20240305103015.123-0500", datetime(2024, 3, 5, 10, 30, 15)),
        ("20240305103015+0800", datetime(2024, 3, 5, 10, 30, 15)),
        ("2024", None),  # a year is no time for a row
        ("20241305", None),
        ("2024-03-05", None),
        ("", None),
        (None, None),
    ],
)
def test_hl7_timestamps(value, expected):
    from hutong.adapters.cda.document import timestamp

    assert timestamp(value) == expected


def test_other_wst500_documents_keep_their_header(tmp_path):
    path = tmp_path / "c0037.xml"
    path.write_text(
        '<ClinicalDocument xmlns="urn:hl7-org:v3"><templateId root="2.16.156.10011.2.1.1.57"/>'
        '<recordTarget><patientRole><id root="2.16.156.10011.1.13" extension="123"/>'
        '<id root="2.16.156.10011.1.12" extension="ZY9"/><patient><name>李四</name>'
        '<administrativeGenderCode code="2" codeSystem="2.16.156.10011.2.3.3.4"/></patient>'
        "</patientRole></recordTarget></ClinicalDocument>",
        "utf-8",
    )
    batch = one(path)
    assert batch.tables["patient"][["patient_id", "gend", "name"]].values.tolist() == [
        ["123", "2", "李四"]
    ]
    assert batch.tables["encounter"][["mdtrt_id", "patient_id"]].values.tolist() == [["ZY9", "123"]]
    assert any("WS/T 500 document other than" in n for n in batch.notes)
