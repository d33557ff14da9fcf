"""Hostile and broken input: the HL7 v2 adapter refuses it in bounded memory, one reject per
record, and the good messages around it still convert. (How fast it refuses is a benchmark's
business, not a wall-clock assertion here: the memory peak is what shows it never held it.)"""

from __future__ import annotations

import random
import tracemalloc
from pathlib import Path

from hutong.adapters.hl7v2 import framing
from test_hl7v2_reader import PID, message, read

GOOD = message("ADT^A04", PID, n=9)


def _traced(path: Path):
    """What the adapter read from ``path`` and the peak of Python memory while it did."""
    tracemalloc.start()
    got = read(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return got, peak


def test_huge_segment_count_is_refused(tmp_path):
    path = tmp_path / "segments.hl7"
    with path.open("w", encoding="utf-8") as out:
        out.write(message("ORU^R01", "PID|1||P1", "OBR|1||F1|X"))
        out.write("OBX|1|ST|X||y\r" * (framing.MAX_SEGMENTS + 50_000))
        out.write(GOOD)
    got, peak = _traced(path)
    assert [(r.locator, r.reason) for r in got.rejects] == [("segments.hl7#1", "hostile")]
    assert "segments" in got.rejects[0].message and len(got.tables["patient"]) == 1
    assert peak < 64 << 20


def test_a_50_mb_field_is_refused_without_holding_it(tmp_path):
    path = tmp_path / "field.hl7"
    with path.open("wb") as out:
        out.write(message("ORU^R01", "PID|1||P1", "OBR|1||F1|X").encode())
        out.write(b"OBX|1|ED|X||")
        for _ in range(50):
            out.write(b"A" * (1 << 20))
        out.write(b"\r" + GOOD.encode())
    got, peak = _traced(path)
    assert [(r.locator, r.reason) for r in got.rejects] == [("field.hl7#1", "hostile")]
    assert len(got.tables["patient"]) == 1
    assert peak < 48 << 20  # one message cap (10 MB) and its copies, not 50 MB


def test_too_many_fields_and_repetitions(tmp_path):
    fields = message("ADT^A04", "PID|1||P1" + "|" * 50_000)
    reps = message("ADT^A04", "PID|1||" + "~" * 500_000 + "|X")
    got = read(_write(tmp_path, fields + reps + GOOD))
    assert [r.reason for r in got.rejects] == ["malformed"]
    assert "fields" in got.rejects[0].message and got.read == 3


def test_nul_bytes_reject_only_their_message(tmp_path):
    data = message("ADT^A04", "PID|1||P1^^^\x00H").encode() + GOOD.encode()
    got = read(_write(tmp_path, data))
    assert [(r.locator, r.reason) for r in got.rejects] == [("feed.hl7#1", "malformed")]
    assert "NUL" in got.rejects[0].message and len(got.tables["patient"]) == 1


def test_binary_garbage_is_one_rejected_record(tmp_path):
    rng = random.Random(7)
    data = bytes(rng.randrange(256) for _ in range(1 << 20)).replace(b"MSH", b"MSX")
    got, _ = _traced(_write(tmp_path, data))
    assert got.read == 1 and [r.reason for r in got.rejects] == ["malformed"]


def test_a_huge_line_of_garbage_then_messages(tmp_path):
    data = b"x" * (framing.MAX_MESSAGE_BYTES + 1000) + b"\r" + GOOD.encode()
    got = read(_write(tmp_path, data))
    assert [(r.locator, r.reason) for r in got.rejects] == [("feed.hl7:1", "hostile")]
    assert len(got.tables["patient"]) == 1


def test_utf16_and_lying_headers(tmp_path):
    utf16 = read(_write(tmp_path, GOOD.encode("utf-16"), "utf16.hl7"))
    assert [r.reason for r in utf16.rejects] == ["encoding"]
    lying = message("ADT^A04", PID, tail="||||||ASCII").encode("gb18030")
    got = read(_write(tmp_path, lying, "lying.hl7"))
    assert got.tables["patient"]["name"].iloc[0] == "王小明"
    assert any("MSH-18 'ASCII' does not fit the bytes; read as gb18030" in n for n in got.notes)


def test_only_batch_segments(tmp_path):
    got = read(_write(tmp_path, "FHS|^~\\&\rBHS|^~\\&\rBTS|0\rFTS|1\r"))
    assert got.read == 0 and "batch envelope: 1 FHS, 1 BHS" in got.notes


def _write(tmp_path: Path, data: str | bytes, name: str = "feed.hl7") -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path
