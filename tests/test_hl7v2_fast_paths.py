"""The reader's shortcuts give what the general code gives: segment endings split by bytes
methods, memoised code and range reading, rows taken as tuples, and the plain-value paths of
:class:`~hutong.adapters.hl7v2.er7.Segment` beside escapes and truncation."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from conftest import SHARED, need
from hutong.adapters import hl7v2
from hutong.adapters.hl7v2 import er7, framing, reader, results, values
from hutong.adapters.hl7v2.reader import frame
from hutong.model import conform

ENDINGS = [
    b"MSH|a\rPID|b\rOBX|c",
    b"MSH|a\nPID|b\r\nOBX|c\n",
    b"MSH|a\r\r\nPID|b\n\rOBX|c\r\n\r\n",
    b"\x0bMSH|a\rPID|b\x1c\rMSH|c\r\n",  # MLLP frames: the pattern itself
    b"MSH|a\r\nPID|\x1cb\n",
    b"",
    b"\r\n",
]


@pytest.mark.parametrize("data", ENDINGS)
def test_segment_endings_split_as_the_pattern_does(data: bytes):
    assert framing._split(data) == framing._ENDS.split(data)


def test_codes_and_ranges_read_once_are_read_the_same(monkeypatch):
    monkeypatch.setattr(values, "_CODED", {})  # empty caches, whatever other tests read
    monkeypatch.setattr(values, "_RANGES", {})
    parts = ["GLU", "葡萄糖", "L", "2345-7", "Glucose", "LN"]
    first = values.coded(parts)
    assert values.coded(list(parts)) is first  # remembered
    assert first == values._coded(parts)
    assert first.code == "2345-7" and first.local_code == "GLU"
    assert values.coded(parts[:3]) == values._coded(parts[:3])
    assert values.ref_range("3.5-5.0") == (3.5, 5.0) == values._range("3.5-5.0")
    monkeypatch.setattr(values, "CACHE_SIZE", 1)  # a full cache starts again, same answers
    assert values.ref_range("<7800") == (None, 7800.0)
    assert values.ref_range("3.5-5.0") == (3.5, 5.0)
    assert len(values._RANGES) == 1
    assert values.coded(parts) == first


def corpus_rows() -> dict[str, list[tuple]]:
    """Every row the reader makes from the HL7 v2 corpus, by table, as it hands them to _frame."""
    corpus = need(SHARED / "corpus" / "hl7v2", "the HL7 v2 corpus (../shared/corpus/hl7v2)")
    found: dict[str, list[tuple]] = {}
    for path in sorted(corpus.glob("*.hl7")):
        part = reader._Slice()
        with path.open("rb") as stream:
            for chunk in framing.chunks(stream, framing.Envelope()):
                part.read += 1
                reader._record(chunk, path, hl7v2.profile.load(None), part)
        for table, rows in part.rows.items():
            found.setdefault(table, []).extend(rows)
    return found


def test_rows_read_by_arrow_conform_as_the_python_columns_do():
    found = corpus_rows()
    assert {"patient", "encounter", "report", "observation", "diagnosis"} <= set(found)
    for table, rows in found.items():
        fast, plain = reader._frame(table, rows), reader._python_frame(table, rows)
        assert str(fast["source"].dtype) == "str"  # Arrow read them: no fallback hid here
        assert conform(table, fast).equals(conform(table, plain)), table


def test_a_value_arrow_refuses_keeps_the_python_column():
    row = {"observation_id": "1", "local_code": 5, "source": "s", "locator": "l", "vendor": "v"}
    got = frame("observation", [row])
    assert got["local_code"].tolist() == [5]  # a converter's bug, for conform to name as before
    assert got["observation_id"].tolist() == ["1"]


def test_rows_missing_a_column_give_nulls_there():
    rows = [
        {"patient_id": "1", "name": "王小明", "source": "s", "locator": "l", "vendor": "v"},
        {"patient_id": "2", "source": "s", "locator": "l", "vendor": "v"},
    ]
    got = frame("patient", rows)
    assert got["patient_id"].tolist() == ["1", "2"]
    assert got["name"].isna().tolist() == [False, True]
    assert got["name"][0] == "王小明"
    assert got["brdy"].isna().all()
    assert list(frame("patient", []).columns) == list(got.columns)


def test_frame_keeps_the_canonical_dtypes():
    rows = [
        {
            "observation_id": "o1",
            "seq": 1,
            "value_num": None,
            "effective_time": pd.Timestamp("2025-01-02 03:04:05").to_pydatetime(),
        }
    ]
    got = frame("observation", rows)
    assert str(got["seq"].dtype) == "Int32"
    assert str(got["value_num"].dtype) == "float64" and got["value_num"].isna().all()
    assert str(got["effective_time"].dtype) == "datetime64[s]"


def _segment(line: str, msh: str = "MSH|^~\\&|A") -> er7.Segment:
    return er7.parse([msh, line]).segments[1]


def test_plain_and_escaped_values_agree_with_the_general_reading():
    seg = _segment(r'OBX|1|ST|A^B&C~D^E||x\T\y~"" ^z|u|1.0-2.0\S\x|H~~L')
    syntax = seg.syntax
    assert seg.value(3, 2) == er7.leaf(seg.reps(3)[0], syntax, 2)
    assert seg.value(3, 2) == "B"  # the first subcomponent
    assert seg.components(3) == er7.components(seg.reps(3)[0], syntax, "OBX-3")
    assert seg.components(3, 2) == ["D", "E"]
    assert seg.texts(5) == ["x&y", '"" ^z']
    assert seg.text(7) == "1.0-2.0^x"
    assert seg.values(8) == ["H", "", "L"]
    assert seg.values(9) == [] and seg.components(9) == []


def test_truncated_values_are_noted_on_every_path():
    seg = _segment("OBX|1|TX|C||long text#|kg", "MSH|^~\\&#|A")
    assert seg.texts(5) == ["long text"]
    assert seg.text(5) == "long text"
    assert seg.syntax.truncated == {"OBX-5"}


def test_a_line_that_is_not_a_segment_is_refused_by_its_name():
    for bad in ("ob|1", "OBXX|1", "OB", "1BX|2"):
        with pytest.raises(er7.Malformed, match="segment 2 is not an HL7 segment"):
            er7.parse(["MSH|^~\\&|A", bad])
    assert [s.name for s in er7.parse(["MSH|^~\\&|A", "ZDS"]).segments] == ["MSH", "ZDS"]


@pytest.mark.parametrize("block", [1, 2, 3, 5, 8])
def test_a_crlf_across_blocks_ends_one_segment(block: int):
    data = b"MSH|a\r\nPID|b\r\r\nOBX|c\n\rOBX|d\r\nNTE|e\r"
    whole = list(framing.lines(io.BytesIO(data)))
    assert list(framing.lines(io.BytesIO(data), block)) == whole
    ends = [b"MSH|a", b"PID|b", b"", b"OBX|c", b"", b"OBX|d", b"NTE|e"]  # as the pattern cuts
    assert [line for _, line, _ in whole] == ends


def _tables(path: Path) -> list[dict[str, pd.DataFrame]]:
    return [batch.tables for batch in hl7v2.read(path)]


def test_plain_results_read_as_the_segment_readers_do(monkeypatch):
    """Every corpus file gives the same rows with the plain OBX shortcut and without it."""
    corpus = need(SHARED / "corpus" / "hl7v2", "the HL7 v2 corpus (../shared/corpus/hl7v2)")
    files = sorted(p for p in corpus.iterdir() if p.suffix in (".hl7", ".mllp"))
    fast = {p.name: _tables(p) for p in files}
    monkeypatch.setattr(results, "_plain", lambda seg: None)
    observations = 0
    for path in files:
        slow = _tables(path)
        assert len(slow) == len(fast[path.name])
        for ours, theirs in zip(fast[path.name], slow, strict=True):
            assert ours.keys() == theirs.keys()
            for table in ours:
                pd.testing.assert_frame_equal(ours[table], theirs[table], check_exact=True)
            observations += len(ours.get("observation", ()))
    assert observations > 100
