"""The table adapter converts whole columns at once: cells it must treat one by one (white space,
undecodable bytes, quoted records over several lines, the slice separator inside a cell) come
out as they did when every cell was a Python string, streamed or read whole."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from hutong.adapters import raw
from hutong.adapters.cells import (
    datetime_seconds,
    number_values,
    parse_datetimes,
    parse_numbers,
)
from hutong.adapters.profile import load_profile
from hutong.adapters.raw import SEP
from hutong.adapters.table import read_table

HEADER = ["住院流水号", "病案号", "姓名", "性别", "出生日期", "入院时间", "出院时间", "离院方式",
          "工作单位", "主要诊断编码", "主要诊断名称", "西药费"]  # fmt: skip


def row(**over: str) -> list[str]:
    base = {"住院流水号": "ZY001", "病案号": "BA001", "姓名": "张三", "性别": "男",
            "出生日期": "1960/5/1", "入院时间": "2024/3/5 14:02", "出院时间": "2024/3/10 9:30",
            "离院方式": "医嘱离院", "工作单位": "廊坊市第三中学", "主要诊断编码": "I25.103",
            "主要诊断名称": "冠心病", "西药费": "1000.00"}  # fmt: skip
    base.update(over)
    return [base[c] for c in HEADER]


def write(path: Path, rows: list[list[str]], encoding: str = "gbk") -> Path:
    with path.open("w", encoding=encoding, newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def both_ways(path: Path, monkeypatch) -> list[tuple]:
    """The file converted read whole and streamed: (patients, encounters, rejects) each."""
    out = []
    for threshold in (32 * 1024 * 1024, 0):
        monkeypatch.setattr(raw, "STREAM_ABOVE", threshold)
        batches = list(read_table(path, load_profile("vendor-a"), batch_size=2))
        tables = [b.tables for b in batches if b.tables]
        patients = pd.concat([t["patient"] for t in tables], ignore_index=True)
        encounters = pd.concat([t["encounter"] for t in tables], ignore_index=True)
        rejects = [r.to_dict() for b in batches for r in b.rejects]
        out.append((patients, encounters, rejects, [n for b in batches for n in b.notes]))
    return out


def test_white_space_of_any_kind_is_stripped_and_blank_cells_are_missing(tmp_path, monkeypatch):
    rows = [
        row(姓名="\u3000张三\u3000", 工作单位="\u3000"),
        row(住院流水号=" ZY002\t", 姓名="\xa0李四 ", 工作单位="  "),
        row(住院流水号="ZY003", 姓名="王\u3000五"),
    ]
    path = write(tmp_path / "住院病案首页_ws.csv", rows, "utf-8")
    for patients, encounters, rejects, _ in both_ways(path, monkeypatch):
        assert rejects == []
        assert list(patients["name"]) == ["张三", "李四", "王\u3000五"]
        assert patients["emp_name"].isna().tolist() == [True, True, False]
        assert list(encounters["mdtrt_id"]) == ["ZY001", "ZY002", "ZY003"]


def test_a_cell_holding_the_slice_separator_keeps_it(tmp_path, monkeypatch):
    rows = [row(姓名=f"张{SEP}三"), row(住院流水号="ZY002")]
    path = write(tmp_path / "住院病案首页_sep.csv", rows, "utf-8")
    for patients, encounters, rejects, _ in both_ways(path, monkeypatch):
        assert rejects == [] and list(patients["name"]) == [f"张{SEP}三", "张三"]
        assert list(encounters["mdtrt_id"]) == ["ZY001", "ZY002"]


def test_quoted_records_over_several_lines_keep_their_first_line(tmp_path, monkeypatch):
    rows = [
        row(工作单位="第一中学,\n高中部"),
        row(住院流水号="ZY002", 姓名='李"四'),
        row(住院流水号="ZY003", 入院时间="yesterday"),
    ]
    path = write(tmp_path / "住院病案首页_q.csv", rows)
    text = path.read_bytes().replace(b"\r\nZY002", b"\r\n\r\n , ,\r\nZY002")  # blank rows
    path.write_bytes(text)
    whole, streamed = both_ways(path, monkeypatch)
    for patients, _, rejects, _ in (whole, streamed):
        assert list(patients["emp_name"])[:2] == ["第一中学,\n高中部", "廊坊市第三中学"]
        assert list(patients["name"]) == ["张三", '李"四']
        assert [(r["locator"], r["reason"]) for r in rejects] == [
            ("住院病案首页_q.csv:7", "bad_datetime")
        ]
    assert whole[2] == streamed[2]
    for a, b in zip(whole[:2], streamed[:2], strict=True):
        pd.testing.assert_frame_equal(a, b)


def test_undecodable_bytes_in_a_date_reject_only_that_record(tmp_path, monkeypatch):
    path = write(tmp_path / "住院病案首页_bad.csv", [row(), row(住院流水号="ZY002")])
    data = path.read_bytes()
    cut = data.rindex(b"2024/3/5 14:02")
    path.write_bytes(data[:cut] + b"2024/3/\xff 14:02" + data[cut + len(b"2024/3/5 14:02") :])
    for patients, encounters, rejects, _ in both_ways(path, monkeypatch):
        assert [(r["reason"], r["field"], r["locator"]) for r in rejects] == [
            ("encoding", "入院时间", "住院病案首页_bad.csv:3")
        ]
        assert list(encounters["mdtrt_id"]) == ["ZY001"] and len(patients) == 1


def test_streamed_note_counts_the_records_undecodable_bytes_not_the_headers(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"id,na\xff" + "me\n1,张三\n2,".encode() + b"\xff\xfe\n")
    table = raw.read_raw(path, "utf-8", stream=True)
    records = list(table.iter_records(SEP))
    assert [locator for _, locator in records] == ["bad.csv:2", "bad.csv:3"]
    assert records[0][0] == f"1{SEP}张三"  # a plain record comes as one text
    assert "2 bytes not decodable as utf-8" in table.tail_notes()[0]


TEXTS = ["224.80", "0.00", "007", "1e3", "-0", "-0.0", " 5 ", "1,000", "inf", "nan", "12.",
         ".5", "+5", "123456789012345678", "3.14159265358979", None, "１２", "0.1"]  # fmt: skip


@pytest.mark.parametrize("texts", [TEXTS, ["224.80", "0.1", None, "13100220"], [None, None]])
def test_numbers_read_from_arrow_are_the_doubles_pandas_reads(texts):
    want, want_bad = parse_numbers(pd.Series(texts, dtype=object))
    got, bad = number_values(pa.array(texts, type=pa.string()))
    assert list(bad) == list(want_bad)
    for a, b in zip(got, want, strict=True):
        assert (math.isnan(a) and math.isnan(b)) or (a == b and np.signbit(a) == np.signbit(b))


def test_date_times_read_from_arrow_are_the_ones_pandas_reads():
    texts = ["2024/3/5 14:02", "2024/3/5 14:02:09", "2024/13/45 25:61", None, "1960/5/1", "x"]
    formats = ("%Y/%m/%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d")
    want, want_bad = parse_datetimes(pd.Series(texts, dtype=object), formats)
    seconds, bad = datetime_seconds(pa.array(texts, type=pa.string()), formats)
    assert list(bad) == list(want_bad)
    kept = want.notna().to_numpy()
    assert list(seconds[kept]) == list(want[kept].to_numpy().view(np.int64))


@pytest.mark.parametrize(
    ("days", "message"),
    [("1.5", "not a whole number"), ("inf", "not a whole number"), ("3000000000", "out of range")],
)
def test_a_number_an_integer_column_cannot_hold_rejects_only_that_record(
    tmp_path, monkeypatch, days, message
):
    path = tmp_path / "住院病案首页_days.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*HEADER, "实际住院天数"])
        for mdtrt_id, cell in (("ZY001", "5"), ("ZY002", days), ("ZY003", "3.0")):
            writer.writerow([*row(住院流水号=mdtrt_id), cell])
    for _, encounters, rejects, _ in both_ways(path, monkeypatch):
        assert [(r["locator"], r["reason"], r["field"], r["value"]) for r in rejects] == [
            ("住院病案首页_days.csv:3", "bad_number", "实际住院天数 (act_ipt_days)", days)
        ]
        assert message in rejects[0]["message"]
        assert list(encounters["mdtrt_id"]) == ["ZY001", "ZY003"]
        assert list(encounters["act_ipt_days"]) == [5, 3]
