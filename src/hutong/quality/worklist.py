"""The coders' worklist: one spreadsheet row per finding, most money at stake first.

>>> write_worklist(sheet, findings, out / "worklist.xlsx", impact=impact)   # doctest: +SKIP

Each row names the case (no patient names or ID numbers), the rule, what is wrong and how to
fix it in Chinese and English, the DRG and money a fix would move when an impact table is given,
and two blank columns (状态 / 备注) for the coder. The header is frozen and filtered so a coder
can work the list in Excel or WPS.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from hutong.mapping.facesheet import FaceSheet
from hutong.quality.pack import Pack, Rule, builtin_packs, load_pack
from hutong.workbook import column_pixels, open_workbook

SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}
FILLS = {"error": "FFC7CE", "warning": "FFEB9C", "info": "DDEBF7"}

# (column, header zh / en, width)
SHEET_COLUMNS = [
    ("mdtrt_id", "就诊ID / case", 18),
    ("medcasno", "病案号 / record no.", 14),
    ("dept", "出院科别 / dept", 12),
    ("dscg_date", "出院日期 / discharge", 12),
    ("rule_id", "规则 / rule", 12),
    ("severity", "级别 / severity", 10),
    ("field", "字段 / field", 20),
    ("message_zh", "问题 / finding (zh)", 40),
    ("message_en", "finding (en)", 40),
    ("fix_zh", "修改建议 / fix (zh)", 36),
    ("fix_en", "fix (en)", 36),
    ("amount", "涉及金额(元) / at stake", 14),
    ("drg_before", "原DRG / DRG before", 12),
    ("drg_after", "修改后DRG / DRG after", 12),
    ("status", "状态 / status", 10),
    ("comment", "备注 / comment", 30),
]
IMPACT_KEY = ["mdtrt_id", "rule_id", "field"]
STRING_MAX = 32767  # characters in a cell (openpyxl cut longer text there too)


def known_rules(pack: Pack | str | Path | None = None) -> dict[str, Rule]:
    """Rules by id: every built-in pack's, with ``pack``'s (when given) winning."""
    rules: dict[str, Rule] = {}
    for name in builtin_packs():
        rules.update({r.id: r for r in load_pack(name).rules})
    if pack is not None:
        pack = pack if isinstance(pack, Pack) else load_pack(pack)
        rules.update({r.id: r for r in pack.rules})
    return rules


def _text(series: pd.Series) -> pd.Series:
    return series.astype("string").fillna("")


def finding_rows(
    sheet: FaceSheet,
    findings: pd.DataFrame,
    pack: Pack | str | Path | None = None,
    impact: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Findings with case details, the rule's fix and (with ``impact``) money and DRGs, sorted
    by money at stake (largest first, unknown last), then severity, case, rule and field."""
    rules = known_rules(pack)
    out = findings.reset_index(drop=True).copy()
    setl = sheet.setlinfo.drop_duplicates("mdtrt_id").set_index("mdtrt_id")
    ids = pd.Index(out["mdtrt_id"])

    def of_case(column: str) -> pd.Series:  # reindex, not map: safe on an empty sheet too
        return pd.Series(setl[column].reindex(ids).to_numpy(), index=out.index)

    out["medcasno"] = _text(of_case("medcasno"))
    out["dept"] = _text(of_case("dscg_caty"))
    dscg = pd.to_datetime(of_case("dscg_time"), errors="coerce")
    out["dscg_date"] = _text(dscg.dt.strftime("%Y-%m-%d"))
    out["fix_zh"] = [getattr(rules.get(r), "fix_zh", "") or "" for r in out["rule_id"]]
    out["fix_en"] = [getattr(rules.get(r), "fix_en", "") or "" for r in out["rule_id"]]
    out["amount"] = pd.Series(float("nan"), index=out.index)
    out["drg_before"] = ""
    out["drg_after"] = ""
    if impact is not None and len(impact):
        imp = impact.drop_duplicates(IMPACT_KEY).set_index(IMPACT_KEY)
        keys = pd.MultiIndex.from_frame(out[IMPACT_KEY].astype(object))
        got = imp.reindex(keys)
        for col in ("fix_zh", "fix_en"):
            given = _text(pd.Series(got[col].to_numpy(), index=out.index))
            out[col] = given.where(given != "", out[col])
        out["amount"] = pd.to_numeric(pd.Series(got["amount"].to_numpy(), index=out.index))
        for col in ("drg_before", "drg_after"):
            out[col] = _text(pd.Series(got[col].to_numpy(), index=out.index))
    out["status"] = ""
    out["comment"] = ""
    rank = out["severity"].map(SEVERITY_RANK).fillna(9)
    out = out.assign(_money=-out["amount"].abs().fillna(-1.0), _rank=rank)
    out = out.sort_values(
        ["_money", "_rank", "mdtrt_id", "rule_id", "field"], kind="mergesort", na_position="last"
    )
    return out.drop(columns=["_money", "_rank"]).reset_index(drop=True)


