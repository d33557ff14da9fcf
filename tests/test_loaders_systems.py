"""The catalogue of system names, custom names, and format detection."""

from __future__ import annotations

import pytest

from hutong.terminologies.codesystem import CodeListError
from hutong.terminologies.loaders import detect_format, known_systems, load, system_info


def test_the_catalogue_names_the_national_systems():
    names = known_systems()
    for name in (
        "icd10-yb-2.0", "icd9cm3-yb-2.0", "icd10-gl-2.0", "icd9cm3-gl-2.0", "gl-yb-icd10",
        "gl-yb-icd9cm3", "icd10-who-2019", "gbt2261.1-sex", "dscg_way",
    ):  # fmt: skip
        assert name in names
    assert known_systems("crosswalk") == ["gl-yb-icd10", "gl-yb-icd9cm3"]
    info = system_info("gl-yb-icd10")
    assert (info.source_system, info.target_system) == ("icd10-gl-2.0", "icd10-yb-2.0")
    assert system_info("icd9cm3-gl-2.0").kind == "procedure"
    assert all(system_info(n).source and system_info(n).title for n in names)


def test_an_unknown_name_suggests_and_lists_the_known_ones(tmp_path):
    with pytest.raises(CodeListError) as err:
        load(tmp_path / "x.txt", "icd10-yb2.0")
    message = str(err.value)
    assert "unknown code system 'icd10-yb2.0'" in message and "Did you mean icd10-yb-2.0" in message
    assert "Known: icd10-yb-2.0, icd9cm3-yb-2.0" in message and "allow_custom=True" in message


def test_a_custom_name_needs_the_flag_and_the_prefix(tmp_path):
    path = tmp_path / "local.csv"
    path.write_text("编码,名称\nI10.x00,高血压\n01.02,某操作\n", "utf-8")
    with pytest.raises(CodeListError, match="unknown code system 'custom:hospital-a'"):
        load(path, "custom:hospital-a")
    with pytest.raises(CodeListError, match="unknown code system 'hospital-a'"):
        load(path, "hospital-a", allow_custom=True)
    local = load(path, "custom:hospital-a", allow_custom=True)
    assert local.id == local.title == "custom:hospital-a" and local.version == "local"
    assert local.concepts["I10.x00"].chapter == "IX" and local.concepts["01.02"].chapter == "01"


def test_formats_are_detected_from_system_suffix_and_first_line(tmp_path):
    (tmp_path / "a.txt").write_text("I10.x00 高血压\n", "utf-8")
    (tmp_path / "b.txt").write_text("编码,名称\nI10.x00,高血压\n", "utf-8")
    assert detect_format(tmp_path / "a.txt", "icd10-yb-2.0") == "list"
    assert detect_format(tmp_path / "b.txt", "icd10-yb-2.0") == "table"
    assert detect_format(tmp_path / "c.xlsx", "icd10-gl-2.0") == "table"
    assert detect_format(tmp_path / "c.csv", "gl-yb-icd10") == "crosswalk"
    assert detect_format(None, "icd10-who-2019") == "who"
    assert detect_format(tmp_path / "v.json", "dscg_way") == "valuesets"


def test_unknown_or_unfit_formats_and_options_are_errors(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("I10.x00 高血压\n", "utf-8")
    with pytest.raises(CodeListError, match="unknown format 'yaml'; known: list, table"):
        load(path, "icd10-yb-2.0", format="yaml")
    with pytest.raises(CodeListError, match="format 'who' is only for"):
        load(path, "icd10-yb-2.0", format="who")
    with pytest.raises(CodeListError, match="option sheet does not apply to the list format"):
        load(path, "icd10-yb-2.0", sheet="Sheet1")
    with pytest.raises(CodeListError, match=r"c\.xlsx: an Excel file is a table"):
        load(tmp_path / "c.xlsx", "icd10-yb-2.0", format="list")
    with pytest.raises(CodeListError, match=r"old\.xls: legacy \.xls"):
        load(tmp_path / "old.xls", "icd10-yb-2.0")
    with pytest.raises(CodeListError, match="a file path is needed"):
        load(None, "icd10-yb-2.0")


def test_an_explicit_table_format_reads_a_txt(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("编码,名称\nI10.x00,高血压\n", "utf-8")
    assert load(path, "icd10-yb-2.0", format="table").names == {"I10.x00": "高血压"}
