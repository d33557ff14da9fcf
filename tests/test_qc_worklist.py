"""worklist.xlsx read back with openpyxl: one row per finding, money first, coder columns."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from openpyxl import load_workbook

from hutong.quality import check, load_pack
from hutong.quality.worklist import SHEET_COLUMNS, write_worklist
from qc_cases import case, three_cases

PACK = load_pack("nhsa-settlement")


batch = three_cases


def impact_for(findings: pd.DataFrame) -> pd.DataFrame:
    """Money only on ZY3's main-diagnosis finding (a fix would regroup it)."""
    row = findings[findings["mdtrt_id"] == "ZY3"].iloc[0]
    return pd.DataFrame(
        {
            "mdtrt_id": [row["mdtrt_id"]],
            "rule_id": [row["rule_id"]],
            "field": [row["field"]],
            "fix_zh": ["改以入院原因为主要诊断"],
            "fix_en": ["make the reason for admission the main diagnosis"],
            "drg_before": ["FM19"],
            "drg_after": ["FM15"],
            "weight_before": [1.2],
            "weight_after": [1.5],
            "weight_diff": [0.3],
            "amount": [4321.5],
        }
    )


def read(path: Path) -> tuple[list[str], list[dict]]:
    ws = load_workbook(path).active
    rows = list(ws.iter_rows(values_only=True))
    header = list(rows[0])
    return header, [dict(zip(header, r, strict=True)) for r in rows[1:]]


def test_one_row_per_finding_with_coder_columns(tmp_path: Path) -> None:
    sheet = batch()
    findings = check(sheet)
    path = write_worklist(sheet, findings, tmp_path / "worklist.xlsx", PACK)
    ws = load_workbook(path).active
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == f"A1:P{len(findings) + 1}"
    assert ws.max_row == len(findings) + 1
    assert ws.column_dimensions["H"].width == 40
    header, rows = read(path)
    assert header == [h for _, h, _ in SHEET_COLUMNS]
    assert "状态 / status" in header and "备注 / comment" in header
    # no money: errors first
    assert [r["级别 / severity"] for r in rows] == sorted(
        (r["级别 / severity"] for r in rows), key=["error", "warning", "info"].index
    )
    gend = next(r for r in rows if r["规则 / rule"] == "SL-DOM-01")
    assert gend["就诊ID / case"] == "ZY2" and gend["病案号 / record no."] == "BA0088123"
    assert gend["出院日期 / discharge"] == "2025-03-08"
    assert gend["问题 / finding (zh)"].endswith("（3）")
    assert gend["修改建议 / fix (zh)"] == (getattr(PACK.rule("SL-DOM-01"), "fix_zh", "") or None)
    assert gend["状态 / status"] is None and gend["涉及金额(元) / at stake"] is None


def test_money_at_stake_comes_first(tmp_path: Path) -> None:
    sheet = batch()
    findings = check(sheet)
    impact = impact_for(findings)
    path = write_worklist(sheet, findings, tmp_path / "w.xlsx", PACK, impact=impact)
    _, rows = read(path)
    assert len(rows) == len(findings)
    first = rows[0]
    assert first["就诊ID / case"] == "ZY3" and first["级别 / severity"] == "warning"
    assert first["涉及金额(元) / at stake"] == 4321.5
    assert (first["原DRG / DRG before"], first["修改后DRG / DRG after"]) == ("FM19", "FM15")
    assert first["修改建议 / fix (zh)"] == "改以入院原因为主要诊断"
    assert all(r["涉及金额(元) / at stake"] is None for r in rows[1:])


def test_severity_is_coloured(tmp_path: Path) -> None:
    sheet = batch()
    path = write_worklist(sheet, check(sheet), tmp_path / "w.xlsx", PACK)
    ws = load_workbook(path).active
    colours = {
        ws.cell(r, 6).value: ws.cell(r, 6).fill.start_color.rgb for r in range(2, ws.max_row + 1)
    }
    assert colours["error"].endswith("FFC7CE") and colours["warning"].endswith("FFEB9C")


def test_no_findings_gives_a_header_only_sheet(tmp_path: Path) -> None:
    sheet = case("ZY1")
    path = write_worklist(sheet, check(sheet), tmp_path / "w.xlsx")
    ws = load_workbook(path).active
    assert ws.max_row == 1 and ws.freeze_panes == "A2"


def test_same_findings_give_the_same_bytes(tmp_path: Path) -> None:
    sheet = batch()
    findings = check(sheet)
    first = write_worklist(sheet, findings, tmp_path / "a.xlsx", PACK).read_bytes()
    second = write_worklist(sheet, findings, tmp_path / "b.xlsx", PACK).read_bytes()
    assert first == second


def test_a_limit_lists_the_first_rows_and_says_how_many_more(tmp_path: Path) -> None:
    sheet = batch()
    findings = check(sheet)
    path = write_worklist(sheet, findings, tmp_path / "w.xlsx", PACK, limit=2)
    ws = load_workbook(path).active
    assert ws.max_row == 1 + 2 + 1
    assert f"{len(findings) - 2} more findings" in ws.cell(4, 1).value
