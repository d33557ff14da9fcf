"""The vectorized steps of linking and conform decide exactly what the per-row code did."""

from __future__ import annotations

import decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from hutong.adapters.batch import record_of
from hutong.linking import _all_missing, _kept, _merged, _without, link
from hutong.model import SCHEMAS, _text_array


def slow_without(tables: dict[str, pd.DataFrame], records: set) -> dict[str, pd.DataFrame]:
    """The per-row version ``_without`` replaced."""
    out = {}
    for table, frame in tables.items():
        if frame.empty:
            out[table] = frame
            continue
        keys = pd.Series(
            list(zip(frame["source"], frame["locator"].map(record_of), strict=True)),
            index=frame.index,
        )
        out[table] = frame[~keys.isin(records)]
    return out


ROWS = pd.DataFrame(
    {
        "source": ["a.hl7", "a.hl7", "a.hl7", "b.hl7", "b.hl7", "c.csv", "a.hl7"],
        "locator": ["a.hl7#1/OBX[1]", "a.hl7#1/OBX[2]", "a.hl7#10/OBX[1]", "b.hl7#1",
                    "b.hl7#2/PID/x", "c.csv:2", "a.hl7#2"],
        "value": [1, 2, 3, 4, 5, 6, 7],
    },
    index=[10, 11, 12, 13, 14, 15, 16],
)  # fmt: skip


@pytest.mark.parametrize(
    "records",
    [
        {("a.hl7", "a.hl7#1")},
        {("a.hl7", "a.hl7#1"), ("b.hl7", "b.hl7#2"), ("b.hl7", "b.hl7#1")},
        {("b.hl7", "a.hl7#1")},  # a record of one file is not one of another
        {("c.csv", "c.csv:2"), ("zz", "zz#1")},
        {(None, "a.hl7#1"), ("a.hl7", "a.hl7#2")},  # not text: the general path
    ],
)
@pytest.mark.parametrize("dtype", [object, "str"])
def test_without_drops_the_rows_the_per_row_code_dropped(records, dtype):
    frame = ROWS.astype({"source": dtype, "locator": dtype})
    tables = {"observation": frame, "patient": frame.iloc[::2], "order": frame.iloc[:0]}
    fast, slow = _without(tables, records), slow_without(tables, records)
    for table in tables:
        pd.testing.assert_frame_equal(fast[table], slow[table])
    assert len(fast["observation"]) < len(frame) or records == {("b.hl7", "a.hl7#1")}


def test_without_keeps_a_row_whose_source_is_missing_unless_a_record_names_none():
    frame = pd.DataFrame({"source": [None, "a"], "locator": ["a#1/X", "a#1/X"]})
    tables = {"observation": frame}
    for records in ({("a", "a#1")}, {(None, "a#1")}):
        pd.testing.assert_frame_equal(
            _without(tables, records)["observation"], slow_without(tables, records)["observation"]
        )


def chains() -> tuple[dict, object]:
    into = {"M1": "M2", "M2": "P1", "C1": "C2", "C2": "C1", "N": None}

    def final(pid: object) -> object:
        seen = set()
        while pid in into and pid not in seen:
            seen.add(pid)
            pid = into[pid]
        return pid

    return into, final


@pytest.mark.parametrize(
    "values",
    [
        ["M1", "P9", None, "M2", "C1", np.nan],
        ["P1", "P2"],  # nobody merged: still ``str`` as map made it
        ["N", "P1"],  # merged into a missing id
        [None, np.nan],
        ["M1", 5],  # not all text
        [pd.NA, "M2"],
    ],
)
@pytest.mark.parametrize("dtype", [object, "str"])
def test_merged_ids_are_those_map_gave(values, dtype):
    into, final = chains()
    ids = pd.Series(values, dtype=dtype, index=range(5, 5 + len(values)), name="patient_id")
    pd.testing.assert_series_equal(_merged(ids, into, final), ids.map(final))


