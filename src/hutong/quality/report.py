"""The quality report: one self-contained HTML page a coder or a reviewer can open offline.

>>> write_report(sheet, findings, out / "report.html", pack,            # doctest: +SKIP
...              scores=scores, indicators=table, groups=groups, impact=impact, cmi=cmi)

The first screen is the summary and the rules ranked by money at stake (with an impact table)
or by severity and count; then inline SVG charts, the 2016 indicators, a sortable, filterable
case table and a detail block per case with findings. The page has no timestamps and no
external resources (its CSS, SVG and a few lines of JavaScript are inline), so the same inputs
always give the same bytes and the file can be diffed, archived and mailed.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, StrictUndefined
from markupsafe import Markup

from hutong.mapping.facesheet import FaceSheet
from hutong.model import is_in
from hutong.quality.charts import bar_chart, histogram
from hutong.quality.coding import main_rows, western
from hutong.quality.pack import BUILTIN, Pack, load_pack
from hutong.quality.tally import Tally, tally
from hutong.quality.worklist import finding_rows

TITLE = "结算清单质量报告 / Settlement-list quality report"
SEVERITIES = ("error", "warning", "info")
SEVERITY_ZH = {"error": "错误", "warning": "警告", "info": "提示"}
DETAIL_LIMIT = 2000  # cases with a detail block; the page says when more were left out
GEND = {"1": "男 / M", "2": "女 / F", "0": "未知 / unknown", "9": "未说明 / unstated"}
# The settlement fields the report and the worklist show: all a run's finish reads of its
# shown cases (81 fields a case otherwise). Every other node is read whole, items not at all.
SHOWN_SETL = [
    "mdtrt_id", "medcasno", "dscg_caty", "gend", "age", "adm_time", "dscg_time", "act_ipt_days",
]  # fmt: skip


def _template():
    text = resources.files("hutong.quality").joinpath("templates", "report.html").read_text("utf-8")
    env = Environment(autoescape=True, undefined=StrictUndefined, keep_trailing_newline=True)
    return env.from_string(text)


def _s(value: Any) -> str:
    """A cell as text: '' for missing values, times to the minute, numbers without '.0'."""
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, pd.Timestamp):
        return "" if pd.isna(value) else value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return str(value)


def _money(value: float) -> str:
    return "" if pd.isna(value) else f"{value:,.2f}"


# ---- tables --------------------------------------------------------------------------------


def _by_rule(
    rows: pd.DataFrame, pack: Pack, money: bool, every: Tally, amounts: pd.Series
) -> list[dict[str, Any]]:
    """One row per rule of the pack (and per foreign rule that fired), ranked for the reader:
    counts over ``every`` finding, money from ``amounts`` (per rule)."""
    counts, cases = every.by_rule, every.rule_cases
    meta = {r.id: r for r in pack.rules}
    ids = [r.id for r in pack.rules] + sorted(set(every.by_rule) - set(meta))
    out = []
    for order, rule_id in enumerate(ids):
        rule = meta.get(rule_id)
        out.append(
            {
                "id": rule_id,
                "severity": rule.severity if rule else every.rule_severity.get(rule_id, ""),
                "message_zh": rule.message_zh if rule else "",
                "message_en": rule.message_en if rule else "",
                "fix_zh": getattr(rule, "fix_zh", "") or "",
                "fix_en": getattr(rule, "fix_en", "") or "",
                "source": rule.source if rule else "",
                "count": int(counts.get(rule_id, 0)),
                "cases": int(cases.get(rule_id, 0)),
                "amount": float(amounts.get(rule_id, float("nan"))),
                "money": _money(float(amounts.get(rule_id, float("nan")))),
                "order": order,
            }
        )
    rank = {s: i for i, s in enumerate(SEVERITIES)}

    def key(r: dict[str, Any]) -> tuple:
        cash = -abs(r["amount"]) if money and not pd.isna(r["amount"]) else 0.0
        return (r["count"] == 0, cash, rank.get(r["severity"], 9), -r["count"], r["order"])

    return sorted(out, key=key)


def _cases(
    sheet: FaceSheet,
    rows: pd.DataFrame,
    scores: pd.DataFrame | None,
    groups: pd.DataFrame | None,
    money_first: bool = False,
) -> list[dict[str, Any]]:
    """Every case: key fields, counts per severity, score, DRG and money; most money (with an
    impact table) or most errors first."""
    setl = sheet.setlinfo.drop_duplicates("mdtrt_id")
    ids = pd.Index(setl["mdtrt_id"].astype("string"))
    counts = rows.groupby(["mdtrt_id", "severity"]).size().unstack(fill_value=0)
    counts = counts.reindex(index=ids, columns=list(SEVERITIES)).fillna(0).astype(int)
    rules = _rules_by_case(rows)
    money = rows.groupby("mdtrt_id")["amount"].sum(min_count=1).reindex(ids)
    main = main_rows(sheet.diseinfo).set_index("mdtrt_id")["diag_code"].reindex(ids)
    main = main.astype("string")  # (wm_dise_code is the outpatient diagnosis, not the main)
    score = scores.set_index("mdtrt_id")["score"].reindex(ids) if scores is not None else None
    drg = groups.set_index("mdtrt_id")["drg"].reindex(ids) if groups is not None else None
    columns = {
        "mdtrt_id": list(ids),
        "medcasno": setl["medcasno"].tolist(),
        "dscg_caty": setl["dscg_caty"].tolist(),
        "main_dx": main.tolist(),
        "score": score.tolist() if score is not None else [None] * len(ids),
        "drg": drg.tolist() if drg is not None else [None] * len(ids),
        "rules": [rules.get(i, "") for i in ids],
    }
    out = []
    n = counts.to_numpy()
    for i, cash in enumerate(money.tolist()):
        row = {name: _s(values[i]) for name, values in columns.items()}
        errors, warnings, infos = (int(x) for x in n[i])
        row.update(
            errors=errors,
            warnings=warnings,
            infos=infos,
            findings=errors + warnings + infos,
            amount=cash,
            money=_money(cash),
        )
        out.append(row)

    def key(c: dict[str, Any]) -> tuple:
        cash = -abs(c["amount"]) if not pd.isna(c["amount"]) else 0.0
        worst = (-c["errors"], -c["warnings"], -c["infos"])
        return (cash, *worst, c["mdtrt_id"]) if money_first else (*worst, cash, c["mdtrt_id"])

    return sorted(out, key=key)


def _rules_by_case(rows: pd.DataFrame) -> dict[Any, str]:
    """Per case, the rules of its findings, sorted and comma-separated (cases without an id
    left out)."""
    seen: dict[Any, set] = {}
    for case, rule in zip(rows["mdtrt_id"].tolist(), rows["rule_id"].tolist(), strict=True):
        if not pd.isna(case):
            seen.setdefault(case, set()).add(rule)
    return {case: ", ".join(sorted(rules)) for case, rules in seen.items()}


def _details(
    sheet: FaceSheet,
    rows: pd.DataFrame,
    cases: list[dict[str, Any]],
    groups: pd.DataFrame | None,
    limit: int,
) -> list[dict[str, Any]]:
    """A detail block for the first ``limit`` cases with findings (case-table order)."""
    wanted = [c["mdtrt_id"] for c in cases if c["findings"]][:limit]
    if not wanted:
        return []
    keep = set(wanted)
    setl = {r["mdtrt_id"]: r for r in _records(sheet.setlinfo, keep)}
    dx = _by_case(_records(western(sheet.diseinfo), keep))
    ops = _by_case(_records(sheet.oprninfo, keep))
    found = _by_case(_records(rows, keep))
    grp = {r["mdtrt_id"]: r for r in _records(groups, keep)} if groups is not None else {}
    out = []
    for key in wanted:
        s = setl[key]
        detail = {
            "mdtrt_id": key,
            "gend": GEND.get(_s(s["gend"]), _s(s["gend"])),
            "age": _s(s["age"]),
            "dept": _s(s["dscg_caty"]),
            "adm_time": _s(s["adm_time"]),
            "dscg_time": _s(s["dscg_time"]),
            "los": _s(s["act_ipt_days"]),
            "diagnoses": [
                {
                    "main": _s(d["maindiag_flag"]) == "1",
                    "code": _s(d["diag_code"]),
                    "name": _s(d["diag_name"]),
                    "cond": _s(d["adm_cond_type"]),
                }
                for d in dx.get(key, [])
            ],
            "procedures": [
                {
                    "main": _s(o["oprn_oprt_type"]) == "1",
                    "code": _s(o["oprn_oprt_code"]),
                    "name": _s(o["oprn_oprt_name"]),
                    "date": _s(o["oprn_oprt_date"]),
                }
                for o in ops.get(key, [])
            ],
            "findings": [
                {
                    "rule_id": _s(f["rule_id"]),
                    "severity": _s(f["severity"]),
                    "field": _s(f["field"]),
                    "message_zh": _s(f["message_zh"]),
                    "message_en": _s(f["message_en"]),
                    "fix": " / ".join(x for x in (_s(f["fix_zh"]), _s(f["fix_en"])) if x),
                    "money": _money(f["amount"]),
                    "drg": " → ".join(x for x in (_s(f["drg_before"]), _s(f["drg_after"])) if x),
                }
                for f in found.get(key, [])
            ],
            "group": None,
        }
        g = grp.get(key)
        if g is not None:
            trace = g.get("trace")
            detail["group"] = {
                **{c: _s(g.get(c)) for c in ("mdc", "adrg", "drg", "cc_status", "reason")},
                "trace": _steps(trace),
            }
        out.append(detail)
    return out


def _steps(trace: Any) -> list[str]:
    """A DRG trace as a list of steps (a list, tuple or array of text, or one text)."""
    if trace is None or isinstance(trace, float):
        return []
    if isinstance(trace, str):
        return [trace] if trace else []
    return [str(step) for step in trace]


def _records(frame: pd.DataFrame, keep: set[str]) -> list[dict[str, Any]]:
    """The rows of ``frame`` for the cases in ``keep`` as plain dicts, in frame order."""
    part = frame[is_in(frame["mdtrt_id"], keep).to_numpy(dtype=bool)]
    return part.astype(object).where(part.notna(), None).to_dict("records")


def _by_case(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        out.setdefault(record["mdtrt_id"], []).append(record)
    return out


def _charts(sheet: FaceSheet, rows: pd.DataFrame, scores: pd.Series | None, every: Tally) -> dict:
    dept = rows["mdtrt_id"].map(
        sheet.setlinfo.drop_duplicates("mdtrt_id").set_index("mdtrt_id")["dscg_caty"]
    )
    by_dept = (
        dept.astype("string")
        .fillna("—")
        .value_counts()
        .sort_index(kind="mergesort")
        .sort_values(ascending=False, kind="mergesort")
    )
    by_sev = every.by_severity
    return {
        "rule": bar_chart([(k, float(v)) for k, v in every.rule_ranking()[:20]], "by rule"),
        "dept": bar_chart([(str(k), float(v)) for k, v in by_dept.head(20).items()], "by dept"),
        "severity": bar_chart(
            [(f"{SEVERITY_ZH[s]} {s}", float(by_sev.get(s, 0))) for s in SEVERITIES], "by severity"
        ),
        "score": histogram(scores, "scores") if scores is not None else Markup(""),
    }


def _indicator_rows(table: pd.DataFrame | None) -> list[dict[str, str]]:
    if table is None:
        return []
    return [
        {
            "name_zh": _s(r.name_zh),
            "name_en": _s(r.name_en),
            "numerator": _s(r.numerator),
            "denominator": _s(r.denominator),
            "rate": "" if pd.isna(r.rate) else f"{float(r.rate) * 100:.2f}%",
            "note": _s(r.note),
        }
        for r in table.itertuples(index=False)
    ]


def render_report(
    sheet: FaceSheet,
    findings: pd.DataFrame,
    pack: Pack | str | Path | None = None,
    title: str = TITLE,
    *,
    scores: pd.DataFrame | None = None,
    indicators: pd.DataFrame | None = None,
    groups: pd.DataFrame | None = None,
    impact: pd.DataFrame | None = None,
    cmi: pd.DataFrame | None = None,
    detail_limit: int = DETAIL_LIMIT,
    case_count: int | None = None,
    all_scores: pd.Series | None = None,
    all_findings: pd.DataFrame | Tally | None = None,
    rule_amounts: pd.Series | None = None,
    rows: pd.DataFrame | None = None,
) -> str:
    """The report page as text (what :func:`write_report` writes).

    A large run passes only the cases with findings in ``sheet`` (and their ``scores`` and
    ``groups``), with ``case_count`` (every case) and ``all_scores`` (every case's score, for
    the mean and the histogram) and ``all_findings`` (``mdtrt_id, rule_id, severity`` of every
    finding, for the totals, the rule table and the charts, or their :class:`Tally` with
    ``case_count``); ``findings`` then holds the shown cases' findings only (the department
    chart counts those), ``impact`` the shown cases' priced findings and ``rule_amounts`` the
    money per rule over every priced finding. ``rows`` are the findings'
    :func:`~hutong.quality.worklist.finding_rows` when the caller has them (the worklist's)."""
    if not isinstance(pack, Pack):
        pack = load_pack(pack if pack is not None else BUILTIN)
    if rows is None:
        rows = finding_rows(sheet, findings, pack, impact)
    frame = findings if all_findings is None else all_findings
    every = frame if isinstance(frame, Tally) else tally(frame)
    if rule_amounts is not None:
        amounts = rule_amounts
    elif all_findings is None or impact is None or impact.empty:
        amounts = rows.groupby("rule_id")["amount"].sum(min_count=1)
    else:
        amounts = (
            pd.to_numeric(impact["amount"], errors="coerce")
            .groupby(impact["rule_id"])
            .sum(min_count=1)
        )
    ids = sheet.setlinfo["mdtrt_id"]
    everyone = all_scores
    if everyone is None and scores is not None:
        everyone = scores["score"]
    count = int(ids.nunique()) if case_count is None else case_count
    if case_count is None and not isinstance(frame, Tally):
        with_findings = set(frame["mdtrt_id"].dropna())
        clean = int((~ids.dropna().drop_duplicates().isin(with_findings)).sum())
    else:
        clean = count - every.cases_with_findings
    totals = {
        "cases": count,
        "cases_with_errors": every.cases_with_errors,
        "cases_with_findings": every.cases_with_findings,
        "cases_clean": clean,
        "findings": every.findings,
        "by_severity": {s: int(every.by_severity.get(s, 0)) for s in SEVERITIES},
        "money": _money(amounts.sum(min_count=1)),
        "mean_score": _s(round(float(everyone.mean()), 2)) if everyone is not None else "",
    }
    cases = _cases(sheet, rows, scores, groups, impact is not None)
    details = _details(sheet, rows, cases, groups, detail_limit)
    cmi_rows = (
        []
        if cmi is None
        else [
            {
                "dept": _s(r.dept),
                "cases": _s(r.cases),
                "cmi": "" if pd.isna(r.cmi) else f"{r.cmi:.4f}",
            }
            for r in cmi.sort_values("dept", kind="mergesort").itertuples(index=False)
        ]
    )
    return _template().render(
        title=title,
        pack=pack,
        totals=totals,
        money=impact is not None,
        rules=_by_rule(rows, pack, impact is not None, every, amounts),
        charts=_charts(sheet, rows, everyone, every),
        indicators=_indicator_rows(indicators),
        cmi=cmi_rows,
        cases=cases,
        details=details,
        detail_total=sum(1 for c in cases if c["findings"]),
        has_scores=scores is not None,
        has_groups=groups is not None,
    )


def write_report(
    sheet: FaceSheet,
    findings: pd.DataFrame,
    path: Path | str,
    pack: Pack | str | Path | None = None,
    title: str = TITLE,
    **extra: Any,
) -> Path:
    """Write ``report.html`` for the findings of ``pack`` on ``sheet``; returns the path.

    ``extra`` takes the keyword arguments of :func:`render_report` (scores, indicators,
    groups, impact, cmi, detail_limit).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as out:
        out.write(render_report(sheet, findings, pack, title, **extra))
    return path
