"""``write_facesheet`` writes the bytes the plain routes give: pandas ``to_csv`` of the cells as
Python formats them (``f"{x:.2f}"``, ``strftime``) and ``json.dumps`` of one dict per case, on
the cases its array and slicing shortcuts could get wrong."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hutong.mapping import facesheet_text
from hutong.mapping.facesheet import (
    DATE_FIELDS,
    DATETIME_FIELDS,
    MONEY_FIELDS,
    NODES,
    NUMBER_FIELDS,
    FaceSheet,
    typed,
    write_facesheet,
)
from qc_cases import case, combine, dx, fee

# amounts around half a cent (exact binary ties and near misses), signs, zeros, huge values
AMOUNTS = [0.005, 0.015, 0.125, 0.375, 2.675, 1.005, -0.005, -0.001, -0.0, 0.0, 1e-9, 99.995]
AMOUNTS += [12345678.905, 1e7 + 0.005, 2.5e9, 1e15 + 0.125, -1234.5, 3, 1e300, np.inf, -np.inf]
NUMBERS = [0.0, -0.0, 3.0, 45.5, 1e-5, 1e16, 2.0**53, 2.0**53 + 2, 1e22, -7.0, 123456.0, np.inf]
TEXT = ["a,b", 'say "hi"', "two\nlines", "cr\rhere", " lead", "", '中文,"引号"', "\t", None]


def python_text(frame: pd.DataFrame) -> dict[str, list]:
    """The cells as the original per-cell route formatted them."""

    def number(x: float) -> str:
        return f"{x:.0f}" if float(x).is_integer() else f"{x:g}"

    out = {}
    for col in frame.columns:
        v = frame[col]
        if col in DATETIME_FIELDS or col in DATE_FIELDS:
            pattern = "%Y-%m-%d" if col in DATE_FIELDS else "%Y-%m-%d %H:%M:%S"
            out[col] = [None if pd.isna(s) else s for s in v.dt.strftime(pattern)]
        elif col in MONEY_FIELDS or col in NUMBER_FIELDS:
            fmt = (lambda x: f"{x:.2f}") if col in MONEY_FIELDS else number
            out[col] = [None if pd.isna(x) else fmt(float(x)) for x in v]
        else:
            out[col] = [None if pd.isna(x) else x for x in v]
    return out


def expected_files(sheet: FaceSheet, folder: Path) -> dict[str, bytes]:
    """pandas ``to_csv`` per node and ``json.dumps`` per case, grouped with a dict."""
    texts = {node: python_text(sheet.node(node)) for node in NODES}
    out = {}
    for node, cells in texts.items():
        frame = pd.DataFrame(cells, columns=list(cells), dtype=object)
        frame.to_csv(folder / node, index=False, encoding="utf-8-sig", lineterminator="\n")
        out[f"{node}.csv"] = (folder / node).read_bytes()
    children: dict[str, dict] = {}
    for node in NODES[1:]:
        cells = dict(texts[node])
        keys = cells.pop("mdtrt_id")
        children[node] = {}
        for i, key in enumerate(keys):
            children[node].setdefault(key, []).append({c: v[i] for c, v in cells.items()})
    lines = []
    for i, key in enumerate(texts["setlinfo"]["mdtrt_id"]):
        doc = {
            "setlinfo": {c: v[i] for c, v in texts["setlinfo"].items()},
            "payinfo": [], "opspdiseinfo": [],
            "diseinfo": children["diseinfo"].get(key, []),
            "iteminfo": children["iteminfo"].get(key, []),
            "oprninfo": children["oprninfo"].get(key, []), "icuinfo": [],
        }  # fmt: skip
        lines.append(json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n")
    out["4101.ndjson"] = "".join(lines).encode("utf-8")
    return out


def tricky_sheet() -> FaceSheet:
    """Cases whose cells and child rows exercise every shortcut of the writer."""
    n = len(AMOUNTS)
    fees = [fee(f"{i % 14 + 1:02d}") for i in range(2 * n)]  # two per case
    for i, f in enumerate(fees):
        a, b = AMOUNTS[i % n], AMOUNTS[-(i % n) - 1]
        f.update(amt=a, claa_sumfee=b, clab_amt=None if i % 3 else a, oth_amt=-a)
    setl = [
        {"psn_name": TEXT[i % len(TEXT)], "age": NUMBERS[i % len(NUMBERS)], "nwb_age": None,
         "psn_selfpay": AMOUNTS[i], "psn_ownpay": AMOUNTS[-i - 1], "acct_pay": None,
         "adm_time": "1969-12-31 23:59:59" if i == 1 else "2025-03-03 09:30:00",
         "brdy": None if i == 2 else "1900-02-28", "emp_addr": TEXT[-i % len(TEXT)]}
        for i in range(n)
    ]  # fmt: skip
    sheet = combine(
        *(case(f"ZY{i:03d}", setlinfo=setl[i], iteminfo=fees[i::n]) for i in range(n)),
        case("ZY900", diseinfo=[dx("I10.x00", 'x,"y"\nz')], oprninfo=[], iteminfo=[]),
    )
    extra = sheet.iteminfo.iloc[[0, 5]].assign(mdtrt_id=["ZY003", "NOT-IN-SETL"])
    sheet.iteminfo = pd.concat([sheet.iteminfo, extra], ignore_index=True)  # ZY003 scattered
    return typed(sheet)


def test_written_bytes_match_pandas_and_json_dumps(tmp_path: Path) -> None:
    sheet = tricky_sheet()
    write_facesheet(sheet, tmp_path / "out")
    expected = expected_files(sheet, tmp_path)
    for name, data in expected.items():
        assert (tmp_path / "out" / name).read_bytes() == data, name
    text = expected["4101.ndjson"].decode()
    assert '"psn_selfpay":"0.12"' in text and '"psn_selfpay":"-0.00"' in text
    assert '"age":"45.5"' in text and '"age":"10000000000000000"' in text
    assert expected["iteminfo.csv"].splitlines()[-2].startswith(b"ZY003,")  # a scattered row
    assert "NOT-IN-SETL" not in text and '"psn_name":"say \\"hi\\""' in text


def test_sorted_children_written_like_scattered_ones(tmp_path: Path) -> None:
    sheet = tricky_sheet()
    sheet.iteminfo = sheet.iteminfo.iloc[:-2].reset_index(drop=True)  # one run per case
    write_facesheet(sheet, tmp_path / "out")
    expected = expected_files(sheet, tmp_path)
    assert (tmp_path / "out" / "4101.ndjson").read_bytes() == expected["4101.ndjson"]


# what JSON must escape (every control character, quote, backslash) and what it must not
ESCAPES = ["".join(map(chr, range(0x20))), 'q"b\\s', "\u2028\u2029\x7f", "😀𠀀é", "a\\"]


@pytest.mark.parametrize("text", ESCAPES)
def test_escapes_repeated_ids_and_empty_columns_match_the_plain_routes(
    tmp_path: Path, text: str
) -> None:
    """A cell JSON or CSV must escape, alone in its column, in the case node and a child node;
    ids repeated in setlinfo (the general path) and a child column missing everywhere."""
    sheet = combine(
        case("ZY0", setlinfo={"psn_name": text}, diseinfo=[dx("I10.x00", text)]),
        case("ZY1", setlinfo={"psn_name": None}, diseinfo=[dx("E11.900", "plain")]),
    )
    sheet.diseinfo["diag_type"] = None  # a child column missing in every row
    for label, shaped in [("unique", sheet), ("repeated", combine(sheet, case("ZY1")))]:
        shaped = typed(shaped)
        write_facesheet(shaped, tmp_path / label)
        for name, data in expected_files(shaped, tmp_path).items():
            assert (tmp_path / label / name).read_bytes() == data, (label, name)


def test_a_sheet_without_cases_writes_headers_only(tmp_path: Path) -> None:
    sheet = typed(FaceSheet(**{n: combine(case("ZY0")).node(n).iloc[:0] for n in NODES}))
    write_facesheet(sheet, tmp_path / "out")
    for name, data in expected_files(sheet, tmp_path).items():
        assert (tmp_path / "out" / name).read_bytes() == data, name
    assert (tmp_path / "out" / "4101.ndjson").read_bytes() == b""


@pytest.mark.parametrize("seed", [0, 1])
def test_money_and_numbers_match_python_formatting(seed: int) -> None:
    rng = np.random.default_rng(seed)
    cents = rng.integers(-(10**9), 10**9, 20_000)
    values = np.concatenate(
        [
            cents / 100,
            (cents + 0.5) / 100,  # near and exact half-cent ties
            rng.normal(0, 1e4, 20_000),
            rng.integers(-(2**60), 2**60, 2_000).astype(float),
            np.array(AMOUNTS + NUMBERS + [np.nan]),
        ]
    )
    v = pd.Series(values, dtype="Float64")
    missing = v.isna().tolist()
    floats = [float(x) for x in values]
    assert facesheet_text.money_text(v).to_pylist() == [
        None if m else f"{x:.2f}" for x, m in zip(floats, missing, strict=True)
    ]
    assert facesheet_text.numbers_text(v).to_pylist() == [
        None if m else facesheet_text.number(x) for x, m in zip(floats, missing, strict=True)
    ]
