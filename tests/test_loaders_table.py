"""Code lists as CSV/TSV/XLSX: header found by name, 国临 dagger/star columns, bad input."""

from __future__ import annotations

import pytest
from openpyxl import Workbook

from hutong.terminologies.codesystem import CodeListError
from hutong.terminologies.loaders import load


def xlsx(path, rows, title="Sheet1", before=()):
    """An Excel file with ``rows`` on sheet ``title``, after sheets named in ``before``."""
    book = Workbook()
    book.active.title = before[0] if before else title
    for name in before[1:] if before else ():
        book.create_sheet(name)
    sheet = book.create_sheet(title) if before else book.active
    for row in rows:
        sheet.append(list(row))
    book.save(path)
    return path


def test_a_gbk_csv_from_excel_is_detected(tmp_path):
    path = tmp_path / "dx.csv"
    path.write_bytes("序号,疾病编码,疾病名称\n1,I10.x00,特发性(原发性)高血压\n".encode("gbk"))
    dx = load(path, "icd10-yb-2.0")
    assert dx.names == {"I10.x00": "特发性(原发性)高血压"}


def test_a_utf8_bom_csv_with_quoted_names(tmp_path):
    path = tmp_path / "dx.csv"
    path.write_bytes(
        '\ufeff"ICD编码","诊断名称"\n"A00.000","霍乱，由于O1群, 霍乱生物型"\n'.encode()
    )
    assert load(path, "icd10-yb-2.0").names["A00.000"] == "霍乱，由于O1群, 霍乱生物型"


def test_a_tsv_with_english_headers(tmp_path):
    path = tmp_path / "px.tsv"
    path.write_text("code\tdisplay\n36.0700\t经皮冠状动脉药物洗脱支架置入术\n", "utf-8")
    assert "36.0700" in load(path, "icd9cm3-yb-2.0")


def test_xlsx_with_title_rows_above_the_header(tmp_path):
    path = xlsx(
        tmp_path / "医保版.xlsx",
        [
            ["医疗保障疾病诊断分类与代码（医保版2.0）"],
            [],
            ["章", "类目代码", "类目名称", "诊断代码", "诊断名称"],
            ["第九章", None, None, None, None],  # a section row: no code, no name
            ["第九章", "I25", "慢性缺血性心脏病", "I25.103", "冠状动脉粥样硬化性心脏病"],
            ["第九章", "I25", "慢性缺血性心脏病", "I25.100", "动脉硬化性心脏病"],
        ],
    )
    dx = load(path, "icd10-yb-2.0")
    assert dx.names == {"I25.103": "冠状动脉粥样硬化性心脏病", "I25.100": "动脉硬化性心脏病"}
    assert dx.concepts["I25.103"].parent == "I25.100"
    assert dx.source == f"{path}[Sheet1]"


def test_the_header_sheet_is_found_after_a_notes_sheet_or_chosen_by_name(tmp_path):
    rows = [["编码", "名称"], ["I10.x00", "特发性(原发性)高血压"]]
    path = xlsx(tmp_path / "dx.xlsx", rows, title="疾病", before=("说明",))
    assert len(load(path, "icd10-yb-2.0")) == 1
    assert len(load(path, "icd10-yb-2.0", sheet="疾病")) == 1
    with pytest.raises(CodeListError, match=r"dx\.xlsx: no sheet '手术'; sheets: 说明, 疾病"):
        load(path, "icd10-yb-2.0", sheet="手术")


def test_guolin_dagger_and_star_columns_join_into_the_yibao_form(tmp_path):
    path = xlsx(
        tmp_path / "国临版2.0.xlsx",
        [
            ["疾病分类代码国家临床版2.0"],
            ["主要编码", "附加编码", "疾病名称"],
            ["A17.000†", "G01*", "结核性脑膜炎"],
            ["A18.000x002†", "M90.0", "腭骨结核"],  # star missing: the dagger says it is one
            ["A15.000", None, "肺结核，经显微镜下痰检查证实，伴有或不伴有痰培养"],
        ],
    )
    gl = load(path, "icd10-gl-2.0")
    assert list(gl.names) == ["A17.000+G01*", "A18.000x002+M90.0*", "A15.000"]
    assert gl.concepts["A17.000+G01*"].chapter == "I"
    assert gl.title == "疾病分类代码国家临床版 2.0"


