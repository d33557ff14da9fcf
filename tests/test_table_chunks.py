"""A streamed file is cut into byte chunks of whole records that the workers split: quoted
records over several lines, blank lines and undecodable bytes near the cuts come out with the
same rows, rejects, notes, read counts and locators as when the file is read whole, or streamed
and split record by record in this process."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from hutong.adapters import raw, table_chunks
from hutong.adapters.profile import load_profile
from hutong.adapters.table import batches, open_table
from hutong.adapters.table_chunks import Chunk, parts
from test_table_streaming import assert_same

HEADER = ["住院流水号", "病案号", "姓名", "性别", "出生日期", "入院时间", "出院时间", "离院方式",
          "工作单位", "主要诊断编码", "主要诊断名称", "西药费"]  # fmt: skip


def record(i: int, **over: str) -> list[str]:
    base = {"住院流水号": f"ZY{i:03d}", "病案号": f"BA{i:03d}", "姓名": "张三", "性别": "男",
            "出生日期": "1960/5/1", "入院时间": "2024/3/5 14:02", "出院时间": "2024/3/10 9:30",
            "离院方式": "医嘱离院", "工作单位": "廊坊市第三中学", "主要诊断编码": "I25.103",
            "主要诊断名称": "冠心病", "西药费": "1000.00"}  # fmt: skip
    base.update(over)
    return [base[c] for c in HEADER]


def tricky(path: Path, encoding: str = "gbk", bom: bool = False) -> Path:
    """Records of every kind the cutter must look at twice, several of them in a row."""
    rows = []
    for i in range(1, 41):
        if i % 7 == 0:
            rows.append(record(i, 工作单位=f"第{i}中学,\n高中部\n\n三班"))  # over 4 lines
        elif i % 5 == 0:
            rows.append(record(i, 主要诊断名称='早产儿（孕期"32"整周,但小于37整周）'))
        elif i % 11 == 0:
            rows.append(record(i, 入院时间="yesterday"))
        elif i % 13 == 0:
            rows.append(record(i, 住院流水号=""))  # a record that begins with the delimiter
        else:
            rows.append(record(i))
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for i, r in enumerate(rows):
        writer.writerow(r)
        if i % 6 == 2:
            out.write("\r\n")  # blank line
        if i % 9 == 4:
            out.write(" ,\u3000, \r\n")  # white space and delimiters only: no record
        if i % 9 == 5:
            out.write(",,\t,\r\n")  # the same, from the first byte on
    data = out.getvalue().encode(encoding)
    cut = data.rindex("张三".encode(encoding))
    data = data[:cut] + b"\xff\xfe" + data[cut + 4 :]  # undecodable bytes in the last name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data + b"\r\n \r\n")
    return path


def converted(path: Path, size: int, workers: int = 1) -> list:
    prof = load_profile("vendor-a")
    opened, kind = open_table(path, prof)
    out = []
    for batch in batches(opened, kind, prof, size, workers, conformed=True):
        tables = {t: a.to_pandas() for t, a in sorted(batch.tables.items())}
        out.append((batch.read, tables, [r.to_dict() for r in batch.rejects], batch.notes))
    return out


@pytest.mark.parametrize(("encoding", "bom"), [("gbk", False), ("utf-8", True)])
def test_chunks_cut_near_quoted_and_blank_lines_convert_as_read_whole(
    tmp_path, monkeypatch, encoding, bom
):
    path = tricky(tmp_path / "住院病案首页_chunks.csv", encoding, bom)
    for size in (1, 3, 100):
        monkeypatch.setattr(raw, "STREAM_ABOVE", 32 * 1024 * 1024)
        whole = converted(path, size)
        monkeypatch.setattr(raw, "STREAM_ABOVE", 0)
        monkeypatch.setattr(table_chunks, "SAFE", set())
        one_by_one = converted(path, size)
        monkeypatch.setattr(table_chunks, "SAFE", {"gb18030", "utf-8"})
        for block in (1, 97, 4096):  # a read ends inside records, lines and \r\n
            monkeypatch.setattr(table_chunks, "BLOCK", block)
            opened, _ = open_table(path, load_profile("vendor-a"))
            assert all(isinstance(p, Chunk) for p in parts(opened, size))  # all the new way
            chunked = converted(path, size)
            assert_same(chunked, one_by_one)
        # undecodable bytes are a note of the file read whole but a tail note when streamed
        assert_same(*([(*b[:3], []) for b in out if b[0]] for out in (chunked, whole)))
        assert any("bytes not decodable" in n for b in chunked for n in b[3])
    rejects = [r for b in chunked for r in b[2]]
    assert {(r["locator"], r["reason"]) for r in rejects} >= {
        ("住院病案首页_chunks.csv:19", "bad_datetime")  # after 3 blank lines and a 4-line record
    }


def test_workers_get_chunks_and_return_the_same_batches(tmp_path, monkeypatch):
    path = tricky(tmp_path / "住院病案首页_w.csv")
    monkeypatch.setattr(raw, "STREAM_ABOVE", 0)
    monkeypatch.setattr(table_chunks, "BLOCK", 64)
    assert_same(converted(path, 3, workers=2), converted(path, 3))


def test_a_bare_carriage_return_goes_the_old_way_from_that_record_on(tmp_path, monkeypatch):
    path = tricky(tmp_path / "住院病案首页_cr.csv")
    data = path.read_bytes()
    at = data.index(b"\r\nZY030")
    path.write_bytes(data[:at] + b"\r" + data[at + 2 :])  # ends a line, as the reader reads it
    monkeypatch.setattr(raw, "STREAM_ABOVE", 0)
    monkeypatch.setattr(table_chunks, "BLOCK", 200)
    opened, _ = open_table(path, load_profile("vendor-a"))
    kinds = [type(p).__name__ for p in parts(opened, 4)]
    assert kinds[0] == "Chunk" and kinds[-1] == "Slice"
    chunked = converted(path, 4)
    monkeypatch.setattr(table_chunks, "SAFE", set())
    assert_same(chunked, converted(path, 4))
