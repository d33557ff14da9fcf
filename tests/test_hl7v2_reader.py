"""The HL7 v2 adapter on small hand-written messages: syntax, charsets, ids and each message type.

The real-file corpus is exercised in test_hl7v2_corpus.py; here every case is a few lines that
say exactly what is under test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

from hutong.adapters import hl7v2
from hutong.adapters.batch import record_of
from hutong.adapters.hl7v2 import er7, profile
from hutong.adapters.hl7v2.values import coded, gb11643, person_name, ref_range, timestamp
from hutong.model import Reject, conform

MSH = "MSH|^~\\&|HIS|H1|ESB||20250301101500||{type}|MSG{n}|P|2.5{tail}"
PID = (
    "PID|1||P001^^^H1^MR~110101199003071234^^^公安部^NNCHN||王^小明||19900307|M|||"
    "建国路8号^^北京^北京市^100022||010-12345678"
)


@dataclass
class Read:
    """Everything ``read`` yielded for one file, batches merged."""

    read: int = 0
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    rejects: list[Reject] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def read(path: Path, **kw) -> Read:
    out = Read()
    parts: dict[str, list[pd.DataFrame]] = {}
    for batch in hl7v2.read(path, **kw):
        assert batch.kind == "hl7v2" and batch.source == path.as_posix()
        out.read += batch.read
        out.rejects += batch.rejects
        out.notes += batch.notes
        for table, frame in batch.tables.items():
            conform(table, frame)  # every frame fits its canonical schema
            parts.setdefault(table, []).append(frame)
    out.tables = {t: pd.concat(f, ignore_index=True) for t, f in parts.items()}
    converted = {record_of(loc) for f in out.tables.values() for loc in f["locator"]}
    rejected = {r.locator for r in out.rejects}
    assert not converted & rejected
    assert out.read == len(converted) + len(out.rejects)  # nothing lost, nothing counted twice
    return out


def seg(name: str, fields: dict[int, str]) -> str:
    """A segment from its non-empty fields by number: no counting of ``|`` by eye."""
    values = [""] * max(fields)
    for n, value in fields.items():
        values[n - 1] = value
    return "|".join([name, *values])


def message(kind: str, *segments: str, n: int = 1, tail: str = "") -> str:
    return "\r".join([MSH.format(type=kind, n=n, tail=tail), *segments]) + "\r"


def write(
    tmp_path: Path, text: str | bytes, name: str = "feed.hl7", encoding: str = "utf-8"
) -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode(encoding))
    return path


# ---- syntax ----------------------------------------------------------------------------------


def test_escape_sequences_are_decoded_after_splitting():
    msg = er7.parse(
        [
            "MSH|^~\\&|A|B|C|D|20250101||ORU^R01|1|P|2.5",
            "OBX|1|FT|X^A\\F\\B\\S\\C\\T\\D||line1\\.br\\line2 \\E\\ \\R\\ \\X41\\ \\H\\bold\\N\\",
        ]
    )
    obx = msg.first("OBX")
    assert obx.value(3, 2) == "A|B^C&D"
    assert obx.text(5) == "line1\nline2 \\ ~ A bold"


def test_delimiters_come_from_msh_and_a_doubled_escape_is_repaired():
    msg = er7.parse(["MSH^~|\\&^APP^FAC^^^20250101^^ADT~A24^1^T^2.4", "PID^1^^11~22"])
    assert msg.msh.value(9, 2) == "A24"
    assert msg.first("PID").value(3, 2) == "22"  # ~ separates components here
    repaired = er7.parse(["MSH|^~\\\\&|APP|F|||20250101||ADT^A01|1|P|2.6"])
    assert repaired.syntax.delimiters.subcomponent == "&" and repaired.notes
    with pytest.raises(er7.Malformed) as err:
        er7.parse(["MSH|&&&&|APP"])
    assert err.value.field == "MSH-2"


def test_null_value_and_truncation_character():
    msg = er7.parse(
        ["MSH|^~\\&#|A|B|||20250101||ORU^R01|1|P|2.7", 'OBX|1|ST|CODE^Sodium [Moles#||""']
    )
    obx = msg.first("OBX")
    assert obx.value(3, 2) == "Sodium [Moles" and "OBX-3" in msg.syntax.truncated
    assert obx.value(5) == ""


def test_values():
    assert timestamp("20250301101530.123+0800") == (
        pd.Timestamp("2025-03-01 10:15:30").to_pydatetime(),
        "+0800",
    )
    assert timestamp("2025")[0].year == 2025
    assert timestamp("Aug 15, 1942", ("%b %d, %Y",))[0].day == 15
    assert ref_range("3.5-5.0") == (3.5, 5.0) and ref_range("<7800") == (None, 7800.0)
    assert ref_range("negative") == (None, None)
    assert person_name(["王", "小明"]) == "王小明"
    assert person_name(["EVERYMAN", "ADAM", "A"]) == "ADAM A EVERYMAN"
    code = coded(["wbc", "Wbc", "L", "6690-2", "Leukocytes", "LN"])
    assert (code.local_code, code.code, code.code_system) == ("wbc", "6690-2", "LN")
    assert gb11643("11010519491231002X") and not gb11643("110105194912310021")


def test_sniff_reads_content_not_names(tmp_path):
    assert hl7v2.sniff(b"\x0b\xef\xbb\xbfMSH|^~\\&|A", Path("x.txt"))
    assert hl7v2.sniff(b"FHS|^~\\&|", Path("x"))
    assert hl7v2.sniff(b"MSH^~|\\&^SENDING", Path("x"))
    assert not hl7v2.sniff(b"MSHX|", Path("x.hl7")) and not hl7v2.sniff(b"id,name\n", Path("a.hl7"))


# ---- framing ---------------------------------------------------------------------------------


def test_segment_endings_mllp_and_boms_give_the_same_rows(tmp_path):
    text = message("ADT^A04", PID, "PV1|1|O|||||||||||||||||V1")
    plain = read(write(tmp_path, text, "cr.hl7"))
    variants = {
        "lf.hl7": text.replace("\r", "\n").encode(),
        "crlf.hl7": text.replace("\r", "\r\n").encode(),
        "bom.hl7": b"\xef\xbb\xbf" + text.encode(),
        "mllp.hl7": b"\x0b" + text.encode() + b"\x1c\r" + b"\x0b" + text.encode() + b"\x1c\r",
    }
    for name, data in variants.items():
        got = read(write(tmp_path, data, name))
        assert got.read == (2 if name == "mllp.hl7" else 1) and not got.rejects
        assert got.tables["patient"]["name"].iloc[0] == "王小明"
        cols = ["patient_id", "name", "certno"]
        assert got.tables["patient"][cols].iloc[:1].equals(plain.tables["patient"][cols])


def test_batches_and_a_bhs_inside_a_message(tmp_path):
    ok = "\r".join(
        ["FHS|^~\\&|HIS", "BHS|^~\\&|HIS", message("ADT^A04", PID), message("ADT^A04", PID, n=2)]
    )
    got = read(write(tmp_path, ok + "BTS|2\rFTS|1\r"))
    assert got.read == 2 and not got.rejects and "batch envelope: 1 FHS, 1 BHS" in got.notes
    missing = read(write(tmp_path, ok, "no-trailer.hl7"))
    assert any("without BTS" in n for n in missing.notes)
    inside = message("ADT^A04", "EVN|A04", "BHS|^~\\&|HIS", PID)
    bad = read(write(tmp_path, inside, "bad.hl7"))
    assert [(r.reason, r.field) for r in bad.rejects] == [("malformed", "BHS")]


def test_text_outside_messages_is_a_record_of_its_own(tmp_path):
    got = read(write(tmp_path, "this is not hl7\r" + message("ADT^A04", PID)))
    assert got.read == 2
    assert [(r.locator, r.reason) for r in got.rejects] == [("feed.hl7:1", "malformed")]
    assert read(write(tmp_path, b"", "empty.hl7")).notes == ["empty file / 空文件"]


# ---- character sets --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("msh18", "encoding"),
    [("|GB18030", "gb18030"), ("", "gb18030"), ("|UNICODE UTF-8", "gb18030"), ("", "utf-8")],
)
def test_chinese_bytes_are_read_whatever_msh18_says(tmp_path, msh18, encoding):
    tail = "|||||" + msh18 if msh18 else ""
    text = message("ADT^A04", PID, tail=tail)
    got = read(write(tmp_path, text, encoding=encoding))
    assert got.tables["patient"]["name"].iloc[0] == "王小明"
    wrong = msh18 == "|UNICODE UTF-8" and encoding == "gb18030"
    assert any("does not fit" in n for n in got.notes) == wrong


def test_latin1_without_msh18_is_not_misread_as_gb18030(tmp_path):
    text = message("ORU^R01", "PID|1||P1", "OBR|1||F1|X^Brief", "OBX|1|TX|X^Brief||Patiënt 19°C")
    got = read(write(tmp_path, text, encoding="latin-1"))
    assert got.tables["observation"]["value_text"].iloc[0] == "Patiënt 19°C"


# ---- message types ---------------------------------------------------------------------------


def test_adt_patient_encounter_diagnoses_and_procedures(tmp_path):
    text = message(
        "ADT^A03",
        PID,
        seg(
            "PV1",
            {2: "I", 3: "W1^101^1", 7: "D01^李^医生", 10: "MED", 19: "V100", 36: "01"}
            | {44: "20250301080000", 45: "20250310090000"},
        ),
        seg("DG1", {1: "1", 3: "J18.9^肺炎^I10", 15: "2"}),
        seg("DG1", {1: "2", 3: "I10^高血压^I10", 15: "1"}),
        "PR1|1||96.04^气管插管^ICD9||20250302100000",
    )
    got = read(write(tmp_path, text))
    patient = got.tables["patient"].iloc[0]
    assert (patient["patient_id"], patient["medcasno"]) == ("P001", "P001")
    assert (patient["gend"], patient["gend_local"], str(patient["brdy"])) == (
        "1",
        "M",
        "1990-03-07",
    )
    assert (patient["patn_cert_type"], patient["certno"]) == ("01", "110101199003071234")
    assert patient["curr_addr"] == "北京市北京建国路8号" and patient["tel"] == "010-12345678"
    enc = got.tables["encounter"].iloc[0]
    assert (enc["mdtrt_id"], enc["enc_class"], enc["dscg_way"], enc["dscg_caty"]) == (
        "V100",
        "IMP",
        "1",
        "MED",
    )
    assert str(enc["adm_time"]) == "2025-03-01 08:00:00" and enc["chfpdr_name"] == "李医生"
    diag = got.tables["diagnosis"]
    assert list(diag["local_code"]) == ["J18.9", "I10"]
    assert list(diag["maindiag_flag"]) == ["0", "1"]  # DG1-15 priority 1 is the main one
    assert got.tables["procedure"]["local_name"].iloc[0] == "气管插管"


def test_a40_merge_links_the_prior_id_to_the_surviving_one(tmp_path):
    got = read(write(tmp_path, message("ADT^A40", "EVN|A40|20250301", PID, "MRG|OLD7^^^H1^MR")))
    link = got.tables["patient_link"].iloc[0]
    assert (link["patient_id"], link["merged_id"]) == ("P001", "OLD7")
    assert str(link["linked_time"]) == "2025-03-01 00:00:00"


def test_oru_values_units_ranges_flags_and_status(tmp_path):
    text = message(
        "ORU^R01",
        PID,
        "ORC|RE|PL1|FI1",
        seg("OBR", {1: "1", 2: "PL1", 3: "FI1", 4: "CBC^血常规^L", 7: "20250301080000"})
        + "|" * 17
        + "LAB|F",
        "OBX|1|NM|WBC^白细胞^L^6690-2^Leukocytes^LN||11.2|10*9/L|3.5-9.5|H|||F|||20250301090000",
        "OBX|2|SN|GLU^血糖^L||<^3.0|mmol/L|3.9-6.1|L|||C",
        "OBX|3|CWE|HBSAG^乙肝表面抗原^L||NEG^阴性^L||||||P",
        "OBX|4|FT|NOTE^备注^L||第一行\\.br\\第二行||||||F",
        "OBX|5|NM|HGB^血红蛋白^L||abc|g/L||||||F",
    )
    got = read(write(tmp_path, text))
    report = got.tables["report"].iloc[0]
    assert (report["report_id"], report["order_id"], report["status"]) == ("FI1/1", "PL1", "final")
    obs = got.tables["observation"].set_index("seq")
    assert obs.loc[1, "observation_id"] == "FI1/1/1"
    assert (obs.loc[1, "value_num"], obs.loc[1, "unit"], obs.loc[1, "ref_high"]) == (
        11.2,
        "10*9/L",
        9.5,
    )
    assert (obs.loc[1, "code"], obs.loc[1, "code_system"], obs.loc[1, "abnormal_flag"]) == (
        "6690-2",
        "LN",
        "H",
    )
    assert pd.isna(obs.loc[2, "value_num"]) and obs.loc[2, "value_text"] == "<3.0"
    assert obs.loc[2, "status"] == "corrected" and obs.loc[3, "status"] == "preliminary"
    assert (obs.loc[3, "value_code"], obs.loc[3, "value_text"]) == ("NEG", "阴性")
    assert obs.loc[4, "value_text"] == "第一行\n第二行"
    assert obs.loc[5, "value_text"] == "abc" and pd.isna(obs.loc[5, "value_num"])
    assert obs["category"].eq("laboratory").all()


def test_orders_charges_and_medications(tmp_path):
    orders = message(
        "ORM^O01",
        PID,
        "PV1|1|O|||||||||||||||||V9",
        "ORC|NW|ORD1||||||||||D01^李^医生",
        "OBR|1|ORD1||CT01^胸部CT^L",
        "ORC|CA|ORD2",
    )
    got = read(write(tmp_path, orders))
    rows = got.tables["order"].set_index("order_id")
    assert rows.loc["ORD1", "status"] == "active" and rows.loc["ORD2", "status"] == "revoked"
    assert (rows.loc["ORD1", "name"], rows.loc["ORD1", "requester"]) == ("胸部CT", "李医生")
    assert rows.loc["ORD1", "mdtrt_id"] == "V9"
    dft = message(
        "DFT^P03",
        PID,
        "PV1|1|I|||||||||||||||||V9",
        "FT1|1|||20250301||CG|250101^血常规^L|||1|35&CNY",
        "FT1|2|||20250301||CG|110200^床位费^L|||2||40",
    )
    got = read(write(tmp_path, dft, "dft.hl7"))
    assert list(got.tables["charge"]["amt"]) == [35.0, 80.0]
    assert got.tables["encounter"]["mdtrt_id"].iloc[0] == "V9"
    rde = message(
        "RDE^O11",
        PID,
        "ORC|NW|RX1",
        "RXE|^Q8H^^20250301080000|0001^阿莫西林胶囊^L|0.5||g^克",
        "RXR|PO^口服",
    )
    got = read(write(tmp_path, rde, "rde.hl7"))
    med = got.tables["medication"].iloc[0]
    assert (med["med_id"], med["dose"], med["dose_unit"], med["route"]) == ("RX1", 0.5, "g", "PO")
    assert (med["frequency"], str(med["start_time"])) == ("Q8H", "2025-03-01 08:00:00")


def test_unsupported_and_incomplete_messages_are_rejected_with_the_field(tmp_path):
    text = (
        message("SIU^S12", PID, n=1)
        + message("ORU^R01", "OBR|1||F1|X", n=2)
        + message("DFT^P03", PID, "PV1|1|I", "FT1|1", n=3)
        + message("ADT^A01", "PID|1", n=4)
    )
    got = read(write(tmp_path, text))
    assert [(r.locator, r.reason, r.field) for r in got.rejects] == [
        ("feed.hl7#1", "unsupported", "MSH-9"),
        ("feed.hl7#2", "malformed", "PID"),
        ("feed.hl7#3", "malformed", "PV1-19"),
        ("feed.hl7#4", "malformed", "PID-3"),
    ]
    assert "unsupported message type SIU^S12" in got.rejects[0].message


def test_versions_from_hl7apy(tmp_path):
    text = message("ADT^A04", PID).replace("|P|2.5", "|P|2.9") + message(
        "ADT^A04", PID, n=2
    ).replace("|P|2.5", "|P|")
    got = read(write(tmp_path, text))
    assert any("'2.9'" in n and "2.8.2" in n for n in got.notes)
    assert [(r.reason, r.field) for r in got.rejects] == [("malformed", "MSH-12")]


# ---- profiles --------------------------------------------------------------------------------


def test_default_profile_maps_the_ihe_zds_study_uid(tmp_path):
    text = message("ORU^R01", PID, "OBR|1||ACC1|CT^CT", "ZDS|1.2.840.99.1^HIS^Application^DICOM")
    got = read(write(tmp_path, text))
    assert got.tables["report"]["study_uid"].iloc[0] == "1.2.840.99.1"


def test_a_vendor_profile_maps_z_fields_and_visit_numbers(tmp_path):
    prof = tmp_path / "vendor.toml"
    prof.write_text(
        '[vendor]\nname = "his-x"\n[ids]\nmdtrt_id = ["PV1-19", "PID-18"]\n'
        '[[map]]\nfield = "ZPV-2"\ncolumn = "encounter.adm_time"\nsender = "HIS"\n'
        '[[map]]\nfield = "ZPV-3.2"\ncolumn = "encounter.medins_fill_psn"\n',
        "utf-8",
    )
    pid = PID + "|" * (18 - PID.count("|")) + "ACC9"  # PID-18 account number
    text = message("ADT^A01", pid, "PV1|1|I", "ZPV|1|20250301120000|X^王护士")
    got = read(write(tmp_path, text), profile=prof)
    enc = got.tables["encounter"].iloc[0]
    assert enc["mdtrt_id"] == "ACC9" and str(enc["adm_time"]) == "2025-03-01 12:00:00"
    assert enc["medins_fill_psn"] == "王护士"
    bad = tmp_path / "bad.toml"
    bad.write_text('[[map]]\nfield = "ZPV-2"\ncolumn = "encounter.mdtrt_id"\n', "utf-8")
    with pytest.raises(profile.ProfileError):
        profile.load(bad)


def test_a_profile_adds_trigger_events(tmp_path):
    from hutong.adapters.hl7v2.messages import CONVERTERS
    from hutong.adapters.hl7v2.tables import table

    assert set(CONVERTERS) == set(profile.KINDS)
    assert set(table("messages", "kinds").values()) <= set(profile.KINDS)
    path = write(tmp_path, message("ADT^A05", PID))
    assert [r.reason for r in read(path).rejects] == ["unsupported"]
    prof = tmp_path / "a05.toml"
    prof.write_text('[messages]\n"ADT^A05" = "visit"\n', "utf-8")
    assert read(path, profile=prof).tables["patient"]["patient_id"].iloc[0] == "P001"
    prof.write_text('[messages]\n"ADT^A05" = "nonsense"\n', "utf-8")
    with pytest.raises(profile.ProfileError):
        profile.load(prof)


def test_batches_hold_at_most_batch_size_messages(tmp_path):
    text = "".join(message("ADT^A04", PID, n=i) for i in range(7)) + message("SIU^S12", PID)
    batches = list(hl7v2.read(write(tmp_path, text), batch_size=3))
    assert [b.read for b in batches] == [3, 3, 2]
    assert sum(len(b.rejects) for b in batches) == 1
    assert sum(len(b.tables.get("patient", [])) for b in batches) == 7
    assert read(write(tmp_path, text, "again.hl7"), batch_size=3).read == 8
