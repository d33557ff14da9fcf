"""Dealing rows into partitions: a row that names no patient goes with the owner of its visit
or study, exactly (64-bit hashes compared as integers, never through float64), whatever else
is in its batch; and dealing in worker processes writes the same partition files."""

from __future__ import annotations

import filecmp

import pandas as pd
import pyarrow as pa
import pytest

from hutong.model import SCHEMAS, conform
from hutong.partitions import Owners, Spill, _hash, deal, read_tables

SOURCE = {"source": "x", "locator": "x:1", "vendor": "test"}


def spill_of(folder, tables: dict[str, list[dict]]):
    spill = Spill(folder)
    for table, rows in tables.items():
        spill.add(table, conform(table, pd.DataFrame([{**SOURCE, **r} for r in rows])).to_pandas())
    spill.close()
    return folder


def test_a_series_goes_with_its_studys_patient_even_beside_an_unknown_study(tmp_path):
    spill = spill_of(
        tmp_path / "spill",
        {
            "imaging_study": [{"study_uid": f"1.2.{i}", "patient_id": f"P{i}"} for i in range(50)],
            # a batch of series where one names a study nobody sent: the others must still
            # get their study's patient hash to the last bit
            "imaging_series": [
                {"series_uid": f"1.3.{i}", "study_uid": f"1.2.{i}"} for i in range(50)
            ]
            + [{"series_uid": "1.3.999", "study_uid": "9.9.9"}],
        },
    )
    owners = Owners(spill)
    series = pd.DataFrame(
        {
            "patient_id": pd.Series([None] * 51, dtype="string"),
            "study_uid": pd.Series([f"1.2.{i}" for i in range(50)] + ["9.9.9"], dtype="string"),
            "series_uid": pd.Series([f"1.3.{i}" for i in range(51)], dtype="string"),
        }
    )
    keys = owners.keys("imaging_series", series)
    patients = _hash(pd.Series([f"P{i}" for i in range(50)], dtype="string"))
    assert (keys[:50] == patients).all()
    assert keys[50] == _hash(pd.Series(["9.9.9"], dtype="string"))[0]  # dealt by its study id


def test_dealing_in_two_processes_writes_the_same_files(tmp_path):
    rows = {
        "patient": [{"patient_id": f"P{i}"} for i in range(300)],
        "encounter": [
            {"mdtrt_id": f"V{i}", "patient_id": f"P{i % 300}", "enc_class": "IMP"}
            for i in range(600)
        ],
        "diagnosis": [
            {"mdtrt_id": f"V{i % 600}", "seq": i // 600 + 1, "local_name": f"dx{i}"}
            for i in range(1800)
        ],
    }
    spill = spill_of(tmp_path / "spill", rows)
    one = deal(spill, tmp_path / "one", 7, workers=1)
    deal(spill, tmp_path / "two", 7, workers=2)
    files = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*.arrow"))
    assert len(files) == 3 * 7
    for name in files:
        assert filecmp.cmp(tmp_path / "one" / name, tmp_path / "two" / name, shallow=False)
    # every diagnosis sits with its stay, every stay with its patient
    for folder in one:
        t = read_tables(folder)
        assert set(t["diagnosis"]["mdtrt_id"]) <= set(t["encounter"]["mdtrt_id"])
        assert set(t["encounter"]["patient_id"]) <= set(t["patient"]["patient_id"])


def test_a_spill_holds_added_tables_and_spilled_streams_in_order(tmp_path):
    """Tables added and streams appended (a worker's Spilled bytes) in any mix read back as
    one table in the order added, with the rows counted."""
    from hutong.adapters.batch import Spilled
    from hutong.partitions import batches

    def rows(start: int, n: int) -> pd.DataFrame:
        ids = [f"P{i:04d}" for i in range(start, start + n)]
        return pd.DataFrame({"patient_id": ids, "name": [f"name {i}" for i in ids]})

    def stream(frame: pd.DataFrame) -> Spilled:  # as a read worker hands it over
        return Spilled.of(conform("patient", frame), SCHEMAS["patient"])

    pieces = [rows(0, 3), rows(3, 2), rows(5, 4), rows(9, 1), rows(10, 2), rows(12, 0)]
    spill = Spill(tmp_path)
    spill.add("patient", stream(pieces[0]))  # a stream first
    spill.add("patient", pieces[1])  # a frame: a stream of its own begins
    spill.add("patient", conform("patient", pieces[2]))  # the same stream goes on
    spill.add("patient", stream(pieces[3]))  # it ends; bytes appended
    spill.add("patient", stream(pieces[4]))
    spill.add("patient", stream(pieces[5]))  # no rows: nothing
    spill.close()
    assert spill.rows == {"patient": 12}
    back = pd.concat([t.to_pandas() for t in batches(tmp_path, "patient")], ignore_index=True)
    want = conform("patient", pd.concat(pieces, ignore_index=True)).to_pandas()
    pd.testing.assert_frame_equal(back, want)
    with pytest.raises(pa.ArrowInvalid):  # a table of another schema is refused
        Spilled.of(pa.table({"patient_id": ["P1"]}), SCHEMAS["patient"])
    assert read_tables(tmp_path)["patient"]["patient_id"].tolist() == want["patient_id"].tolist()