@pytest.mark.parametrize("merges", [True, False])
def test_merges_follow_chains_and_leave_the_callers_frames_alone(merges):
    def prov(loc: str) -> dict:
        return {"source": "f.hl7", "locator": loc, "vendor": "v"}

    rows = {
        "patient": [{"patient_id": "P1", **prov("f.hl7#1")},
                    {"patient_id": "M1", **prov("f.hl7#2")}],
        "encounter": [{"mdtrt_id": "V1", "patient_id": "M1", **prov("f.hl7#2")}],
        "observation": [
            {"observation_id": "O1", "patient_id": "M1", "mdtrt_id": "V9", "local_name": "x",
             **prov("f.hl7#3/OBX[1]")},
        ],
        "patient_link": [{"patient_id": "P1", "merged_id": "M2", **prov("f.hl7#4")},
                         {"patient_id": "M2", "merged_id": "M1", **prov("f.hl7#5")}],
    }  # fmt: skip
    if not merges:
        del rows["patient_link"]
    tables = {t: pd.DataFrame(rows.get(t, []), columns=s.names) for t, s in SCHEMAS.items()}
    given, before = dict(tables), {t: f.copy() for t, f in tables.items()}
    linked, _, notes = link(tables, {"f.hl7"})
    survivor = "P1" if merges else "M1"
    assert list(linked["encounter"]["patient_id"]) == [survivor]
    assert list(linked["observation"]["patient_id"]) == [survivor]
    assert linked["observation"]["mdtrt_id"].isna().all()  # V9 was never sent
    assert notes == {"observation: visit link dropped (visit not sent, or another patient's)": 1}
    for table, frame in given.items():  # link may reuse the dict, not change a frame
        pd.testing.assert_frame_equal(frame, before[table])


def test_all_missing_is_what_reindex_isna_all_gave():
    frame = pd.DataFrame(
        {"local_code": [None, "a", None, np.nan], "code": [np.nan, None, "c", None]},
        index=[3, 1, 2, 0],
    )
    columns = ["local_code", "local_name", "code"]
    expected = frame.reindex(columns=columns).isna().all(axis=1)
    pd.testing.assert_series_equal(_all_missing(frame, tuple(columns)), expected)
    assert _all_missing(frame, tuple(columns)).tolist() == [True, False, False, True]


@pytest.mark.parametrize(
    "values",
    [
        ["a", None, np.nan, pd.NA, "b"],
        ["a", np.float32("nan")],  # pyarrow refuses it: the general path nulls it
        ["a", pd.NaT, np.datetime64("NaT")],
        ["a", decimal.Decimal("NaN")],
        [None, None],
        ["中文", ""],
    ],
)
def test_text_array_nulls_what_notna_calls_missing(values):
    series = pd.Series(values, dtype=object)
    masked = pa.array(
        series.where(series.notna(), None).to_numpy(), type=pa.string(), from_pandas=True
    )
    assert _text_array(series, pa.string()).equals(masked)


def test_text_array_still_refuses_a_value_that_is_not_text():
    with pytest.raises((pa.ArrowInvalid, pa.ArrowTypeError)):
        _text_array(pd.Series(["a", 5], dtype=object), pa.string())


@pytest.mark.parametrize("index", [[0, 2, 3, 5, 8, 9], [9, 3, 0, 2, 5, 8], [0, 1, 2, 3, 4, 5]])
def test_kept_rows_are_those_concat_drop_duplicates_sort_index_gave(index):
    frame = pd.DataFrame(
        {"id": ["a", "b", "a", "c", "b", "d"], "source": ["x", "f", "f", "x", "f", "f"]},
        index=index,
    )
    fed, sent = frame[frame["source"] == "f"], frame[frame["source"] == "x"]
    latest = ~fed.duplicated(["id"], keep="last")
    for sent_rows, fed_rows in ((sent, latest), (sent.iloc[:0], latest), (sent, latest & False)):
        expected = pd.concat([sent_rows, fed[fed_rows]])
        expected = expected.drop_duplicates(["id"], keep="first").sort_index()
        pd.testing.assert_frame_equal(_kept(frame, sent_rows, fed, fed_rows, ["id"]), expected)
    unique = frame.assign(id=list("uvwxyz"))
    every = pd.Series(True, index=unique.index[2:])
    assert _kept(unique, unique.iloc[:2], unique.iloc[2:], every, ["id"]) is unique or index[0] == 9
