"""The table adapter on small hand-written exports: both vendor dialects and every kind of bad
input the issue names (encoding, missing column, malformed dates, unknown codes, empty and
truncated files)."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook

from hutong.adapters.profile import ProfileError, load_profile
from hutong.adapters.table import ProfileMismatch, read_table

A_HEADER = [
    "住院流水号", "病案号", "姓名", "性别", "出生日期", "入院时间", "出院时间", "离院方式",
    "入院科室", "出院科室", "主要诊断编码", "主要诊断名称", "主要诊断入院病情",
    "其他诊断编码1", "其他诊断名称1", "其他诊断入院病情1", "其他诊断编码2", "其他诊断名称2",
    "手术1编码", "手术1名称", "手术1日期", "手术2编码", "手术2名称", "手术2日期",
    "西药费", "西药费_甲类", "西药费_乙类", "西药费_自费", "西药费_其他", "床位费", "诊查费",
]  # fmt: skip


def a_row(**over: str) -> list[str]:
    base = {
        "住院流水号": "ZY001", "病案号": "BA001", "姓名": "张三", "性别": "男",
        "出生日期": "1960/5/1", "入院时间": "2024/3/5 14:02", "出院时间": "2024/3/10 9:30",
        "离院方式": "医嘱离院", "入院科室": "心内科", "出院科室": "心内科",
        "主要诊断编码": "I25.103", "主要诊断名称": "冠状动脉粥样硬化性心脏病",
        "主要诊断入院病情": "有",
        "其他诊断编码1": "I10.x00x002", "其他诊断名称1": "高血压", "其他诊断入院病情1": "有",
        "手术1编码": "36.0700", "手术1名称": "药物洗脱冠状动脉支架置入",
        "手术1日期": "2024/3/6 10:00",
        "西药费": "1000.00", "西药费_甲类": "600", "西药费_乙类": "300", "西药费_自费": "100",
        "西药费_其他": "0", "床位费": "200", "诊查费": "35.5",
    }  # fmt: skip
    base.update(over)
    return [base.get(col, "") for col in A_HEADER]


def write_csv(path: Path, header: list[str], rows: list[list[str]], encoding: str = "gbk") -> Path:
    with path.open("w", encoding=encoding, newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_all(path: Path, profile: str):
    batches = list(read_table(path, load_profile(profile)))
    tables: dict[str, pd.DataFrame] = {}
    for b in batches:
        for t, f in b.tables.items():
            tables[t] = pd.concat([tables[t], f]) if t in tables else f
    return batches, tables, [r for b in batches for r in b.rejects]


def test_vendor_a_wide_row_becomes_canonical_rows(tmp_path):
    path = write_csv(tmp_path / "住院病案首页_2024.csv", A_HEADER, [a_row()])
    batches, t, rejects = read_all(path, "vendor-a")
    assert rejects == [] and batches[0].read == 1
    enc = t["encounter"].iloc[0]
    assert (
        enc["mdtrt_id"] == "ZY001"
        and enc["dscg_way"] == "1"
        and enc["dscg_way_local"] == "医嘱离院"
    )
    assert enc["adm_time"] == pd.Timestamp("2024-03-05 14:02")
    pat = t["patient"].iloc[0]
    assert pat["gend"] == "1" and pat["gend_local"] == "男" and str(pat["brdy"]) == "1960-05-01"
    dx = t["diagnosis"].sort_values("seq")
    assert list(dx["seq"]) == [1, 2]
    assert list(dx["maindiag_flag"]) == ["1", "0"]
    assert list(dx["local_code"]) == ["I25.103", "I10.x00x002"]
    assert list(dx["adm_cond_type"]) == ["1", "1"]
    assert list(t["procedure"]["local_code"]) == ["36.0700"]
    fees = t["charge"].set_index("med_chrgitm")
    assert fees.loc["09", "amt"] == 1000.0 and fees.loc["09", "claa_sumfee"] == 600.0
    assert fees.loc["01", "amt"] == 200.0 and fees.loc["02", "item_local_name"] == "诊查费"
    assert set(t["charge"]["locator"]) >= {"住院病案首页_2024.csv:2/西药费"}
    assert set(t["encounter"]["vendor"]) == {"vendor-a"}


def test_vendor_b_long_layout(tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.title = "visit"
    header = [
        "VISIT_NO",
        "MRN",
        "PAT_NM",
        "SEX_CD",
        "BIRTH_DT",
        "ADM_DTTM",
        "DIS_DTTM",
        "DIS_MODE",
        "DEST_HOSP",
    ]
    ws.append(header)
    ws.append(
        [
            "V1",
            "M1",
            "王芳",
            "F",
            "19880102",
            "20240305140200",
            "20240308100000",
            "02",
            "市第二医院",
        ]
    )
    wb.save(tmp_path / "VISIT.xlsx")
    write_csv(
        tmp_path / "DIAG.csv",
        ["VISIT_NO", "DX_SEQ", "DX_TYPE", "ICD_CD", "DX_NM", "POA"],
        [
            ["V1", "1", "P", "O80.000", "头位顺产", "Y"],
            ["V1", "2", "S", "Z37.000x001", "单胎活产", "Y"],
        ],
        "utf-8",
    )
    write_csv(
        tmp_path / "FEE.csv",
        [
            "VISIT_NO",
            "ITEM_CD",
            "ITEM_NM",
            "FEE_CLS",
            "AMT",
            "CLS_A",
            "CLS_B",
            "SELF_PAY",
            "OTH_AMT",
        ],
        [
            ["V1", "F01", "床位费", "BED", "90", "90", "0", "0", "0"],
            ["V1", "W01", "头孢", "WM", "50.5", "0", "50.5", "0", "0"],
        ],
        "utf-8",
    )
    profile = load_profile("vendor-b")
    visit = next(read_table(tmp_path / "VISIT.xlsx", profile))
    assert visit.rejects == []
    enc = visit.tables["encounter"].iloc[0]
    assert enc["dscg_way"] == "2" and enc["acp_medins_name"] == "市第二医院"
    assert enc["dscg_time"] == pd.Timestamp("2024-03-08 10:00:00")
    assert visit.tables["patient"].iloc[0]["gend"] == "2"
    assert enc["locator"] == "VISIT.xlsx!visit:2"
    diag = next(read_table(tmp_path / "DIAG.csv", profile)).tables["diagnosis"]
    assert list(diag["maindiag_flag"]) == ["1", "0"] and list(diag["seq"]) == [1, 2]
    fee = next(read_table(tmp_path / "FEE.csv", profile)).tables["charge"]
    assert list(fee["med_chrgitm"]) == ["01", "09"] and list(fee["amt"]) == [90.0, 50.5]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_encoding_detected_when_profile_gives_none(tmp_path, encoding):
    profile_text = (
        Path(__file__).parents[1] / "src/hutong/adapters/profiles/vendor-a.toml"
    ).read_text("utf-8")
    custom = tmp_path / "no-encoding.toml"
    custom.write_text(profile_text.replace('encoding = "gb18030"', ""), "utf-8")
    path = write_csv(tmp_path / "住院病案首页_x.csv", A_HEADER, [a_row(姓名="欧阳娜娜")], encoding)
    batches = list(read_table(path, load_profile(custom)))
    assert batches[0].rejects == []
    assert batches[0].tables["patient"].iloc[0]["name"] == "欧阳娜娜"


def test_wrong_declared_encoding_is_recovered_with_a_note(tmp_path):
    path = write_csv(tmp_path / "住院病案首页_utf8.csv", A_HEADER, [a_row()], "utf-8")
    batches = list(read_table(path, load_profile("vendor-a")))
    assert batches[0].rejects == []
    assert any("utf-8" in n for n in batches[0].notes)
    assert batches[0].tables["patient"].iloc[0]["name"] == "张三"


def test_undecodable_bytes_reject_only_that_record(tmp_path):
    path = write_csv(
        tmp_path / "住院病案首页_bad.csv", A_HEADER, [a_row(), a_row(住院流水号="ZY002")]
    )
    data = path.read_bytes().replace(b"ZY002", b"ZY\xff02")
    path.write_bytes(data)
    _, t, rejects = read_all(path, "vendor-a")
    assert [r.reason for r in rejects] == ["encoding"]
    assert rejects[0].locator == "住院病案首页_bad.csv:3" and rejects[0].field == "住院流水号"
    assert list(t["encounter"]["mdtrt_id"]) == ["ZY001"]


def test_missing_required_column_fails_fast_with_expected_and_found(tmp_path):
    header = [c for c in A_HEADER if c != "出院时间"]
    path = write_csv(tmp_path / "住院病案首页_2024.csv", header, [a_row()[:-1]])
    with pytest.raises(ProfileMismatch) as err:
        list(read_table(path, load_profile("vendor-a")))
    text = str(err.value)
    assert "出院时间" in text and "found" in text and "住院流水号" in text and str(path) in text


def test_file_of_another_vendor_fails_fast(tmp_path):
    path = write_csv(tmp_path / "export.csv", ["VISIT_NO", "MRN"], [["1", "2"]], "utf-8")
    with pytest.raises(ProfileMismatch) as err:
        list(read_table(path, load_profile("vendor-a")))
    assert "matches no file kind" in str(err.value) and "VISIT_NO" in str(err.value)


@pytest.mark.parametrize(
    ("override", "reason", "field"),
    [
        ({"入院时间": "2024/13/45 25:61"}, "bad_datetime", "入院时间 (adm_time)"),
        ({"出生日期": "1960-02-30"}, "bad_datetime", "出生日期 (brdy)"),
        ({"性别": "不详男"}, "unknown_code", "性别 (gend)"),
        ({"离院方式": "出走"}, "unknown_code", "离院方式 (dscg_way)"),
        ({"其他诊断入院病情1": "可能"}, "unknown_code", "其他诊断入院病情1 (adm_cond_type)"),
        ({"住院流水号": ""}, "missing_value", "住院流水号 (mdtrt_id)"),
        ({"西药费": "1,000"}, "bad_number", "西药费 (amt)"),
    ],
)
def test_bad_record_goes_to_rejects_and_the_rest_go_on(tmp_path, override, reason, field):
    rows = [a_row(), a_row(**{"住院流水号": "ZY002", **override}), a_row(住院流水号="ZY003")]
    path = write_csv(tmp_path / "住院病案首页_2024.csv", A_HEADER, rows)
    batches, t, rejects = read_all(path, "vendor-a")
    assert len(rejects) == 1
    r = rejects[0]
    assert (r.reason, r.field, r.locator) == (reason, field, "住院病案首页_2024.csv:3")
    assert r.line().startswith(f"住院病案首页_2024.csv:3 {field}: ")
    assert sorted(t["encounter"]["mdtrt_id"]) == ["ZY001", "ZY003"]
    assert set(t["diagnosis"]["mdtrt_id"]) == {"ZY001", "ZY003"}
    assert batches[0].read == 3


def test_truncated_file_rejects_the_cut_record(tmp_path):
    path = write_csv(
        tmp_path / "住院病案首页_2024.csv", A_HEADER, [a_row(), a_row(住院流水号="ZY002")]
    )
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 60])
    _, t, rejects = read_all(path, "vendor-a")
    assert [r.reason for r in rejects] == ["truncated"]
    assert rejects[0].locator == "住院病案首页_2024.csv:3"
    assert list(t["encounter"]["mdtrt_id"]) == ["ZY001"]


def test_empty_and_header_only_files_are_noted_not_crashing(tmp_path):
    empty = tmp_path / "住院病案首页_empty.csv"
    empty.write_bytes(b"")
    batches = list(read_table(empty, load_profile("vendor-a")))
    assert (
        batches[0].read == 0 and batches[0].rejects == [] and "empty file" in batches[0].notes[-1]
    )
    header_only = write_csv(tmp_path / "住院病案首页_h.csv", A_HEADER, [])
    batches = list(read_table(header_only, load_profile("vendor-a")))
    assert batches[0].read == 0 and "header only" in batches[0].notes[-1]


def test_batches_cover_every_record_once(tmp_path):
    rows = [a_row(住院流水号=f"ZY{i:03d}") for i in range(7)]
    path = write_csv(tmp_path / "住院病案首页_2024.csv", A_HEADER, rows)
    batches = list(read_table(path, load_profile("vendor-a"), batch_size=3))
    assert [b.read for b in batches] == [3, 3, 1]
    ids = [i for b in batches for i in b.tables["encounter"]["mdtrt_id"]]
    assert ids == [f"ZY{i:03d}" for i in range(7)]


def test_profile_errors_are_clear(tmp_path):
    with pytest.raises(ProfileError, match="built-in"):
        load_profile("vendor-z")
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[vendor]\nname="x"\n[files.f]\nmatch="*.csv"\n[tables.patient]\nfile="f"\ncolumns={nope="A"}\n'
    )
    with pytest.raises(ProfileError, match="unknown field 'nope'"):
        load_profile(bad)


def test_latin1_text_is_not_mistaken_for_gb18030():
    from hutong.adapters.encoding import decode

    data = "Müller,Jérôme,Bücherstraße".encode("latin-1")
    decoded = decode(data)
    assert decoded.text == "Müller,Jérôme,Bücherstraße" and decoded.encoding in (
        "cp1252",
        "latin-1",
    )
    chinese = "冠状动脉粥样硬化性心脏病,高血压".encode("gbk")
    assert decode(chinese).text == "冠状动脉粥样硬化性心脏病,高血压"


HOMEPAGE_A = ["联系人地址", "工作单位", "单位地址", "单位电话", "门急诊诊断", "门急诊诊断编码"]


def test_vendor_a_contact_employer_and_outpatient_columns_are_optional(tmp_path):
    """联系人地址/工作单位/门急诊诊断 map when present; older exports without them still load."""
    values = ["河北省廊坊市安次区建设路1号", "廊坊市第三中学", "河北省廊坊市广阳区人民路2号",
              "0316-2345678", "胸痛", "R07.400"]  # fmt: skip
    new = write_csv(tmp_path / "住院病案首页_new.csv", A_HEADER + HOMEPAGE_A, [a_row() + values])
    _, t, rejects = read_all(new, "vendor-a")
    assert rejects == []
    pat, enc = t["patient"].iloc[0], t["encounter"].iloc[0]
    assert pat["coner_addr"] == values[0]
    assert (pat["emp_name"], pat["emp_addr"], pat["emp_tel"]) == tuple(values[1:4])
    assert (enc["otp_wm_dise"], enc["otp_wm_dise_code"]) == ("胸痛", "R07.400")
    old = write_csv(tmp_path / "住院病案首页_old.csv", A_HEADER, [a_row()])
    batches, t, rejects = read_all(old, "vendor-a")
    assert rejects == [] and batches[0].read == 1
    assert t["patient"][["coner_addr", "emp_name", "emp_addr"]].isna().all().all()
    assert t["encounter"][["otp_wm_dise", "otp_wm_dise_code"]].isna().all().all()


def test_vendor_b_contact_employer_and_outpatient_columns_are_optional(tmp_path):
    header = ["VISIT_NO", "MRN", "SEX_CD", "BIRTH_DT", "ADM_DTTM", "DIS_DTTM", "DIS_MODE"]
    row = ["V1", "M1", "F", "19880102", "20240305140200", "20240308100000", "01"]
    extra = {"CONTACT_ADDR": "北京市朝阳区建国路88号", "EMPLOYER": "廊坊市人民医院",
             "EMPLOYER_ADDR": "河北省廊坊市广阳区新华路1号", "OP_DX_NM": "发热",
             "OP_DX_CD": "R50.900"}  # fmt: skip
    profile = load_profile("vendor-b")
    for name, cols, vals in [("VISIT_new.csv", [*header, *extra], [*row, *extra.values()]),
                             ("VISIT_old.csv", header, row)]:  # fmt: skip
        path = write_csv(tmp_path / name, cols, [vals], "utf-8")
        visit = next(read_table(path, profile))
        assert visit.rejects == []
        pat, enc = visit.tables["patient"].iloc[0], visit.tables["encounter"].iloc[0]
        got = (pat["coner_addr"], pat["emp_name"], pat["emp_addr"])
        got += (enc["otp_wm_dise"], enc["otp_wm_dise_code"])
        expected = tuple(extra.values()) if name.endswith("new.csv") else (None,) * 5
        assert tuple(None if pd.isna(v) else v for v in got) == expected
