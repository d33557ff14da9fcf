"""Shortcuts of FHIR emission give what the plain way gives: dateTimes spelled once per distinct
time, text columns converted once per distinct value, ids hashed from Python lists, rows kept
in place when they are already in key order, per-value work of Observations reused, and the
NDJSON check that skips most ``e-`` hits by one byte."""

from __future__ import annotations

import random
import re

import numpy as np
import pandas as pd
import pytest

from hutong.mapping.fhir import datatypes, emit, ndjson
from hutong.mapping.fhir import observation as obs
from hutong.mapping.fhir.datatypes import _date_times, date_times, text
from hutong.mapping.fhir.ids import resource_id, resource_ids


def plain_text(column: pd.Series) -> pd.Series:
    """``text`` the pandas way."""
    strings = column.astype("string").str.strip()
    strings = strings.where(strings.ne(""))
    return strings.astype(object).where(strings.notna(), None)


@pytest.mark.parametrize("dtype", ["datetime64[s]", "datetime64[ns]"])
def test_date_times_of_many_rows_spell_each_distinct_time_as_one_by_one(dtype):
    rng = random.Random(5)
    moments = [
        None
        if rng.random() < 0.2
        else pd.Timestamp(
            rng.choice([1986, 1988, 1991, 2014, 2025]),
            rng.randint(1, 12),
            rng.randint(1, 28),
            rng.randint(0, 23),
            rng.choice([0, 30]),
        )
        for _ in range(2000)
    ]
    # China's summer time: a wall time that does not exist, one that happens twice
    moments += [pd.Timestamp("1986-05-04 02:30"), pd.Timestamp("1986-09-14 01:30"), pd.NaT]
    column = pd.Series(moments, dtype=dtype, index=range(7, 7 + len(moments)))
    assert len(column) > datatypes.DISTINCT_FROM
    found = date_times(column)
    expected = _date_times(column)
    assert found.tolist() == expected.tolist()
    assert found.index.equals(column.index) and found.dtype == object
    assert found.tolist()[-3:] == ["1986-05-04T03:00:00+09:00", "1986-09-14T01:30:00+08:00", None]
    empty = pd.Series([pd.NaT] * 100, dtype=dtype)
    assert date_times(empty).tolist() == [None] * 100


@pytest.mark.parametrize("repeated", [True, False])
@pytest.mark.parametrize("dtype", ["str", "string[pyarrow]", object])
def test_text_of_long_columns_matches_the_pandas_way(repeated, dtype):
    rng = random.Random(3)
    pool = [" a ", "", None, "\u3000x\u3000", "z", " 中 文 ", "\t", "mmol/L"]
    if repeated:
        values = [rng.choice(pool) for _ in range(5000)]
    else:
        values = [f" v{i} " if i % 7 else None for i in range(5000)]
    column = pd.Series(values, dtype=dtype, index=range(3, 5003))
    assert len(column) > datatypes.SAMPLE
    found = text(column)
    assert found.tolist() == plain_text(column).tolist()
    assert found.index.equals(column.index) and found.dtype == object


def test_text_of_a_chunked_arrow_column_matches_the_pandas_way():
    parts = [pd.Series(["a ", None, " b"] * 700, dtype="str") for _ in range(3)]
    column = pd.concat(parts, ignore_index=True)
    assert text(column).tolist() == plain_text(column).tolist()


def test_resource_ids_match_resource_id():
    systems = pd.Series(["urn:hutong:sid:vendor-a:report_id"] * 50, dtype="str")
    values = pd.Series([f"R{i}/1" for i in range(49)] + ["中文/2"], dtype=object)
    found = resource_ids(systems, values).tolist()
    assert found == [resource_id(s, v) for s, v in zip(systems, values, strict=True)]
    numbers = pd.Series([1, 2, 3], dtype=object)  # not strings: spelled as astype(str) does
    systems = pd.Series(["urn:x"] * 3, dtype=object)
    assert resource_ids(systems, numbers).tolist() == [
        resource_id("urn:x", str(n)) for n in (1, 2, 3)
    ]


def test_rows_in_key_order_are_kept_and_others_sorted():
    rows = [
        {"vendor": "v", "observation_id": f"R{i:03d}", "patient_id": "p", "source": "s"}
        for i in range(40)
    ]
    ordered = pd.DataFrame(rows, dtype=object)
    shuffled = ordered.sample(frac=1, random_state=2).reset_index(drop=True)
    repeated = pd.concat([ordered, ordered.iloc[:3]], ignore_index=True)  # a key twice
    assert emit._in_order(ordered, ["observation_id", "source"])
    assert not emit._in_order(shuffled, ["observation_id", "source"])
    assert not emit._in_order(repeated, ["observation_id", "source"])
    for frame in (ordered, shuffled, repeated):
        got = emit._usable({"observation": frame}, "observation", [])
        expected = (
            frame.assign(**{c: text(frame[c]) for c in ("vendor", "observation_id", "patient_id")})
            .sort_values(["observation_id", "source"], kind="mergesort", na_position="last")
            .reset_index(drop=True)
        )
        pd.testing.assert_frame_equal(got[expected.columns], expected)


