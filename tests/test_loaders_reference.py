"""Loaders against the real national data: WHO ICD-10 2019, valuesets.json, the 医保版 lists."""

from __future__ import annotations

import json

import pytest

from hutong.terminologies.codesystem import CodeListError
from hutong.terminologies.loaders import known_systems, load, system_info


def test_who_icd10_has_subcategories_under_categories_with_roman_chapters():
    who = load(None, "icd10-who-2019")
    assert who.concepts["I25.1"].display == "Atherosclerotic heart disease"
    assert who.concepts["I25.1"].parent == "I25" and who.concepts["I25.1"].chapter == "IX"
    assert who.concepts["I25"].parent is None and who.concepts["I25"].chapter == "IX"
    assert who.concepts["U07.1"].chapter == "XXII"
    assert "I20-I25" not in who and "IX" not in who  # blocks and chapters are not concepts
    assert len(who) > 12_000 and who.version == "2019"


def test_who_refuses_another_version_and_file_options(tmp_path):
    with pytest.raises(CodeListError, match="2019 only"):
        load(None, "icd10-who-2019", version="2016")
    with pytest.raises(CodeListError, match="option sheet does not apply to the who format"):
        load(None, "icd10-who-2019", sheet="x")


def test_a_value_set_loads_from_the_reference_file(reference):
    sex = load(reference / "valuesets.json", "gbt2261.1-sex")
    assert sex.names == {"0": "未知的性别", "1": "男", "2": "女", "9": "未说明的性别"}
    assert sex.version == "2003" and sex.source.endswith("valuesets.json#homepage.sex_GB_T_2261_1")
    assert load(reference / "valuesets.json", "dscg_way").names["5"] == "死亡"
    assert "_source" not in load(reference / "valuesets.json", "med_chrgitm_type")
    assert load(reference / "valuesets.json", "scs_cutd_ward_type").names["NICU"] == "NICU"
    assert load(reference / "valuesets.json", "gbt4761-relation").names["1"] == "配偶"


def holds_codes(entry: object) -> bool:
    """A valuesets.json entry with a code list (not a note naming a standard)."""
    if not isinstance(entry, dict):
        return False
    return bool(entry.keys() & {"codes", "codes_1digit", "values"}) or not entry.keys() & {
        "source",
        "status",
    }


def test_every_value_set_with_codes_in_the_reference_has_a_system(reference):
    data = json.loads((reference / "valuesets.json").read_text("utf-8"))
    listed = {system_info(n).entry for n in known_systems("valueset")}
    for block in ("homepage", "settlement_list_20hao"):
        for key, entry in data[block].items():
            if not key.startswith("_"):
                assert holds_codes(entry) == ((block, key) in listed), (block, key)
    for name in known_systems("valueset"):
        assert len(load(reference / "valuesets.json", name)) >= 2, name


def test_bad_value_set_files_are_errors(tmp_path):
    path = tmp_path / "v.json"
    path.write_text('{"homepage": {"sex_GB_T_2261_1": {"codes": {"1": "男", "2": ""}}}}', "utf-8")
    with pytest.raises(CodeListError, match=r"v\.json#homepage\.sex_GB_T_2261_1\['2'\]: empty"):
        load(path, "gbt2261.1-sex")
    path.write_text('{"homepage": {}}', "utf-8")
    with pytest.raises(CodeListError, match=r"no code list for value set gbt2261\.1-sex"):
        load(path, "gbt2261.1-sex")
    path.write_text('{"homepage": \n{', "utf-8")
    with pytest.raises(CodeListError, match=r"v\.json:2: not JSON"):
        load(path, "gbt2261.1-sex")
    with pytest.raises(CodeListError, match="needs a file path"):
        load(None, "gbt2261.1-sex")


def test_official_yibao_lists_load_through_load_with_their_gray_lists(reference):
    dx = load(reference / "icd10-yb-2.0.txt", "icd10-yb-2.0")
    px = load(reference / "icd9cm3-yb-2.0.txt", "icd9cm3-yb-2.0")
    assert len(dx) > 33_000 and len(px) > 13_000
    assert len(dx.gray) > 2_800 and len(px.gray) > 2_200
    assert dx.concepts["I10.x00"].gray and not dx.concepts["I10.x00x002"].gray
    assert dx.names["A01.000x005+J17.0*"] == "伤寒并发肺炎"
    assert dx.concepts["I25.103"].chapter == "IX" and px.concepts["36.0701"].parent == "36.0700"
    assert dx.concepts["I10.x00x002"].parent == "I10.x00"
