"""The QC worklist's pages: the runs, a run's findings by money at stake, and one case.

The pages render what the API returns (the same functions build both), and every change goes
through the API from ``static/qc.js``: marking a finding fixed or accepted posts to
``/api/runs/{run}/findings/{key}/state`` with the version the page was rendered with.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Annotated
from urllib.parse import urlencode

import pandas as pd
from fastapi import APIRouter, Depends, Query, Request

from hutong.web import runs as run_files
from hutong.web.accounts import User
from hutong.web.deps import page, runs_of, user_of
from hutong.web.qc_api import (
    CaseId,
    RunName,
    case_detail,
    finding_out,
    worklist,
)

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 200
SEVERITIES = ("error", "warning", "info")
STATUSES = ("open", "fixed", "accepted")
SORTS = ("money", "severity")
SEVERITY_ZH = {"error": "错误", "warning": "警告", "info": "提示"}
STATUS_ZH = {"open": "待处理", "fixed": "已修改", "accepted": "已接受"}


@cache
def labels() -> dict[str, str]:
    """Face-sheet field code → its Chinese name (from the shipped 4101 field list)."""
    path = resources.files("hutong.mapping").joinpath("data/nhsa_4101_fields.csv")
    with resources.as_file(path) as p:
        table = pd.read_csv(p, comment="#", dtype=str)
    return dict(zip(table["field"], table["name_zh"], strict=True))


def money(value: float | None) -> str:
    return "" if value is None or pd.isna(value) else f"{value:,.2f}"


def _one_of(value: str | None, allowed: tuple[str, ...]) -> str | None:
    return value if value in allowed else None


@router.get("/runs")
def runs_page(request: Request, _: Annotated[User, Depends(user_of)]):
    runs = run_files.list_runs(runs_of(request))
    return page(request, "runs.html", "质控批次 QC runs", runs=runs, money=money,
                configured=runs_of(request) is not None)  # fmt: skip


@router.get("/runs/{run}")
def run_page(
    request: Request,
    run: RunName,
    _: Annotated[User, Depends(user_of)],
    severity: str | None = None,
    rule: str | None = None,
    department: str | None = None,
    status: str | None = None,
    sort: str = "money",
    page_no: Annotated[int, Query(ge=1, le=10**6)] = 1,
):
    """The worklist: one row per finding, filters as query parameters, 200 rows a page."""
    filters = {
        "severity": _one_of(severity, SEVERITIES),
        "rule": (rule or "")[:64] or None,
        "department": (department or "")[:64] or None,
        "status": _one_of(status, STATUSES),
        "sort": _one_of(sort, SORTS) or "money",
    }
    rows, states, choices = worklist(request, run, **filters)
    number = page_no
    start = (number - 1) * PAGE_SIZE
    items = [finding_out(r, states.get(r["key"]))
             for r in rows.iloc[start : start + PAGE_SIZE].to_dict("records")]  # fmt: skip
    query = {k: v for k, v in filters.items() if v}

    def link(n: int) -> str:
        return f"/runs/{run}?" + urlencode({**query, "page_no": n})

    pages = {
        "number": number,
        "previous": link(number - 1) if number > 1 else "",
        "next": link(number + 1) if start + PAGE_SIZE < len(rows) else "",
        "last": max(1, -(-len(rows) // PAGE_SIZE)),
    }
    return page(
        request, "run.html", f"{run} · 质控工作清单 QC worklist",
        run=run, items=items, total=len(rows), filters=filters, choices=choices, pages=pages,
        money=money, severity_zh=SEVERITY_ZH, status_zh=STATUS_ZH, start=start,
    )  # fmt: skip


@router.get("/runs/{run}/cases/{mdtrt_id}")
def case_page(
    request: Request, run: RunName, mdtrt_id: CaseId, _: Annotated[User, Depends(user_of)]
):
    """One case: the face sheet with the findings' fields marked, fixes, DRG trace and group
    before → after each priced fix, and buttons to mark each finding."""
    detail = case_detail(request, run, mdtrt_id)
    return page(
        request, "case.html", f"{mdtrt_id} · {run}",
        run=run, case=detail, labels=labels(), money=money, severity_zh=SEVERITY_ZH,
        status_zh=STATUS_ZH,
    )  # fmt: skip
