"""The 100-point score: items deducted once per case, groups capped, weights from score.toml."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from hutong.quality import check
from hutong.quality.score import (
    deductions,
    load_score_table,
    parse_score_table,
    score_cases,
    write_scores,
)
from qc_cases import MAIN_DX, OTHER_DX, case, combine, facesheet

TABLE = load_score_table()


def points(item_id: str) -> float:
    return next(i.points for i in TABLE.items if i.id == item_id)


def group_points(group_id: str) -> float:
    return TABLE.group(group_id).points


def test_the_table_follows_the_2016_shape() -> None:
    assert sum(g.points for g in TABLE.groups) == 100
    assert [g.name_zh for g in TABLE.groups] == [
        "患者基本信息",
        "住院过程信息",
        "诊疗信息",
        "费用信息",
    ]
    # the items the 24号文 附件2 is reported to weigh: 主要诊断 4, 主要诊断编码 4, 入/出院时间 2
    assert points("main_dx") == 4 and points("main_dx_code") == 4
    assert points("adm_time") == 2 and points("dscg_time") == 2
    assert "24号" in TABLE.source and "configurable" in TABLE.source


def test_a_clean_case_scores_100() -> None:
    sheet = facesheet()
    scores = score_cases(sheet, check(sheet))
    assert list(scores.columns) == ["mdtrt_id", "score", "patient", "stay", "clinical", "fees"]
    assert scores.loc[0, "score"] == 100
    assert scores.loc[0, "clinical"] == group_points("clinical")


def test_deductions_by_hand() -> None:
    sheet = combine(
        case("A"),
        # admission after discharge (adm_time item) + invalid sex code (gend item)
        case("B", setlinfo={"adm_time": "2025-03-08 11:00:00", "gend": "3"}),
        # main diagnosis absent on admission: a main-diagnosis selection finding (main_dx)
        case("C", diseinfo=[{**MAIN_DX, "adm_cond_type": "4"}, OTHER_DX]),
        # main diagnosis code missing: on the main row, so main_dx_code, not other_dx_code
        case("D", diseinfo=[{**MAIN_DX, "diag_code": None}, OTHER_DX]),
        # other diagnosis name missing: other_dx; its code missing: other_dx_code
        case("E", diseinfo=[MAIN_DX, {**OTHER_DX, "diag_name": None}]),
        case("F", diseinfo=[MAIN_DX, {**OTHER_DX, "diag_code": None}]),
    )
    findings = check(sheet)
    hits = deductions(sheet, findings)
    assert set(hits.loc[hits["mdtrt_id"] == "B", "item"]) >= {"adm_time", "gend"}
    assert set(hits.loc[hits["mdtrt_id"] == "D", "item"]) == {"main_dx_code"}
    assert set(hits.loc[hits["mdtrt_id"] == "E", "item"]) == {"other_dx"}
    assert set(hits.loc[hits["mdtrt_id"] == "F", "item"]) == {"other_dx_code"}
    scores = score_cases(sheet, findings).set_index("mdtrt_id")["score"]
    lost_b = hits.loc[hits["mdtrt_id"] == "B", "points"].sum()
    assert lost_b >= points("adm_time") + points("gend")
    assert scores["A"] == 100
    assert scores["B"] == 100 - lost_b
    assert scores["C"] == 100 - points("main_dx")
    assert scores["D"] == 100 - points("main_dx_code")
    assert scores["E"] == 100 - points("other_dx")
    assert scores["F"] == 100 - points("other_dx_code")


def test_an_item_is_deducted_once_and_a_group_never_goes_below_zero() -> None:
    sheet = combine(case("A"), case("B"))
    many = pd.DataFrame(
        {
            "mdtrt_id": ["A", "A"] + ["B"] * 40,
            "rule_id": ["SL-TIME-02", "SL-TIME-02"] + [f"X-{i}" for i in range(40)],
            "severity": "error",
            "field": ["adm_time,dscg_time", "adm_time,dscg_time"] + ["amt"] * 20 + ["gend"] * 20,
            "message_zh": "x",
            "message_en": "x",
        }
    )
    # X-* rules are unknown: "amt" maps by field to fee_items, "gend" to the gend item
    scores = score_cases(sheet, many).set_index("mdtrt_id")
    assert scores.loc["A", "score"] == 100 - points("adm_time")  # two findings, one item
    assert scores.loc["B", "fees"] == group_points("fees") - points("fee_items")
    assert scores.loc["B", "patient"] == group_points("patient") - points("gend")


def test_group_cap() -> None:
    text = """
[nodes]
setlinfo = "a"
[[group]]
id = "a"
name_zh = "甲"
name_en = "a"
points = 10
default_points = 4
[[group]]
id = "b"
name_zh = "乙"
name_en = "b"
points = 90
default_points = 1
"""
    table = parse_score_table(text)
    sheet = facesheet()
    three = pd.DataFrame(
        {
            "mdtrt_id": [sheet.setlinfo.loc[0, "mdtrt_id"]] * 3,
            "rule_id": ["R1", "R2", "R3"],
            "severity": "error",
            "field": ["gend", "brdy", "adm_way"],  # three default items of 4 points in group a
            "message_zh": "x",
            "message_en": "x",
        }
    )
    scores = score_cases(sheet, three, table)
    assert scores.loc[0, "a"] == 0  # 12 points lost, capped at the group's 10
    assert scores.loc[0, "b"] == 90
    assert scores.loc[0, "score"] == 90


def test_a_table_not_summing_to_100_is_refused() -> None:
    bad = '[[group]]\nid = "a"\nname_zh = "甲"\nname_en = "a"\npoints = 60\ndefault_points = 1\n'
    with pytest.raises(ValueError, match="sum to 60"):
        parse_score_table(bad)


def test_scores_csv(tmp_path: Path) -> None:
    sheet = combine(case("B2"), case("A1", setlinfo={"gend": "3"}))
    path = write_scores(score_cases(sheet, check(sheet)), tmp_path / "scores.csv")
    text = path.read_bytes().decode("utf-8-sig")
    lines = text.splitlines()
    assert lines[0] == "mdtrt_id,score,patient,stay,clinical,fees"
    assert lines[1].startswith("A1,") and lines[2].startswith("B2,100.0")
    assert "\r\n" not in text


def test_the_code_a_finding_shows() -> None:
    from hutong.quality import load_pack
    from hutong.quality.score import finding_code

    own = load_pack("nhsa-settlement").rule("SL-AGE-03").message_zh  # has brackets of its own
    frame = pd.DataFrame(
        {
            "rule_id": ["CV-DX-02", "SL-AGE-03", "SL-DX-05", "X-1"],
            "message_zh": [
                "诊断名称与医保版编码的标准名称不一致（I10.x00：高血压（原发性））",
                own + "（12）",
                "诊断、手术操作须同时填写名称及代码",
                "别的规则（K35.800†）",
            ],
        }
    )
    codes = finding_code(frame)
    assert codes[0] == "I10.x00" and codes[1] == "12" and pd.isna(codes[2])
    assert codes[3] == "K35.800+"


def test_every_rule_and_field_of_the_table_exists() -> None:
    from fnmatch import fnmatchcase

    from hutong.mapping.facesheet import layout
    from hutong.quality import builtin_packs, load_pack

    ids = {r.id for name in builtin_packs() for r in load_pack(name).rules}
    fields = {f for node in layout().values() for f in node}
    for item in TABLE.items:
        for pattern in item.rules:
            assert any(fnmatchcase(i, pattern) for i in ids), (item.id, pattern)
        for name in item.fields:
            assert name.removeprefix("main.") in fields, (item.id, name)
