"""The column fast paths of the hub give what the general pandas paths give: membership tests
on Arrow-backed text, text columns cast to Arrow, and the face sheet's 4101 NDJSON bytes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from hutong.mapping.facesheet import NODES, _text, write_facesheet
from hutong.model import conform, is_in
from qc_cases import case, combine, dx, fee

TRICKY = 'a"b\\c\nd\te\x01f\u2028中文\U0001f600/'


@pytest.mark.parametrize(
    "members",
    [
        {"a", "b"},
        {"a", np.nan},
        set(),
        ["c", None],
        pd.Series(["a", None], dtype="str"),
        pd.Series(["b"], dtype=object),
        {1, "a"},  # not all text: pandas' own rules
    ],
)
def test_is_in_matches_pandas_isin(members) -> None:
    values = pd.Series(["a", None, "b", "c", np.nan], dtype="str", index=[5, 4, 3, 2, 1])
    pd.testing.assert_series_equal(is_in(values, members), values.isin(members))


def _general(table: str, frame: pd.DataFrame) -> pa.Table:
    """conform as it was: every text cell through a Python object."""
    from hutong.model import SCHEMAS

    columns = {}
    for field in SCHEMAS[table]:
        if field.name not in frame.columns:
            columns[field.name] = pa.nulls(len(frame), type=field.type)
            continue
        values = frame[field.name]
        if pa.types.is_string(field.type):
            values = values.astype("object").where(values.notna(), None)
        columns[field.name] = pa.array(values, type=field.type, from_pandas=True)
    return pa.table(columns, schema=SCHEMAS[table])


def test_conform_text_fast_paths_match_the_general_path() -> None:
    arrow = pa.concat_tables(
        [conform("patient_link", _links(0)), conform("patient_link", _links(1))]
    )
    frames = [
        arrow.to_pandas(),  # Arrow-backed text in two chunks
        _links(2).astype(object),  # object cells with None, NaN and NA
    ]
    frames[1].loc[1, "vendor"] = pd.NA
    for frame in frames:
        got = conform("patient_link", frame)
        assert got.equals(_general("patient_link", frame))
        assert all(column.num_chunks == 1 for column in got.columns)


def test_conform_refuses_what_pyarrow_refuses() -> None:
    frame = _links(0).astype(object)
    frame.loc[0, "source"] = 7
    with pytest.raises((pa.ArrowInvalid, pa.ArrowTypeError)):
        conform("patient_link", frame)


def _links(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "patient_id": [f"P{n}", "P9", TRICKY],
            "merged_id": [f"M{n}", None, np.nan],
            "source": ["a.hl7"] * 3,
            "locator": ["a.hl7:1", "a.hl7:2", "a.hl7:3"],
            "vendor": ["v", "v", "v"],
        }
    )


def test_4101_ndjson_is_what_json_dumps_writes(tmp_path: Path) -> None:
    sheet = combine(
        case("ZY1", setlinfo={"psn_name": TRICKY, "age": 45.5, "psn_selfpay": 0.125}),
        case("ZY2", diseinfo=[dx("S72.000", TRICKY, main=True)]),
        case("ZY3", iteminfo=[{**fee("09", claa=10.005), "amt": 2.675}, fee("01")]),
    )
    write_facesheet(sheet, tmp_path)
    texts = {node: _text(sheet.node(node)) for node in NODES}
    children: dict[str, dict[str, list]] = {"diseinfo": {}, "oprninfo": {}, "iteminfo": {}}
    for node, grouped in children.items():  # the records as pandas gives them
        frame = texts[node]
        records = frame.drop(columns="mdtrt_id").to_dict("records")
        for key, rec in zip(frame["mdtrt_id"], records, strict=True):
            grouped.setdefault(key, []).append(rec)
    expected = ""
    for rec in texts["setlinfo"].to_dict("records"):
        key = rec["mdtrt_id"]
        doc = {
            "setlinfo": rec, "payinfo": [], "opspdiseinfo": [],
            "diseinfo": children["diseinfo"].get(key, []),
            "iteminfo": children["iteminfo"].get(key, []),
            "oprninfo": children["oprninfo"].get(key, []), "icuinfo": [],
        }  # fmt: skip
        expected += json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n"
    assert (tmp_path / "4101.ndjson").read_bytes() == expected.encode("utf-8")
    assert '"psn_selfpay":"0.12"' in expected and '"age":"45.5"' in expected


def test_text_formats_money_numbers_and_missing_cells() -> None:
    frame = pd.DataFrame(
        {
            "amt": pd.array([2.675, None, 3.0], dtype="Float64"),
            "age": pd.array([45.0, 0.5, None], dtype="Float64"),
            "psn_name": pd.array(["张三", None, TRICKY], dtype="string"),
        }
    )
    text = _text(frame)
    assert text.to_dict("list") == {
        "amt": [f"{2.675:.2f}", None, "3.00"],
        "age": ["45", "0.5", None],
        "psn_name": ["张三", None, TRICKY],
    }
    assert all(text[c].dtype == object for c in text.columns)


def sort_rows(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """The order as pandas gave it before ``canonical``: a stable sort by the key columns."""
    from hutong.model import KEYS

    keys = [k for k in KEYS[table] if k in frame.columns]
    return frame.sort_values(keys, kind="mergesort").reset_index(drop=True)


def _messy(table: str, n: int, seed: int) -> pd.DataFrame:
    """Rows of ``table`` whose key columns repeat, miss values and mix scripts, so the order
    rests on ties (stability), nulls (last) and byte order of UTF-8 text."""
    from hutong.model import KEYS, SCHEMAS

    rng = np.random.default_rng(seed)
    texts = np.array(["b", "a", "B", "中", "一", "é", "", "a "], dtype=object)
    columns = {}
    for field in SCHEMAS[table]:
        if pa.types.is_string(field.type):
            values = texts[rng.integers(0, len(texts), n)].astype(object)
        elif pa.types.is_integer(field.type):
            values = pd.array(rng.integers(-2, 3, n), dtype="Int32")
        elif pa.types.is_floating(field.type):
            values = rng.choice([0.0, -0.0, 1.5, -2.0], n)
        elif pa.types.is_timestamp(field.type):
            values = pd.to_datetime(rng.integers(0, 3, n), unit="D")
        else:
            continue
        column = pd.Series(values)
        if field.name in KEYS[table] or rng.random() < 0.5:
            column[rng.random(n) < 0.2] = None
        columns[field.name] = column
    frame = pd.DataFrame(columns)
    frame["row"] = range(n)  # not a schema column: conform drops it
    return frame


@pytest.mark.parametrize("table", ["encounter", "diagnosis", "charge", "patient_link", "order"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_canonical_matches_sort_rows_of_conform(table: str, seed: int) -> None:
    from hutong.model import canonical

    frame = _messy(table, 400, seed)
    expected = sort_rows(table, conform(table, frame).to_pandas())
    pd.testing.assert_frame_equal(canonical(table, frame), expected)
    empty = frame.iloc[:0]
    expected_empty = sort_rows(table, conform(table, empty).to_pandas())
    made = canonical(table, empty)  # one made once for the table: a caller changes its copy
    pd.testing.assert_frame_equal(made, expected_empty)
    made["added"] = pd.Series(dtype="string")
    del made[made.columns[0]]
    pd.testing.assert_frame_equal(canonical(table, empty), expected_empty)