def write_worklist(
    sheet: FaceSheet,
    findings: pd.DataFrame,
    path: Path | str,
    pack: Pack | str | Path | None = None,
    impact: pd.DataFrame | None = None,
    limit: int | None = None,
    rows: pd.DataFrame | None = None,
) -> Path:
    """Write ``worklist.xlsx`` (sheet 工作清单): one row per finding, header frozen and
    filtered, severity coloured; returns the path. With ``limit``, the first ``limit`` rows of
    the worklist order (money, then severity) are listed and a last row says how many more
    are in findings.csv. ``rows`` are :func:`finding_rows` of the same arguments when the
    caller has them already (the report needs them too)."""
    if rows is None:
        rows = finding_rows(sheet, findings, pack, impact)
    more = len(rows) - limit if limit is not None and len(rows) > limit else 0
    if more:
        rows = rows.head(limit)
    book = open_workbook(path)  # rows stream to a temporary file: memory does not grow
    ws = book.add_worksheet("工作清单")
    for index, (_, _, width) in enumerate(SHEET_COLUMNS):
        ws.set_column_pixels(index, index, column_pixels(width))
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, len(rows), len(SHEET_COLUMNS) - 1)
    header = book.add_format({"bold": True, "text_wrap": True, "valign": "top"})
    for index, (_, text, _) in enumerate(SHEET_COLUMNS):
        ws.write_string(0, index, text, header)
    names = [name for name, _, _ in SHEET_COLUMNS]
    amount_col, severity_col = names.index("amount"), names.index("severity")
    money = book.add_format({"num_format": "#,##0.00"})
    fills = {s: book.add_format({"pattern": 1, "bg_color": f"#{c}"}) for s, c in FILLS.items()}
    columns = [_cells(rows[name]) for name in names]
    for number, line in enumerate(zip(*columns, strict=True), start=1):
        for col, value in enumerate(line):
            style = money if col == amount_col else None
            if col == severity_col:
                style = fills.get(str(value)) if value is not None else None
            _write(ws, number, col, value, style)
    if more:
        text = f"另有 {more} 条问题见 findings.csv / {more} more findings in findings.csv"
        ws.write_string(len(rows) + 1, 0, text)
    book.close()
    return Path(path)


def _cells(column: pd.Series) -> list:
    """A column's cell values: None for missing, numbers as they are, anything else as text."""
    out = []
    for v in column.tolist():
        if v is None or v is pd.NA or (isinstance(v, float) and v != v):
            out.append(None)
        elif isinstance(v, (float, int)):
            out.append(v)
        else:
            out.append(str(v))
    return out


def _write(ws: Any, row: int, col: int, value: Any, style: Any) -> None:
    """One cell as openpyxl wrote it: empty text is no value (a styled cell keeps its style),
    text is never read as a formula or a link."""
    if value is None or value == "":
        if style is not None:
            ws.write_blank(row, col, None, style)
    elif isinstance(value, bool):
        ws.write_boolean(row, col, value, style)
    elif isinstance(value, (int, float)):
        ws.write_number(row, col, value, style)
    else:
        ws.write_string(row, col, value[:STRING_MAX], style)
