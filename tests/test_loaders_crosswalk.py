"""国临 → 医保 crosswalks: many-to-one targets, unmapped rows kept, conflicts refused."""

from __future__ import annotations

import pytest
from openpyxl import Workbook

from hutong.terminologies.codesystem import CodeListError
from hutong.terminologies.loaders import load

HEADER = "国临版编码,国临版名称,医保版编码,医保版名称\n"


def csv(tmp_path, body, header=HEADER, encoding="utf-8"):
    path = tmp_path / "gl2yb.csv"
    path.write_bytes((header + body).encode(encoding))
    return path


def test_many_source_codes_map_to_one_target(tmp_path):
    path = csv(
        tmp_path,
        "A01.000x002,副伤寒,A01.003,副伤寒\n"
        "A01.003,副伤寒(未特指),A01.003,副伤寒\n"
        "A15.000x011,肺结核痰涂片阳性,A15.100x002,肺结核培养阳性\n",
        encoding="gbk",
    )
    xw = load(path, "gl-yb-icd10")
    assert xw.targets == {
        "A01.000x002": "A01.003",
        "A01.003": "A01.003",
        "A15.000x011": "A15.100x002",
    }
    assert xw.names["A01.000x002"] == "副伤寒" and xw.concepts["A15.000x011"].chapter == "I"
    assert xw.unmapped == [] and xw.title == "国家临床版 2.0 → 医保版 2.0 疾病诊断映射"


def test_a_row_without_target_is_kept_and_reported_as_unmapped(tmp_path):
    path = csv(tmp_path, "A01.000x002,副伤寒,A01.003,副伤寒\nB99.x00x001,其他传染病,,\n")
    xw = load(path, "gl-yb-icd10")
    assert "B99.x00x001" in xw and xw.unmapped == ["B99.x00x001"]


def test_one_source_with_two_targets_names_both_rows(tmp_path):
    path = csv(tmp_path, "A01.000x002,副伤寒,A01.003,副伤寒\nA01.000x002,副伤寒,A01.004,其他\n")
    with pytest.raises(
        CodeListError, match=r"gl2yb\.csv:3: A01\.000x002 mapped to A01\.004, but row 2"
    ):
        load(path, "gl-yb-icd10")


def test_procedure_crosswalk_from_excel_with_other_header_words(tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(["国家临床版3.0手术操作编码映射医保版2.0"])
    sheet.append(["国家临床版代码", "国家临床版名称", "医保版代码", "医保版名称"])
    sheet.append([36.07, "冠状动脉药物洗脱支架置入", 36.07, "经皮冠状动脉药物洗脱支架置入术"])
    sheet.append(["36.0701", "冠状动脉生物可吸收支架置入术", "36.0701", "同左"])
    book.save(tmp_path / "gl2yb.xlsx")
    xw = load(tmp_path / "gl2yb.xlsx", "gl-yb-icd9cm3")
    assert xw.targets == {"36.0700": "36.0700", "36.0701": "36.0701"}
    assert xw.concepts["36.0701"].parent == "36.0700" and xw.concepts["36.0701"].chapter == "36"


def test_dagger_star_columns_in_a_crosswalk(tmp_path):
    header = "国临版主要编码,国临版附加编码,国临版名称,医保版编码\n"
    xw = load(csv(tmp_path, "A17.000†,G01*,结核性脑膜炎,A17.000+G01*\n", header), "gl-yb-icd10")
    assert xw.targets == {"A17.000+G01*": "A17.000+G01*"}


def test_columns_can_be_named(tmp_path):
    path = csv(tmp_path, "A01.000x002,副伤寒,A01.003\n", header="src,label,dst\n")
    xw = load(path, "gl-yb-icd10", code_column="src", name_column="label", target_column="dst")
    assert xw.targets == {"A01.000x002": "A01.003"}


def test_missing_target_column_lists_the_columns_found(tmp_path):
    path = csv(tmp_path, "A01.000x002,副伤寒\n", header="国临版编码,国临版名称\n")
    with pytest.raises(CodeListError, match=r"Columns found \(row 1\): 国临版编码, 国临版名称"):
        load(path, "gl-yb-icd10")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (",副伤寒,A01.003,副伤寒\n", r"gl2yb\.csv:2: empty source code"),
        ("A01.000x002,,A01.003,副伤寒\n", r"gl2yb\.csv:2: empty name for A01\.000x002"),
        ("A01.000x002,副伤寒,,\nA01.003,其他,,\n", r"gl2yb\.csv: no row has a target code"),
        (
            "A01.000x002,副伤寒,A01.003,x\nA01.000x002,伤寒,A01.003,x\n",
            r"gl2yb\.csv:3: code A01\.000x002 listed again with another name '伤寒' \(row 2",
        ),
    ],
)
def test_bad_crosswalk_rows_name_the_file_and_row(tmp_path, body, message):
    with pytest.raises(CodeListError, match=message):
        load(csv(tmp_path, body), "gl-yb-icd10")


def test_a_crosswalk_name_refuses_other_formats_and_a_list_name_refuses_crosswalk(tmp_path):
    path = csv(tmp_path, "A01.000x002,副伤寒,A01.003,副伤寒\n")
    with pytest.raises(CodeListError, match=r"gl-yb-icd10 is read as 'crosswalk', not 'table'"):
        load(path, "gl-yb-icd10", format="table")
    with pytest.raises(CodeListError, match=r"icd10-gl-2\.0 is a diagnosis list, not a crosswalk"):
        load(path, "icd10-gl-2.0", format="crosswalk")
