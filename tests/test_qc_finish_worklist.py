"""worklist.xlsx cell by cell: every finding row as finding_rows orders it, with the types,
styles and sheet settings a coder's Excel or WPS shows (read back with openpyxl)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
from openpyxl import load_workbook

from hutong.quality import check, load_pack
from hutong.quality.worklist import FILLS, SHEET_COLUMNS, finding_rows, write_worklist
from qc_cases import case, combine, three_cases

PACK = load_pack("nhsa-settlement")
NAMES = [name for name, _, _ in SHEET_COLUMNS]


def priced(findings: pd.DataFrame) -> pd.DataFrame:
    """Money on two findings (one a loss), so rows of every kind are in the sheet."""
    picked = findings.drop_duplicates("mdtrt_id").head(2)
    return pd.DataFrame(
        {
            "mdtrt_id": picked["mdtrt_id"].tolist(),
            "rule_id": picked["rule_id"].tolist(),
            "field": picked["field"].tolist(),
            "fix_zh": ["改为 <主要诊断> & 复核", ""],
            "fix_en": ["", "re-check"],
            "drg_before": ["FM19", "FR15"],
            "drg_after": ["FM15", ""],
            "weight_before": [1.2, 1.0],
            "weight_after": [1.5, 0.9],
            "weight_diff": [0.3, -0.1],
            "amount": [4321.5, -1234.25],
        }
    )


def expected(value: object) -> object:
    """A frame value as the sheet holds it: nothing for missing or empty text."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float):
        return value
    return str(value) or None


def batch():
    return combine(three_cases(), case("ZY4", setlinfo={"gend": "9", "medcasno": ""}))


def test_every_cell_is_the_finding_row_value(tmp_path: Path) -> None:
    sheet = batch()
    findings = check(sheet)
    impact = priced(findings)
    path = write_worklist(sheet, findings, tmp_path / "w.xlsx", PACK, impact=impact)
    rows = finding_rows(sheet, findings, PACK, impact)
    ws = load_workbook(path).active
    cells = list(ws.iter_rows(min_row=2))
    assert len(cells) == len(rows) == len(findings) > 3
    for line, want in zip(cells, rows[NAMES].itertuples(index=False), strict=True):
        assert [c.value for c in line] == [expected(v) for v in want]
        for cell, name in zip(line, NAMES, strict=True):
            if cell.value is None:
                continue
            kind = "n" if name == "amount" else ("s", "inlineStr")
            assert cell.data_type in kind, (cell.coordinate, cell.data_type)
    amounts = [line[NAMES.index("amount")] for line in cells]
    assert [a.value for a in amounts[:2]] == [4321.5, -1234.25]  # money first, by |amount|
    assert all(a.number_format == "#,##0.00" for a in amounts)  # unpriced ones too
    severity = NAMES.index("severity")
    for line in cells:
        colour = line[severity].fill.start_color.rgb if line[severity].fill.fill_type else None
        assert colour is not None and colour[-6:] == FILLS[line[severity].value]


def test_the_sheet_settings_are_those_of_the_worklist(tmp_path: Path) -> None:
    sheet = batch()
    findings = check(sheet)
    ws = load_workbook(write_worklist(sheet, findings, tmp_path / "w.xlsx", PACK)).active
    assert ws.title == "工作清单" and ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == f"A1:P{len(findings) + 1}"
    widths = {}
    for dim in ws.column_dimensions.values():  # a range of columns of one width is one entry
        widths.update({column: dim.width for column in range(dim.min, dim.max + 1)})
    assert widths == {i: float(w) for i, (_, _, w) in enumerate(SHEET_COLUMNS, start=1)}
    header = next(ws.iter_rows(max_row=1))
    assert [c.value for c in header] == [text for _, text, _ in SHEET_COLUMNS]
    assert all(c.font.b and c.alignment.wrap_text and c.alignment.vertical == "top" for c in header)


def test_text_is_never_a_formula_and_long_text_is_cut(tmp_path: Path) -> None:
    sheet = batch()
    findings = check(sheet).head(2).copy()
    findings["message_en"] = ["=1+1", "x" * 40_000]
    ws = load_workbook(write_worklist(sheet, findings, tmp_path / "w.xlsx", PACK)).active
    column = NAMES.index("message_en") + 1
    values = {ws.cell(r, column).value for r in (2, 3)}
    assert values == {"=1+1", "x" * 32_767}
    assert {ws.cell(r, column).data_type for r in (2, 3)} <= {"s", "inlineStr"}
