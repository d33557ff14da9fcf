"""The quality report: one self-contained HTML page a coder or a reviewer can open offline.

The page shows totals, a count per rule (with the rule's source) and the cases with findings,
worst first. It has no timestamps, scripts or external resources, so the same findings always
give the same bytes and the file can be diffed, archived and mailed.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, StrictUndefined

from hutong.mapping.facesheet import FaceSheet
from hutong.quality.coding import main_rows
from hutong.quality.pack import BUILTIN, Pack, load_pack

TITLE = "结算清单质量报告 / Settlement-list quality report"
SEVERITIES = ("error", "warning", "info")


def _template():
    text = resources.files("hutong.quality").joinpath("templates", "report.html").read_text("utf-8")
    env = Environment(autoescape=True, undefined=StrictUndefined, keep_trailing_newline=True)
    return env.from_string(text)


def _by_rule(findings: pd.DataFrame, pack: Pack) -> list[dict[str, Any]]:
    counts = findings.groupby("rule_id").size()
    cases = findings.groupby("rule_id")["mdtrt_id"].nunique()
    rows = [
        {
            "id": r.id,
            "severity": r.severity,
            "message_zh": r.message_zh,
            "message_en": r.message_en,
            "source": r.source,
            "count": int(counts.get(r.id, 0)),
            "cases": int(cases.get(r.id, 0)),
        }
        for r in pack.rules
    ]
    # findings from rules the pack does not know (another pack's findings) still get a row
    known = {r.id for r in pack.rules}
    for rule_id in sorted(set(findings["rule_id"].dropna()) - known):
        first = findings[findings["rule_id"] == rule_id].iloc[0]
        rows.append(
            {
                "id": rule_id,
                "severity": first["severity"],
                "message_zh": "",
                "message_en": "",
                "source": "",
                "count": int(counts[rule_id]),
                "cases": int(cases.get(rule_id, 0)),
            }
        )
    return rows


def _by_case(sheet: FaceSheet, findings: pd.DataFrame) -> list[dict[str, Any]]:
    if findings.empty:
        return []
    f = findings.assign(mdtrt_id=findings["mdtrt_id"].fillna(""))
    counts = f.groupby(["mdtrt_id", "severity"]).size().unstack(fill_value=0)
    counts = counts.reindex(columns=list(SEVERITIES), fill_value=0)
    rule_ids = f.groupby("mdtrt_id")["rule_id"].agg(lambda s: ", ".join(sorted(set(s))))
    setl = sheet.setlinfo.drop_duplicates("mdtrt_id").set_index("mdtrt_id")
    main = main_rows(sheet.diseinfo).set_index("mdtrt_id")["diag_code"]
    table = counts.assign(rules=rule_ids).reset_index()
    table = table.sort_values(
        ["error", "warning", "info", "mdtrt_id"],
        ascending=[False, False, False, True],
        kind="mergesort",
    )

    def text(series: pd.Series, key: str) -> str:
        value = series.get(key)
        return "" if value is None or pd.isna(value) else str(value)

    return [
        {
            "mdtrt_id": row.mdtrt_id,
            "medcasno": text(setl["medcasno"], row.mdtrt_id),
            "dscg_caty": text(setl["dscg_caty"], row.mdtrt_id),
            "main_dx": text(main, row.mdtrt_id) or text(setl["wm_dise_code"], row.mdtrt_id),
            "errors": int(row.error),
            "warnings": int(row.warning),
            "infos": int(row.info),
            "rules": row.rules,
        }
        for row in table.itertuples(index=False)
    ]


def render_report(
    sheet: FaceSheet,
    findings: pd.DataFrame,
    pack: Pack | str | Path | None = None,
    title: str = TITLE,
) -> str:
    """The report page as text (what :func:`write_report` writes)."""
    if not isinstance(pack, Pack):
        pack = load_pack(pack if pack is not None else BUILTIN)
    ids = sheet.setlinfo["mdtrt_id"]
    severity = findings["severity"]
    with_errors = set(findings.loc[severity == "error", "mdtrt_id"].dropna())
    with_findings = set(findings["mdtrt_id"].dropna())
    totals = {
        "cases": int(ids.nunique()),
        "cases_with_errors": len(with_errors),
        "cases_with_findings": len(with_findings),
        "cases_clean": int((~ids.dropna().drop_duplicates().isin(with_findings)).sum()),
        "findings": len(findings),
        "by_severity": {s: int((severity == s).sum()) for s in SEVERITIES},
    }
    return _template().render(
        title=title,
        pack=pack,
        totals=totals,
        rules=_by_rule(findings, pack),
        cases=_by_case(sheet, findings),
    )


def write_report(
    sheet: FaceSheet,
    findings: pd.DataFrame,
    path: Path | str,
    pack: Pack | str | Path | None = None,
    title: str = TITLE,
) -> Path:
    """Write ``report.html`` for the findings of ``pack`` on ``sheet``; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as out:
        out.write(render_report(sheet, findings, pack, title))
    return path
