"""The fast paths of FHIR output write exactly what the plain ones did: orjson lines, uuid5 ids
without UUID objects, dateTimes formatted by numpy."""

from __future__ import annotations

import json
import random
import uuid
from decimal import Decimal
from hashlib import sha1

import numpy as np
import pandas as pd
import pytest

from hutong.mapping.fhir.datatypes import TZ, _stamp, date_times
from hutong.mapping.fhir.ids import _uuid5s, resource_id, resource_ids
from hutong.mapping.fhir.ndjson import _json_line, ndjson_bytes, ndjson_line
from hutong.mapping.fhir.systems import namespace


def reference_line(resource: object) -> str:
    """What ``json`` writes (Decimals aside): the spelling the NDJSON files always had."""
    return json.dumps(resource, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


@pytest.mark.parametrize(
    "value",
    [
        1e-05, 1e-7, -3e-9, 2.5e-10, 0.5, 1e16, 1.2345678e-08, -0.0, 7.0,
        float("nan"), float("inf"), 2**70, "x1e-5", "a\x00\x1f\x7f\u2028 \"\\ 中文", None, True,
    ],
)  # fmt: skip
def test_ndjson_line_spells_values_as_json_does(value):
    resource = {"z": value, "a": [value, {"k": value}], "id": "83937204-3b59-5d12-9361-ce68e-5"}
    assert ndjson_line(resource) == reference_line(resource)
    assert ndjson_bytes(resource) == reference_line(resource).encode("utf-8")
    assert ndjson_bytes(resource, newline=True) == ndjson_bytes(resource) + b"\n"


def test_ndjson_line_spells_random_floats_as_json_does():
    rng = random.Random(7)
    values = [rng.random() * 10 ** rng.randint(-30, 30) * rng.choice([1, -1]) for _ in range(3000)]
    resource = {"values": values, "nested": [{"v": v} for v in values[:50]]}
    assert ndjson_line(resource) == reference_line(resource)


def test_ndjson_line_keeps_decimals_and_sorts_keys_like_the_json_writer():
    resource = {"b": Decimal("7.10"), "a": [Decimal("-0.0100"), Decimal("1E-7"), 3], "c": "值"}
    assert ndjson_bytes(resource) == _json_line(resource).encode("utf-8")
    assert ndjson_bytes(resource, newline=True) == _json_line(resource).encode("utf-8") + b"\n"
    assert ndjson_line(resource) == '{"a":[-0.0100,1E-7,3],"b":7.10,"c":"值"}'


def test_ndjson_line_refuses_what_json_refuses():
    with pytest.raises(ValueError):
        ndjson_line({"value": Decimal("NaN")})
    with pytest.raises(TypeError):
        ndjson_line({"value": object()})
    assert ndjson_line({1: "x"}) == reference_line({1: "x"})  # json writes int keys as text


def test_resource_ids_are_uuid5_of_system_and_value():
    rng = random.Random(3)
    ns = namespace()
    start = sha1(ns.bytes, usedforsecurity=False)
    for _ in range(2000):
        name = "".join(chr(rng.randint(32, 0x9FFF)) for _ in range(rng.randint(0, 30)))
        assert _uuid5s(start, [name]) == [str(uuid.uuid5(ns, name))]
    assert resource_id("urn:hutong:sid:vendor-a:medcasno", "B0001") == (
        "83937204-3b59-5d12-9361-ce689cafa32b"
    )


def test_column_ids_are_uuid5_of_each_name():
    rng = random.Random(5)
    ns = namespace()
    names = ["".join(chr(rng.randint(32, 0x9FFF)) for _ in range(rng.randint(0, 40)))
             for _ in range(3000)]  # fmt: skip
    start = sha1(ns.bytes, usedforsecurity=False)
    assert _uuid5s(start, names) == [str(uuid.uuid5(ns, name)) for name in names]
    assert _uuid5s(start, []) == []
    systems = pd.Series(["urn:x", "urn:y"], dtype="str")
    got = resource_ids(systems, pd.Series(["B0001", "值"], dtype="str")).tolist()
    assert got == [resource_id("urn:x", "B0001"), resource_id("urn:y", "值")]


def strftime_date_times(column: pd.Series) -> pd.Series:
    """The element-by-element formatting :func:`date_times` replaced."""
    moments = pd.to_datetime(column, errors="coerce")
    if moments.dt.tz is None:
        standard_time = np.zeros(len(moments), dtype=bool)
        moments = moments.dt.tz_localize(TZ, ambiguous=standard_time, nonexistent="shift_forward")
    else:
        moments = moments.dt.tz_convert(TZ)
    return _stamp(moments).astype(object).where(moments.notna(), None)


def test_date_times_match_strftime_across_offsets_and_missing_values():
    rng = np.random.default_rng(11)
    # 1700s (local mean time +08:05:43), China's summer time years 1986-1991, and today
    seconds = rng.integers(-8_000_000_000, 2_000_000_000, 5000)
    fractions = rng.integers(0, 10**9, 5000)
    moments = pd.Series(pd.to_datetime(seconds * 10**9 + fractions), index=np.arange(5000) + 3)
    moments[moments.index[::9]] = pd.NaT
    for column in (
        moments,
        moments.astype("datetime64[s]"),
        moments.dt.tz_localize("UTC"),
        pd.Series(["2025-03-01 08:30", None, "not a time", "1988-04-17 02:30:00"]),
        pd.Series([None, None], dtype=object),
        pd.Series([], dtype=object),
    ):
        got, expected = date_times(column), strftime_date_times(column)
        assert got.tolist() == expected.tolist()
        assert got.index.equals(expected.index)
    summer = date_times(pd.Series(["1988-07-01 12:00"])).iloc[0]
    assert summer == "1988-07-01T12:00:00+09:00"
