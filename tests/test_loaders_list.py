"""``CODE NAME`` lists and gray lists through ``load()``: encodings, siblings, bad input."""

from __future__ import annotations

import pytest

from hutong.terminologies.codesystem import CodeListError
from hutong.terminologies.loaders import load, read_gray

LIST = "I10.x00 特发性(原发性)高血压\nI10.x00x002 高血压病\nI25.103 冠状动脉粥样硬化性心脏病\n"


def test_a_utf8_list_loads_with_parents_chapters_and_the_catalogue_title(tmp_path):
    path = tmp_path / "dx.txt"
    path.write_text(LIST, "utf-8")
    dx = load(path, "icd10-yb-2.0")
    assert list(dx.names) == ["I10.x00", "I10.x00x002", "I25.103"]
    assert dx.concepts["I10.x00x002"].parent == "I10.x00"
    assert dx.concepts["I25.103"].chapter == "IX"
    assert (dx.id, dx.version, dx.title) == (
        "icd10-yb-2.0",
        "2.0",
        "医保疾病诊断分类与代码 ICD-10 医保版 2.0",
    )
    assert dx.source == path.as_posix()


def test_a_gbk_list_is_detected_and_the_version_can_be_overridden(tmp_path):
    path = tmp_path / "dx.dat"
    path.write_bytes(LIST.encode("gbk"))
    dx = load(path, "icd10-yb-2.0", version="2.0-2026")
    assert dx.names["I10.x00x002"] == "高血压病" and dx.version == "2.0-2026"


def test_tab_separated_code_name_lines_are_a_list(tmp_path):
    path = tmp_path / "px.txt"
    path.write_text(
        "36.0700\t经皮冠状动脉药物洗脱支架置入术\n36.0701\t冠状动脉生物可吸收支架置入术\n"
    )
    px = load(path, "icd9cm3-yb-2.0")
    assert px.concepts["36.0701"].parent == "36.0700" and px.concepts["36.0701"].chapter == "36"


@pytest.mark.parametrize("tag", ["-gray", "-灰码"])
def test_a_gray_sibling_flags_codes(tmp_path, tag):
    path = tmp_path / "dx.txt"
    path.write_text(LIST, "utf-8")
    (tmp_path / f"dx{tag}.txt").write_text("I10.x00 特发性(原发性)高血压\n", "utf-8")
    assert load(path, "icd10-yb-2.0").gray == {"I10.x00"}


def test_an_explicit_gray_list_in_csv_form(tmp_path):
    path = tmp_path / "dx.txt"
    path.write_text(LIST, "utf-8")
    gray = tmp_path / "灰码.csv"
    gray.write_bytes("序号,编码,名称\n1,I10.x00,特发性(原发性)高血压\n".encode("gbk"))
    assert load(path, "icd10-yb-2.0", gray=gray).gray == {"I10.x00"}


def test_a_gray_code_missing_from_the_list_names_the_gray_file_and_row(tmp_path):
    path = tmp_path / "dx.txt"
    path.write_text(LIST, "utf-8")
    gray = tmp_path / "dx-gray.txt"
    gray.write_text("I10.x00 特发性(原发性)高血压\nE11.200 2型糖尿病伴有肾的并发症\n", "utf-8")
    with pytest.raises(CodeListError, match=r"dx-gray\.txt:2: gray code E11\.200 is not in"):
        load(path, "icd10-yb-2.0")


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("g.txt", "I10.x00 特发性(原发性)高血压\nE11.200 2型糖尿病伴有肾的并发症\n"),
        ("g.txt", "编码\nI10.x00\n\nE11.200\n"),
        ("g.csv", "code,name\nI10.x00,高血压\nE11.200,糖尿病\n"),
        ("g.csv", "I10.x00\nE11.200\n"),
    ],
)
def test_read_gray_reads_every_form(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content, "utf-8")
    assert read_gray(path) == {"I10.x00", "E11.200"}


def test_read_gray_reads_excel(tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["灰码表"])
    book.active.append(["手术操作编码", "手术操作名称"])
    book.active.append([0.01, "头和颈部血管治疗性超声"])  # Excel dropped the zeros of 00.0100
    book.save(tmp_path / "g.xlsx")
    assert read_gray(tmp_path / "g.xlsx") == {"0.01"}  # no system: the code is kept as written
    (tmp_path / "px.txt").write_text("00.0100 头和颈部血管治疗性超声\n", "utf-8")
    px = load(tmp_path / "px.txt", "icd9cm3-yb-2.0", gray=tmp_path / "g.xlsx")
    assert px.gray == {"00.0100"}  # a procedure system restores them


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", r"x\.txt: empty file"),
        (b"  \n\n", r"x\.txt: empty file"),
        ("I10.x00 高血压\nI25.103\n".encode(), r"x\.txt:2: expected 'CODE NAME'"),
        (
            "I10.x00 高血压\nI25.103 冠心病\nI10.x00 原发性高血压\n".encode(),
            r"x\.txt:3: code I10\.x00 listed again with another name \(line 1",
        ),
    ],
)
def test_bad_lists_name_the_file_and_line(tmp_path, content, message):
    path = tmp_path / "x.txt"
    path.write_bytes(content)
    with pytest.raises(CodeListError, match=message):
        load(path, "icd10-yb-2.0")


def test_a_wrongly_declared_encoding_names_the_line(tmp_path):
    path = tmp_path / "x.txt"
    path.write_bytes("I10.x00 hypertension\nI25.103 冠心病\n".encode("gbk"))
    with pytest.raises(CodeListError, match=r"x\.txt:2: bytes that do not decode as utf-8"):
        load(path, "icd10-yb-2.0", encoding="utf-8")


def test_a_repeated_identical_line_is_not_a_duplicate(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("I10.x00 高血压\nI10.x00 高血压\n", "utf-8")
    assert len(load(path, "icd10-yb-2.0")) == 1


def test_a_missing_file_is_a_code_list_error(tmp_path):
    with pytest.raises(CodeListError, match=r"nope\.txt: no such file"):
        load(tmp_path / "nope.txt", "icd10-yb-2.0")
