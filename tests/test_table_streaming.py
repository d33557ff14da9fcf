"""Large table files are streamed, not read whole: the same records, rejects and notes come
out as when the file is read at once (forced here by a threshold of 0 bytes)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from hutong.adapters import raw
from hutong.adapters.profile import load_profile
from hutong.adapters.table import batches, open_table, read_table
from hutong.model import conform

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"


def converted(path: Path, profile: str, batch_size: int) -> list:
    out = []
    for batch in read_table(path, load_profile(profile), batch_size):
        tables = {t: f.reset_index(drop=True) for t, f in sorted(batch.tables.items())}
        out.append((batch.read, tables, [r.to_dict() for r in batch.rejects], batch.notes))
    return out


def assert_same(got: list, want: list) -> None:
    assert len(got) == len(want)
    for (read, tables, rejects, notes), (read2, tables2, rejects2, notes2) in zip(
        got, want, strict=True
    ):
        assert (read, rejects, notes) == (read2, rejects2, notes2)
        assert tables.keys() == tables2.keys()
        for name, frame in tables.items():
            pd.testing.assert_frame_equal(frame, tables2[name])


@pytest.mark.parametrize(
    ("folder", "profile"),
    [("vendor-a", "vendor-a"), ("vendor-b", "vendor-b"), ("lis-a", "lis-a")],
)
def test_streamed_files_convert_as_read_whole(folder, profile, monkeypatch):
    for path in sorted((SAMPLES / folder).iterdir()):
        if path.suffix not in (".csv", ".xlsx"):
            continue
        whole = converted(path, profile, 64)
        monkeypatch.setattr(raw, "STREAM_ABOVE", 0)
        opened, _ = open_table(path, load_profile(profile))
        assert opened.streamed and opened.rows == []
        assert_same(converted(path, profile, 64), whole)
        monkeypatch.setattr(raw, "STREAM_ABOVE", 32 * 1024 * 1024)


def read(spilled) -> pa.Table:
    """A Spilled stream's table, as the spill reader reads it."""
    return pa.ipc.open_stream(pa.py_buffer(spilled.data)).read_all()


@pytest.mark.parametrize(
    ("folder", "profile"), [("vendor-a", "vendor-a"), ("vendor-b", "vendor-b")]
)
def test_worker_processes_convert_the_same_batches_in_order(folder, profile):
    """Slices converted in two forked processes come back in file order, with the same rows
    (as canonical Arrow tables), rejects and notes as converted here."""
    prof = load_profile(profile)
    for path in sorted((SAMPLES / folder).iterdir()):
        if path.suffix not in (".csv", ".xlsx"):
            continue
        raw1, kind = open_table(path, prof)
        here = list(batches(raw1, kind, prof, 16))
        raw2, kind = open_table(path, prof)
        there = list(batches(raw2, kind, prof, 16, workers=2, conformed=True))
        raw3, kind = open_table(path, prof)
        spilled = list(batches(raw3, kind, prof, 16, workers=2, spilled=True))
        assert len(here) == len(there) == len(spilled) > 1
        for b, c in zip(there, spilled, strict=True):  # the spill's streams hold the same
            assert b.tables.keys() == c.tables.keys()
            assert all(read(c.tables[t]).equals(b.tables[t]) for t in b.tables), path.name
            assert all(len(c.tables[t]) == b.tables[t].num_rows for t in b.tables)
        assert sum(len(b.rejects) for b in here) == sum(len(b.rejects) for b in there)
        for a, b in zip(here, there, strict=True):
            assert (a.read, a.notes) == (b.read, b.notes)
            assert [r.to_dict() for r in a.rejects] == [r.to_dict() for r in b.rejects]
            want = {t: conform(t, f) for t, f in a.tables.items() if not f.empty}
            assert want.keys() == b.tables.keys()
            for table, arrow in b.tables.items():
                assert arrow.equals(want[table]), (path.name, table)


def test_an_ascii_head_does_not_hide_the_encoding(tmp_path, monkeypatch):
    """GB18030 text that starts only after the sample's first MiB is still detected."""
    header = "病案号,姓名\n"
    filler = "".join(f"A{i:07d},ASCII\n" for i in range(80_000))  # ~1.2 MiB of ASCII
    path = tmp_path / "big.csv"
    path.write_bytes((header + filler + "B0000001,张三\n").encode("gb18030"))
    monkeypatch.setattr(raw, "SAMPLE", 64 * 1024)
    table = raw.read_raw(path, stream=True)
    assert table.encoding == "gb18030" and table.header == ["病案号", "姓名"]
    rows = list(table.iter_rows())
    assert rows[-1] == (["B0000001", "张三"], f"big.csv:{80_002}") and table.bad_bytes == 0


def test_undecodable_bytes_are_counted_in_a_note(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes("id,name\n1,张三\n2,".encode() + b"\xff\xfe" + b"\n")
    table = raw.read_raw(path, "utf-8", stream=True)
    assert len(list(table.iter_rows())) == 2
    assert table.tail_notes() and "2 bytes not decodable as utf-8" in table.tail_notes()[0]
