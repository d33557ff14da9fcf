"""Shortcuts of the HL7 v2 reader give what the plain way gives: test fields of plain OBXs read
once per distinct combination, timestamps remembered across messages (their notes still made
every time), rows of tables that miss columns, float columns, and batches filled with the
cyclic collector paused but never across a yield."""

from __future__ import annotations

import gc
from pathlib import Path

import pandas as pd
import pytest

from hutong.adapters import hl7v2
from hutong.adapters.hl7v2 import context, reader, results
from hutong.adapters.hl7v2.reader import frame

MSH = "MSH|^~\\&|LIS|H||X|20250101||ORU^R01|{n}|P|2.5"
RESULT = [
    "PID|1||P{n}^^^H^MR||王^小明",
    "OBR|1||F{n}|GLU^Glucose^L|||20250101083000",
    "OBX|1|NM|GLU^葡萄糖^L^2345-7^Glucose^LN||5.6|mmol/L|3.9-6.1|H|||F|||20250101083000",
    "OBX|2|NM|K^钾^L||4.1|mmol/L|3.5-5.3|N|||F|||{when}",
    "OBX|3|ST|NOTE^备注^L||ok||||||***",
]


def feed(tmp_path: Path, count: int, when: str = "20250101083000") -> Path:
    lines = []
    for n in range(count):
        lines += [MSH.format(n=n), *(s.format(n=n, when=when) for s in RESULT)]
    path = tmp_path / "feed.hl7"
    path.write_text("\r".join(lines) + "\r", "utf-8")
    return path


def tables(path: Path, batch_size: int = 5000) -> tuple[dict[str, pd.DataFrame], list[str]]:
    parts: dict[str, list[pd.DataFrame]] = {}
    notes: list[str] = []
    for batch in hl7v2.read(path, batch_size=batch_size):
        notes += batch.notes
        for name, table in batch.tables.items():
            parts.setdefault(name, []).append(table)
    return {name: pd.concat(p, ignore_index=True) for name, p in parts.items()}, notes


def test_plain_results_read_the_same_with_cold_warm_and_tiny_caches(tmp_path, monkeypatch):
    path = feed(tmp_path, 5)
    monkeypatch.setattr(results, "_TESTS", {})
    cold, _ = tables(path)
    warm, _ = tables(path)
    monkeypatch.setattr(results, "CACHE_SIZE", 1)  # a full cache starts again, same answers
    tiny, _ = tables(path)
    monkeypatch.setattr(results, "_plain", lambda seg: None)  # the segment readers' way
    general, _ = tables(path)
    for other in (warm, tiny, general):
        assert cold.keys() == other.keys()
        for name in cold:
            pd.testing.assert_frame_equal(cold[name], other[name], check_exact=True)
    rows = cold["observation"]

    def first(name: str, n: int) -> list:
        return [None if pd.isna(v) else v for v in rows[name].tolist()[:n]]

    assert first("local_code", 3) == ["GLU", "K", "NOTE"]
    assert first("code", 2) == ["2345-7", None]
    assert first("ref_low", 2) == [3.9, 3.5]
    assert first("abnormal_flag", 3) == ["H", "N", None]
    assert first("status", 3) == ["final", "final", None]  # *** is masked, not a status


def test_an_unreadable_time_is_noted_in_every_message_that_sends_it(tmp_path, monkeypatch):
    monkeypatch.setattr(context, "_TIMES", {})
    path = feed(tmp_path, 3, when="2025-13-45")
    found, notes = tables(path)
    assert found["observation"]["effective_time"].notna().all()  # the report's time instead
    noted = [n for n in notes if n.startswith("OBX-14: not an HL7 date/time")]
    assert len(noted) == 1 and "(3×" in noted[0]
    again, notes_again = tables(path)  # remembered now: the same rows and the same notes
    pd.testing.assert_frame_equal(found["observation"], again["observation"])
    assert notes_again == notes


def test_a_time_cache_per_profile_and_bounded(monkeypatch):
    monkeypatch.setattr(context, "_TIMES", {})
    first = context._times_of(("%Y/%m/%d",))
    assert context._times_of(("%Y/%m/%d",)) is first
    assert context._times_of(()) is not first