def test_observations_share_no_category_or_interpretation_between_resources():
    n = 3
    cols = {name: [None] * n for name in obs_columns()}
    cols.update(
        key_system=["urn:x"] * n,
        key_value=["R1", "R2", "R3"],
        name=["Glucose"] * n,
        category=["laboratory", None, None],
        report_category=[None, "LAB", "LAB"],
        abnormal_flag=["H~weird", "H~weird", "H~weird"],
    )
    first, second, third = obs._build(cols)
    assert {**second, "identifier": None} == {**third, "identifier": None}
    assert second["category"] == first["category"]
    assert second["category"][0] is not third["category"][0]
    assert second["category"][0]["coding"][0] is not third["category"][0]["coding"][0]
    assert second["interpretation"] == [
        {
            "coding": [
                {"system": obs.hl7("observation_interpretation"), "code": "H", "display": "High"}
            ]
        },
        {"text": "weird"},
    ]
    for a, b in zip(second["interpretation"], third["interpretation"], strict=True):
        assert a is not b
    assert second["interpretation"][0]["coding"][0] is not third["interpretation"][0]["coding"][0]


def obs_columns() -> list[str]:
    return [
        "id", "key_system", "key_value", "patient", "encounter", "status", "effective", "code",
        "name", "map_status", "standard_system", "local_system", "local_code", "local_name",
        "category", "report_category", "abnormal_flag", "value_num", "unit", "ref_low",
        "ref_high", "ref_range", "value_type", "value_text", "value_code", "value_code_system",
    ]  # fmt: skip


def reference_may_differ(line: bytes) -> bool:
    """The check as it was: a mantissa searched before every ``e-<digit>``."""
    if b"null" in line or b"0.0000" in line:
        return True
    if b"e-" not in line:
        return False
    return any(
        ndjson._MANTISSA.search(line, max(0, m.start() - 64), m.start()) is not None
        for m in ndjson._EXPONENT.finditer(line)
    )


@pytest.mark.parametrize(
    "line",
    [
        b'{"id":"3e-5a","v":1}', b'{"v":1e-7}', b'{"v":[2.5e-8]}', b'{"v":-1.5e-9,"x":"a"}',
        b'{"s":"service-sections"}', b'{"s":"x9e-1"}', b'{"v":12e-3}', b'e-1', b'{"a":"e-9"}',
        b'{"v":1e-10}', b'{"v":null}', b'{"v":0.00001}',
        b'{"id":"83937204-3b59-5d12-9361-ce68e-5"}',
    ],
)  # fmt: skip
def test_may_differ_answers_as_the_full_search(line):
    assert ndjson._may_differ(line) == reference_may_differ(line)


def test_may_differ_answers_as_the_full_search_on_random_lines():
    rng = random.Random(9)
    alphabet = b'0123456789e-.,:[]"abc'
    for _ in range(3000):
        line = bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 40)))
        assert ndjson._may_differ(line) == reference_may_differ(line), line


def test_unique_reference_ids_are_hex_uuids():
    ids = resource_ids(pd.Series(["urn:s"] * 3, dtype=object), pd.Series(["a", "b", "c"]))
    pattern = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\Z")
    assert all(pattern.match(i) for i in ids) and len(set(ids)) == 3
    assert np.array_equal(ids.index.to_numpy(), np.arange(3))


@pytest.mark.parametrize(
    "values",
    [
        ["a", None, float("nan"), pd.NA, "b c", "中文"],  # clean: kept, missing as None
        ["a", None, " b"],  # one to trim
        ["a", "", None],  # one blank
        [None, float("nan")],
        ["x"] * 3,
    ],
)
def test_text_of_clean_object_columns_matches_the_pandas_way(values):
    column = pd.Series(values, dtype=object, index=range(4, 4 + len(values)))
    found = text(column)
    assert found.tolist() == plain_text(column).tolist()
    assert all(v is None or type(v) is str for v in found)
    assert found.index.equals(column.index) and found.dtype == object
    assert column.equals(pd.Series(values, dtype=object, index=column.index))  # left as it was


def test_date_times_of_aware_moments_are_spelled_in_china_time():
    moments = pd.Series(
        pd.to_datetime(["2025-03-01T00:30:00Z", None] * 50, utc=True), index=range(100)
    )
    found = date_times(moments)
    assert found.tolist()[:2] == ["2025-03-01T08:30:00+08:00", None]
    assert found.tolist() == _date_times(moments).tolist()