def test_named_columns_override_detection(tmp_path):
    path = tmp_path / "local.csv"
    path.write_text("项目,诊断,说明\nI10.x00,高血压,x\n", "utf-8")
    dx = load(path, "icd10-yb-2.0", code_column="项目", name_column="诊断")
    assert dx.names == {"I10.x00": "高血压"}


def test_excel_numbers_get_their_procedure_decimals_back(tmp_path):
    path = xlsx(
        tmp_path / "px.xlsx", [["手术操作编码", "手术操作名称"], [36.07, "支架"], [0.01, "超声"]]
    )
    assert list(load(path, "icd9cm3-gl-2.0").names) == ["36.0700", "00.0100"]


def test_a_text_file_with_a_header_is_read_as_a_table(tmp_path):
    path = tmp_path / "dx.txt"
    path.write_text("编码\t名称\nI10.x00\t高血压\n", "utf-8")
    assert load(path, "icd10-yb-2.0").names == {"I10.x00": "高血压"}


def test_missing_columns_list_the_columns_found(tmp_path):
    path = tmp_path / "dx.csv"
    path.write_text("序号,项目,说明\n1,I10.x00,高血压\n", "utf-8")
    with pytest.raises(CodeListError) as err:
        load(path, "icd10-yb-2.0")
    message = str(err.value)
    assert str(path) in message and "Columns found (row 1): 序号, 项目, 说明" in message
    assert "code_column=/name_column=" in message


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([["编码", "名称"], ["I10.x00", "高血压"], ["", "冠心病"]], r"dx\.csv:3: empty code"),
        ([["编码", "名称"], ["I10.x00", ""]], r"dx\.csv:2: empty name for I10\.x00"),
        (
            [["编码", "名称"], ["I10.x00", "高血压"], ["I25.103", "冠心病"], ["I10.x00", "原发性"]],
            r"dx\.csv:4: code I10\.x00 listed again with another name '原发性' \(row 2: '高血压'\)",
        ),
        ([["编码", "名称"]], r"dx\.csv: no codes below the header"),
    ],
)
def test_bad_csv_rows_name_the_file_and_row(tmp_path, rows, message):
    path = tmp_path / "dx.csv"
    path.write_text("".join(",".join(r) + "\n" for r in rows), "utf-8")
    with pytest.raises(CodeListError, match=message):
        load(path, "icd10-yb-2.0")


def test_bad_xlsx_rows_name_the_sheet_and_excel_row(tmp_path):
    path = xlsx(tmp_path / "dx.xlsx", [["标题"], ["编码", "名称"], ["I10.x00", None]])
    with pytest.raises(CodeListError, match=r"dx\.xlsx\[Sheet1\]:3: empty name for I10\.x00"):
        load(path, "icd10-yb-2.0")


def test_undecodable_bytes_name_the_row(tmp_path):
    path = tmp_path / "dx.csv"
    path.write_bytes("code,name\nI10.x00,高血压\n".encode("gbk"))
    with pytest.raises(CodeListError, match=r"dx\.csv:2: bytes that do not decode as utf-8"):
        load(path, "icd10-yb-2.0", encoding="utf-8")


@pytest.mark.parametrize("name", ["dx.csv", "dx.xlsx"])
def test_an_empty_table_is_an_error(tmp_path, name):
    path = tmp_path / name
    if name.endswith(".xlsx"):
        xlsx(path, [])
    else:
        path.write_bytes(b"")
    with pytest.raises(CodeListError, match=r"dx\.(csv|xlsx): empty file"):
        load(path, "icd10-yb-2.0")


def test_a_file_that_is_not_excel_is_an_error(tmp_path):
    path = tmp_path / "dx.xlsx"
    path.write_text("编码,名称\n", "utf-8")
    with pytest.raises(CodeListError, match=r"dx\.xlsx: not a readable \.xlsx"):
        load(path, "icd10-yb-2.0")