def test_rows_of_a_table_found_missing_columns_still_fill_every_column(monkeypatch):
    monkeypatch.setattr(reader, "_PARTIAL", set())
    full = {name: None for name in reader.SCHEMAS["report"].names}
    got = frame("report", [{**full, "report_id": "r1", "patient_id": "p"}])
    assert "report" not in reader._PARTIAL and got["report_id"].tolist() == ["r1"]
    got = frame("report", [{"report_id": "r2", "patient_id": "p"}])
    assert "report" in reader._PARTIAL
    got = frame("report", [{**full, "report_id": "r3", "patient_id": "p", "name": "CBC"}])
    assert got["report_id"].tolist() == ["r3"] and got["name"].tolist() == ["CBC"]


def test_float_columns_take_none_as_nan_and_whole_numbers_as_floats():
    got = frame(
        "observation",
        [{"observation_id": "o1", "value_num": None}, {"observation_id": "o2", "value_num": 7}],
    )
    assert str(got["value_num"].dtype) == "float64"
    assert got["value_num"].isna().tolist() == [True, False]
    assert got["value_num"].tolist()[1] == 7.0


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_as_the_caller_left_it_while_batches_are_used(tmp_path, enabled):
    path = feed(tmp_path, 7)
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        seen = []
        for batch in hl7v2.read(path, batch_size=3):
            seen.append((batch.read, gc.isenabled()))
        assert seen == [(3, enabled), (3, enabled), (1, enabled)]
        assert gc.isenabled() is enabled
        batches = hl7v2.read(path, batch_size=3)
        next(batches)
        batches.close()  # a consumer that stops early
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


def test_batches_of_any_size_give_the_same_rows(tmp_path):
    path = feed(tmp_path, 7)
    whole, _ = tables(path)
    for size in (1, 3, 7):
        parts, _ = tables(path, batch_size=size)
        assert parts.keys() == whole.keys()
        for name in whole:
            pd.testing.assert_frame_equal(parts[name], whole[name], check_exact=True)
    assert len(whole["observation"]) == 21


def test_an_exactly_full_last_batch_is_followed_by_the_notes_batch(tmp_path):
    path = feed(tmp_path, 6)
    batches = list(hl7v2.read(path, batch_size=3))
    assert [b.read for b in batches] == [3, 3, 0]


def test_rows_as_values_or_as_dicts_are_the_same_rows(tmp_path, monkeypatch):
    path = feed(tmp_path, 4)
    (tmp_path / "feed.hl7").write_text(
        path.read_text("utf-8").replace("|ok|", "|o\\T\\k|"), "utf-8"
    )  # one OBX per message with an escape: the decoding path, between plain ones
    as_values, _ = tables(path)
    monkeypatch.setattr(results, "ROW_TUPLES", False)  # as when the schema's columns change
    as_dicts, _ = tables(path)
    for name in as_values:
        pd.testing.assert_frame_equal(as_values[name], as_dicts[name], check_exact=True)
    rows = as_values["observation"]
    assert rows["value_text"].tolist()[2] == "o&k"
    assert rows["locator"].tolist()[:3] == [
        "feed.hl7#1/OBX[1]",
        "feed.hl7#1/OBX[2]",
        "feed.hl7#1/OBX[3]",
    ]


def test_a_profile_map_onto_observations_sets_every_row_of_the_message(tmp_path):
    path = feed(tmp_path, 2)
    (tmp_path / "feed.hl7").write_text(
        path.read_text("utf-8").replace("|ok|", "|o\\T\\k|"), "utf-8"
    )
    profile = tmp_path / "vendor.toml"
    profile.write_text('[[map]]\nfield = "OBR-4.2"\ncolumn = "observation.category"\n', "utf-8")
    plain, _ = tables(path)
    mapped: dict[str, list[pd.DataFrame]] = {}
    for batch in hl7v2.read(path, profile=profile):
        for name, table in batch.tables.items():
            mapped.setdefault(name, []).append(table)
    rows = pd.concat(mapped["observation"], ignore_index=True)
    assert rows["category"].tolist() == ["Glucose"] * 6
    pd.testing.assert_frame_equal(
        rows.drop(columns="category"), plain["observation"].drop(columns="category")
    )
