"""The PII scanner finds each kind of personal data in a planted file, and nothing in the face
sheet and FHIR output of de-identified tables."""

from __future__ import annotations

import pytest

from hutong.mapping.deid import deidentify, load_deid_profile
from hutong.mapping.facesheet import build_facesheet, write_facesheet
from hutong.mapping.fhir import emit_fhir, write_ndjson
from hutong.quality.pii import scan, valid_certno
from test_deid_cases import CERTNO_WANG, CERTNO_ZHANG, KEY, NAMES, tables


def test_check_digits():
    assert valid_certno(CERTNO_ZHANG) and valid_certno(CERTNO_WANG)
    assert not valid_certno(CERTNO_ZHANG[:-1] + "1")
    assert valid_certno("130102330101123")  # 15 digits: 1933-01-01
    assert not valid_certno("130102331301123")  # month 13


def test_scanner_finds_each_kind_in_a_planted_file(tmp_path):
    planted = tmp_path / "notes" / "planted.txt"
    planted.parent.mkdir()
    planted.write_text(
        "患者张伟 入院\n"
        f"身份证 {CERTNO_ZHANG}，旧证 130102330101123\n"
        "电话 13812345678；编号 8613812345678999 不是电话\n"
        "住址 河北省廊坊市安次区银河南路12号\n"
        "另一地址 上海市黄浦区福州路318弄5室\n"
        "id a1b2c3d4e5f613812345678f 不是电话；错误证号 11010519491231002Y\n",
        encoding="utf-8",
    )
    (tmp_path / "image.bin").write_bytes(b"13812345678")  # not a text file: skipped
    hits = scan(tmp_path, names={"张伟", "李"})
    found = {(h.line, h.kind) for h in hits}
    assert found == {
        (1, "name"),
        (2, "certno"),
        (3, "mobile"),
        (4, "address"),
        (5, "address"),
    }
    assert sum(h.kind == "certno" for h in hits) == 2
    assert all(CERTNO_ZHANG not in str(h) and "13812345678" not in str(h) for h in hits)
    assert str(hits[0]).endswith("name 张*")


@pytest.mark.parametrize("profile", ["research", "share"])
def test_deidentified_outputs_scan_clean(tmp_path, profile):
    safe, _ = deidentify(tables(), load_deid_profile(profile), KEY)
    write_facesheet(build_facesheet(safe), tmp_path / "facesheet")
    rejects = []
    write_ndjson(emit_fhir(safe, rejects), tmp_path / "fhir")
    assert (tmp_path / "fhir" / "Patient.ndjson").stat().st_size > 0
    assert scan(tmp_path, names=NAMES) == []


def test_identified_outputs_do_not_scan_clean(tmp_path):
    write_facesheet(build_facesheet(tables()), tmp_path / "facesheet")
    kinds = {h.kind for h in scan(tmp_path, names=NAMES)}
    assert {"name", "certno", "mobile", "address"} <= kinds
