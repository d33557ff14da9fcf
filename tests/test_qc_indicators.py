"""The 2016 indicators: numerators and denominators counted by hand on built cases."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hutong.quality import check, load_pack
from hutong.quality.indicators import COLUMNS, indicators, write_indicators
from qc_cases import ITEMINFO, MAIN_DX, OTHER_DX, STENT, case, combine, fee

REQUIRED = load_pack("nhsa-settlement").rule("SL-REQ-01").fields


def finding(mdtrt_id: str, rule_id: str, field: str, value: str) -> dict:
    return {
        "mdtrt_id": mdtrt_id,
        "rule_id": rule_id,
        "severity": "error",
        "field": field,
        "message_zh": f"编码不在编码库中（{value}）",
        "message_en": f"code not in the list ({value})",
    }


def batch():
    return combine(
        case("A"),
        case("B", setlinfo={"medcasno": None}),  # one required item empty
        case("C", diseinfo=[{**MAIN_DX, "adm_cond_type": "4"}, OTHER_DX]),  # SL-DX-01
        case("D", oprninfo=[STENT, STENT]),  # two principal procedures: SL-OP-01
        case("E", oprninfo=[], iteminfo=[*ITEMINFO[:-1], {**fee("09", claa=1), "amt": 5}]),
    )


def by_id(table: pd.DataFrame) -> pd.DataFrame:
    return table.set_index("indicator")


def test_ten_indicators_with_their_columns() -> None:
    sheet = batch()
    table = indicators(sheet, check(sheet))
    assert list(table.columns) == COLUMNS
    assert len(table) == 10
    assert table["name_zh"].iloc[0] == "首页填报完整率"
    assert set(table["name_zh"]) >= {
        "主要诊断编码正确率",
        "医疗费用信息准确率",
        "病案首页数据上传率",
    }
    proxies = table[table["note"].str.contains("替代指标")]
    assert set(proxies["indicator"]) == {
        "main_dx_selection",
        "main_op_selection",
        "other_dx_complete",
    }


def test_counts_by_hand() -> None:
    sheet = batch()
    findings = check(sheet)
    t = by_id(indicators(sheet, findings))
    # completeness: 5 cases × the SL-REQ-01 fields, + name and code of 10 dx rows and 5 op rows
    items = 5 * len(REQUIRED) + 10 * 2 + 5 * 2
    assert (t.loc["completeness", "numerator"], t.loc["completeness", "denominator"]) == (
        items - 1,
        items,
    )
    assert t.loc["main_dx_selection", "numerator"] == 4  # all but C (SL-DX-01)
    assert t.loc["main_dx_selection", "denominator"] == 5
    # E has no procedures, so it is outside the principal-procedure denominator
    assert (t.loc["main_op_selection", "numerator"], t.loc["main_op_selection", "denominator"]) == (
        3,
        4,
    )
    assert (t.loc["fee_accuracy", "numerator"], t.loc["fee_accuracy", "denominator"]) == (4, 5)
    assert pd.isna(t.loc["upload", "rate"]) and pd.isna(t.loc["upload", "denominator"])
    assert "无法" in t.loc["upload", "note"]


def test_coding_rates_use_the_code_shown_by_each_finding() -> None:
    sheet = combine(case("A"), case("B"), case("C"))
    findings = pd.DataFrame(
        [
            finding("A", "CV-DX-01", "diag_code", "I25.103"),  # A's main diagnosis
            finding("B", "CV-DX-02", "diag_name", "I10.x00x002：高血压"),  # B's other diagnosis
            finding("C", "CV-OP-01", "oprn_oprt_code", "36.0700"),  # C's procedure
            finding("C", "SL-DOM-01", "gend", "3"),  # not a coding rule: ignored
        ]
    )
    t = by_id(indicators(sheet, findings))
    assert (t.loc["main_dx_code", "numerator"], t.loc["main_dx_code", "denominator"]) == (2, 3)
    assert (t.loc["other_dx_code", "numerator"], t.loc["other_dx_code", "denominator"]) == (2, 3)
    assert (t.loc["op_code", "numerator"], t.loc["op_code", "denominator"]) == (2, 3)
    assert abs(t.loc["op_code", "rate"] - 2 / 3) < 1e-6


def test_excellent_rate_uses_the_given_scores_and_threshold() -> None:
    sheet = combine(case("A"), case("B"), case("C"), case("D"))
    scores = pd.DataFrame({"mdtrt_id": ["A", "B", "C", "D"], "score": [100, 90, 89.5, 60]})
    t = by_id(indicators(sheet, check(sheet), scores))
    assert (t.loc["excellent", "numerator"], t.loc["excellent", "denominator"]) == (2, 4)
    assert "90" in t.loc["excellent", "note"]
    # without scores they are computed: a clean batch is all excellent
    t = by_id(indicators(sheet, check(sheet)))
    assert t.loc["excellent", "rate"] == 1


def test_indicator_mapping_is_data(tmp_path: Path) -> None:
    spec = tmp_path / "ind.toml"
    spec.write_text(
        '[[indicator]]\nid = "dom"\nname_zh = "值域"\nname_en = "domains"\nmethod = "case"\n'
        'rules = ["SL-DOM-*"]\n',
        "utf-8",
    )
    sheet = combine(case("A"), case("B", setlinfo={"gend": "3"}))
    t = indicators(sheet, check(sheet), spec=spec)
    assert list(t["indicator"]) == ["dom"]
    assert (t.loc[0, "numerator"], t.loc[0, "denominator"]) == (1, 2)


def test_indicators_csv(tmp_path: Path) -> None:
    sheet = batch()
    path = write_indicators(indicators(sheet, check(sheet)), tmp_path / "indicators.csv")
    text = path.read_bytes().decode("utf-8-sig")
    assert text.splitlines()[0] == ",".join(COLUMNS)
    assert "\r\n" not in text
    upload = next(line for line in text.splitlines() if line.startswith("upload,"))
    assert ",,,," in upload  # numerator, denominator and rate left empty


def test_every_rule_named_by_an_indicator_exists() -> None:
    from fnmatch import fnmatchcase

    from hutong.quality import builtin_packs
    from hutong.quality.indicators import _builtin

    ids = {r.id for name in builtin_packs() for r in load_pack(name).rules}
    for entry in _builtin():
        for pattern in entry.get("rules", []):
            assert any(fnmatchcase(i, pattern) for i in ids), (entry["id"], pattern)
