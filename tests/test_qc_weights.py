"""DRG weights from a CSV, per-case weights, and the CMI per discharge department."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from hutong.quality.drg import group_facesheet
from hutong.quality.weights import (
    HOSPITAL,
    NO_DEPT,
    WeightsError,
    case_weights,
    cmi,
    load_weights,
    write_cmi,
)
from qc_cases import MAIN_DX, case, combine, dx

GOOD = """\ufeff# source: 示例市医保局 2025 年 DRG 相对权重（test data）
drg,weight,name
FM39,1.2500,经皮心血管操作
# a comment between rows
FR59,0.8,冠状动脉粥样硬化

ES15,0.61,其他感染
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "weights.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_file_reads_every_row_and_ignores_comments_and_extra_columns(tmp_path):
    weights = load_weights(write(tmp_path, GOOD))
    assert weights == {"FM39": 1.25, "FR59": 0.8, "ES15": 0.61}


@pytest.mark.parametrize(
    ("line", "field", "says"),
    [
        ("FM39,1.1", "drg", "FM39 listed again (first on line 3)"),
        ("FA19,heavy", "weight", "'heavy' is not a number"),
        ("FA19,-0.5", "weight", "negative"),
        ("FA19,", "weight", "'' is not a number"),
        ("FA19,inf", "weight", "not a finite number"),
        (",1.0", "drg", "empty"),
    ],
)
def test_each_bad_line_is_named_by_file_line_and_field(tmp_path, line, field, says):
    path = write(tmp_path, GOOD + line + "\n")
    bad_line = len(GOOD.splitlines()) + 1
    with pytest.raises(WeightsError) as err:
        load_weights(path)
    assert f"{path}:{bad_line}: field {field}: " in str(err.value)
    assert says in str(err.value)


def test_every_bad_line_is_reported_at_once(tmp_path):
    path = write(tmp_path, "drg,weight\nA,x\nB,-1\nC,1\n")
    with pytest.raises(WeightsError) as err:
        load_weights(path)
    assert f"{path}:2:" in str(err.value) and f"{path}:3:" in str(err.value)


def test_header_must_name_drg_and_weight(tmp_path):
    with pytest.raises(WeightsError, match=r"weights.csv:2: header must name"):
        load_weights(write(tmp_path, "# source: x\ncode,rw\nFM39,1\n"))


@pytest.fixture
def pack(drg_pack):
    return drg_pack


def sheet():
    """Cases in two departments, one without a department and one ungroupable case."""
    no_px: dict = {"oprninfo": []}
    return combine(
        case("C1"),  # stent: FM39
        case("C2", **no_px),  # medical: FR59
        case("C3", **no_px, setlinfo={"dscg_caty": "A04"}),
        case("C4", setlinfo={"dscg_caty": "A04"}, diseinfo=[dx("B37.100", "念珠菌病", main=True)]),
        case(
            "C5", **no_px, setlinfo={"dscg_caty": "A04"}, diseinfo=[{**MAIN_DX, "diag_code": "Q"}]
        ),
        case("C6", setlinfo={"dscg_caty": None}),
    )


def test_case_weights_are_nan_for_ungroupable_and_unknown_drgs(pack):
    groups = group_facesheet(sheet(), pack)
    weighted, missing = case_weights(groups, {"FM39": 1.25, "FR59": 0.8})
    by_id = dict(zip(weighted["mdtrt_id"], weighted["weight"], strict=True))
    drg = dict(zip(groups["mdtrt_id"], groups["drg"], strict=True))
    assert drg["C5"] == "0000" and math.isnan(by_id["C5"])
    assert by_id["C1"] == 1.25 and by_id["C2"] == 0.8
    assert missing == sorted({d for d in drg.values() if d not in ("FM39", "FR59", "0000")})
    assert missing and all(math.isnan(by_id[k]) for k, d in drg.items() if d in missing)


def test_cmi_per_department_matches_a_hand_count(pack, tmp_path):
    s = sheet()
    groups = group_facesheet(s, pack)
    weights = {"FM39": 1.25, "FR59": 0.8}  # C4's DRG is left without a weight on purpose
    weighted, _ = case_weights(groups, weights)
    table = cmi(weighted, s, dept_names={"A03.04": "心血管内科专业"}).set_index("dept")

    drg = dict(zip(groups["mdtrt_id"], groups["drg"], strict=True))
    dept = {"C1": "A03.04", "C2": "A03.04", "C3": "A04", "C4": "A04", "C5": "A04", "C6": NO_DEPT}
    for name in [*sorted(set(dept.values())), HOSPITAL]:
        ids = [k for k, d in dept.items() if name in (d, HOSPITAL)]
        grouped = [k for k in ids if drg[k] != "0000"]
        known = [weights[drg[k]] for k in grouped if drg[k] in weights]
        row = table.loc[name]
        assert (row["cases"], row["grouped"], row["weighted_cases"]) == (
            len(ids),
            len(grouped),
            len(known),
        )
        assert row["total_weight"] == pytest.approx(sum(known))
        if known:
            assert row["cmi"] == pytest.approx(sum(known) / len(known))
        else:
            assert math.isnan(row["cmi"])
    assert list(table.index) == [*sorted(set(dept.values())), HOSPITAL]
    assert table.loc["A03.04", "dept_name"] == "心血管内科专业"
    assert pd.isna(table.loc["A04", "dept_name"])

    path = write_cmi(table.reset_index(), tmp_path / "out" / "cmi.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" not in raw
    back = pd.read_csv(path, encoding="utf-8-sig")
    assert list(back.columns) == ["dept", "dept_name", *table.columns[1:]]
