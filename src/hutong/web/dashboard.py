"""Dashboards: mapping coverage over time (from the audit log) and QC scores by department.

Coverage is replayed from the store's append-only audit log: every change to a mapping keeps
the row after it, so the set of terms with an applied (approved or auto) mapping at the end of
any day can be rebuilt without a history table of its own. QC scores come from a run's
``qc/scores.csv`` joined with the face sheet's discharge department.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from hutong.terminologies import tables as db
from hutong.terminologies.tables import APPLIED, as_utc
from hutong.web.accounts import User
from hutong.web.charts import coverage_line, score_bars
from hutong.web.deps import dept_names, page, run_folder_of, runs_of, store_of, user_of
from hutong.web.runs import list_runs

router = APIRouter()

FAIL = 60.0  # below 60 points a face sheet fails (the usual 甲/乙/丙 cut; score.toml has no band)
NO_DEPT = "未填"  # as in cmi.csv (hutong.quality.weights.NO_DEPT)
HOSPITAL = "全院"
NAMES = {NO_DEPT: "not filled", HOSPITAL: "hospital"}
DEPT_FIELDS = ("dscg_caty", "adm_caty")  # discharge department, else admission department
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "no session / 未登录"},
    404: {"description": "unknown run, code system or local system / 未知"},
}

Target = Annotated[
    str | None, Query(min_length=1, max_length=100, description="target code system")
]
LocalSystem = Annotated[
    str | None, Query(min_length=1, max_length=200, description="local system (vendor-a:diagnosis)")
]
Tz = Annotated[
    int, Query(ge=-12, le=14, description="hours east of UTC where days begin (China: 8)")
]
Run = Annotated[str, Query(min_length=1, max_length=255, description="a run folder's name")]


# -- response bodies -----------------------------------------------------------------------


class CoverageDay(BaseModel):
    day: date
    changes: int = Field(description="audit entries of the day within the filters")
    gained: int = Field(description="terms that became covered that day")
    lost: int = Field(description="terms no longer covered at the end of the day")
    covered_terms: int
    covered_frequency: int
    coverage_terms: float = Field(ge=0, le=1)
    coverage_frequency: float = Field(ge=0, le=1)


class CoverageNow(BaseModel):
    """``store.stats()``: what the queue and ``hutong map stats`` show."""

    mappings: dict[str, int]
    terms: int
    frequency: int
    covered_terms: int
    covered_frequency: int
    coverage_terms: float = Field(ge=0, le=1)
    coverage_frequency: float = Field(ge=0, le=1)


class Coverage(BaseModel):
    target: str | None
    local_system: str | None
    tz: int
    days: list[CoverageDay] = Field(description="days with changes, oldest first")
    today: CoverageNow


class DeptScores(BaseModel):
    dept: str
    dept_name: str = ""
    cases: int
    mean: float
    median: float
    min: float
    below_fail: int = Field(description="cases scoring below `fail`")
    below_fail_share: float = Field(ge=0, le=1)
    excellent: int = Field(description="cases scoring at least `excellent`")
    excellent_share: float = Field(ge=0, le=1)
    findings: int
    findings_per_case: float


class QcScores(BaseModel):
    run: str
    fail: float
    excellent: float
    departments: list[DeptScores] = Field(description="by department code; 未填 when blank")
    hospital: DeptScores


# -- coverage ------------------------------------------------------------------------------


def _check_filters(store: Any, target: str | None, local_system: str | None) -> None:
    if target is not None and target not in {s.name for s in store.code_systems()}:
        raise HTTPException(404, f"unknown code system {target!r} / 未知编码体系")
    if local_system is not None:
        with store.engine.connect() as conn:
            known = conn.execute(
                select(db.local_system.c.id).where(db.local_system.c.name == local_system)
            ).first()
        if known is None:
            raise HTTPException(404, f"unknown local system {local_system!r} / 未知本地编码体系")


def coverage_days(
    store: Any, target: str | None = None, local_system: str | None = None, tz: int = 8
) -> list[CoverageDay]:
    """The covered terms at the end of each day with changes, replayed from the audit log.

    Terms and frequencies are today's (the log keeps mappings, not term counts), counted as
    ``store.stats()`` counts them, so the last day agrees with today's totals. Entries are
    replayed in id order (the order they were written); a clock that stepped back files an
    entry under the day already being counted.
    """
    terms = select(db.local_term.c.id, db.local_term.c.frequency).join(db.local_system)
    if local_system is not None:
        terms = terms.where(db.local_system.c.name == local_system)
    entries = select(db.audit.c.at, db.audit.c.mapping_id, db.audit.c.after).order_by(db.audit.c.id)
    zone = timezone(timedelta(hours=tz))
    days: list[CoverageDay] = []
    with store.engine.connect() as conn:
        frequency = {term: n for term, n in conn.execute(terms).all()}
        n_terms, total = len(frequency), sum(frequency.values())
        where: dict[int, int] = {}  # mapping id → term it applies to, while applied
        applied: Counter[int] = Counter()  # term → its applied mappings (0 or 1 per target)
        covered_frequency = 0
        day: date | None = None
        before: dict[int, bool] = {}  # term → covered at the start of the day (when touched)
        changes = 0

        def close() -> None:
            if day is None:
                return
            gained = sum(1 for t, was in before.items() if not was and applied[t])
            lost = sum(1 for t, was in before.items() if was and not applied[t])
            covered = sum(1 for n in applied.values() if n)
            days.append(
                CoverageDay(
                    day=day, changes=changes, gained=gained, lost=lost, covered_terms=covered,
                    covered_frequency=covered_frequency,
                    coverage_terms=covered / n_terms if n_terms else 0.0,
                    coverage_frequency=covered_frequency / total if total else 0.0,
                )
            )  # fmt: skip

        for at, mapping_id, after in conn.execute(entries):
            after = after or {}
            term = after.get("local_term_id")
            if term not in frequency or (target is not None and after["target_system"] != target):
                continue
            today = as_utc(at).astimezone(zone).date()
            if day is None or today > day:
                close()
                day, before, changes = today, {}, 0
            changes += 1
            before.setdefault(term, applied[term] > 0)
            was = applied[term] > 0
            old = where.pop(mapping_id, None)
            if old is not None:
                applied[old] -= 1
            if after.get("status") in APPLIED:
                where[mapping_id] = term
                applied[term] += 1
            now = applied[term] > 0
            covered_frequency += (now - was) * frequency[term]
        close()
    return days


@router.get(
    "/api/dashboard/coverage", tags=["dashboard"], response_model=Coverage, responses=ERRORS
)
def coverage(
    request: Request,
    _: Annotated[User, Depends(user_of)],
    target: Target = None,
    local_system: LocalSystem = None,
    tz: Tz = 8,
) -> Coverage:
    """Mapping coverage over time: covered terms (and their share of use) at each day's end."""
    store = store_of(request)
    _check_filters(store, target, local_system)
    return Coverage(
        target=target, local_system=local_system, tz=tz,
        days=coverage_days(store, target, local_system, tz),
        today=CoverageNow(**store.stats(target, local_system)),
    )  # fmt: skip


# -- QC scores by department --------------------------------------------------------------


def _departments(folder: Path) -> pd.Series:
    """Each case's department (discharge, else admission), by ``mdtrt_id``; empty if unknown."""
    path = folder / "facesheet" / "setlinfo.csv"
    if not path.is_file():
        return pd.Series(dtype="string")
    wanted = {"mdtrt_id", *DEPT_FIELDS}
    setl = pd.read_csv(
        path, dtype=str, keep_default_na=False, encoding="utf-8-sig", usecols=wanted.__contains__
    ).drop_duplicates("mdtrt_id")
    dept = pd.Series("", index=setl.index, dtype="string")
    for field in reversed(DEPT_FIELDS):  # the first field wins where it is filled
        if field in setl:
            value = setl[field].astype("string").str.strip()
            dept = value.where(value != "", dept)
    return pd.Series(dept.to_numpy(), index=setl["mdtrt_id"].to_numpy(), dtype="string")


def _summary(dept: str, part: pd.DataFrame, excellent: float) -> DeptScores:
    score, cases = part["score"], len(part)
    low, top = int((score < FAIL).sum()), int((score >= excellent).sum())
    findings = int(part["findings"].sum())
    return DeptScores(
        dept=dept, dept_name=NAMES.get(dept) or dept_names().get(dept, ""), cases=cases,
        mean=round(float(score.mean()), 2), median=round(float(score.median()), 2),
        min=float(score.min()), below_fail=low, below_fail_share=low / cases, excellent=top,
        excellent_share=top / cases, findings=findings,
        findings_per_case=round(findings / cases, 3),
    )  # fmt: skip


def qc_by_department(folder: Path) -> QcScores:
    """Cases, scores and findings per discharge department of one run's QC outputs."""
    from hutong.quality.score import load_score_table

    qc = folder / "qc"
    try:
        scores = pd.read_csv(
            qc / "scores.csv", dtype={"mdtrt_id": str}, encoding="utf-8-sig",
            usecols=["mdtrt_id", "score"],
        )  # fmt: skip
        scores["score"] = pd.to_numeric(scores["score"], errors="raise").astype(float)
        per_case = Counter()
        if (qc / "findings.csv").is_file():
            ids = pd.read_csv(qc / "findings.csv", dtype=str, encoding="utf-8-sig",
                              usecols=["mdtrt_id"], keep_default_na=False)  # fmt: skip
            per_case = Counter(ids["mdtrt_id"])
        depts = _departments(folder)
    except (ValueError, KeyError, OSError) as exc:  # pandas' parser errors are ValueErrors
        detail = f"{folder.name}: unreadable QC outputs / 质控结果无法读取 ({type(exc).__name__})"
        raise HTTPException(409, detail) from exc
    if scores.empty:
        raise HTTPException(409, f"{folder.name}: scores.csv has no cases / 没有病例评分")
    scores["findings"] = scores["mdtrt_id"].map(per_case).fillna(0).astype(int)
    dept = scores["mdtrt_id"].map(depts).astype("string").fillna("")
    scores["dept"] = dept.mask(dept == "", NO_DEPT)
    excellent = load_score_table().excellent
    return QcScores(
        run=folder.name, fail=FAIL, excellent=excellent,
        departments=[_summary(str(d), part, excellent)
                     for d, part in scores.groupby("dept", sort=True)],
        hospital=_summary(HOSPITAL, scores, excellent),
    )  # fmt: skip


@router.get(
    "/api/dashboard/qc-scores", tags=["dashboard"], response_model=QcScores,
    responses={**ERRORS, 409: {"description": "the run's QC files cannot be read / 无法读取"}},
)  # fmt: skip
def qc_scores(request: Request, run: Run, _: Annotated[User, Depends(user_of)]) -> QcScores:
    """QC scores by discharge department for one run (cases, mean/median, bands, findings)."""
    return qc_by_department(run_folder_of(request, run))


# -- the page ------------------------------------------------------------------------------


@router.get("/dashboard", include_in_schema=False)
def dashboard_page(
    request: Request,
    _: Annotated[User, Depends(user_of)],
    run: Annotated[str | None, Query(max_length=255)] = None,
    target: Annotated[str | None, Query(max_length=100)] = None,
    local_system: Annotated[str | None, Query(max_length=200)] = None,
):
    """The coverage line and the department bars, each with its table; a run selector."""
    store = store_of(request)
    target, local_system = target or None, local_system or None  # an empty <select> choice
    names = [r["name"] for r in list_runs(runs_of(request))]  # newest first
    run = run or (names[0] if names else None)
    problems: list[tuple[int, str]] = []
    cover, qc, line, bars = None, None, None, None
    try:
        _check_filters(store, target, local_system)
        days = coverage_days(store, target, local_system)
        cover = Coverage(target=target, local_system=local_system, tz=8, days=days,
                         today=CoverageNow(**store.stats(target, local_system)))  # fmt: skip
    except HTTPException as exc:
        problems.append((exc.status_code, str(exc.detail)))
    if run is not None:
        try:
            qc = qc_by_department(run_folder_of(request, run))
        except HTTPException as exc:
            problems.append((exc.status_code, str(exc.detail)))
    if cover is not None and cover.days:
        line = coverage_line(
            [d.day for d in cover.days],
            [("术语 terms", [d.coverage_terms for d in cover.days]),
             ("使用频次 frequency", [d.coverage_frequency for d in cover.days])],
            "映射覆盖率 mapping coverage",
        )  # fmt: skip
    if qc is not None:
        bars = score_bars(
            [(_dept_label(d), d.mean) for d in qc.departments],
            "科室平均分 mean score by department", qc.fail, qc.excellent,
        )  # fmt: skip
    with store.engine.connect() as conn:
        query = select(db.local_system.c.name).order_by(db.local_system.c.name)
        local_systems = list(conn.execute(query).scalars())
    response = page(
        request, "dashboard.html", "看板 Dashboard", cover=cover, qc=qc, line=line, bars=bars,
        runs=names, run=run, target=target, local_system=local_system,
        targets=[s.name for s in store.code_systems()], local_systems=local_systems,
        problems=[text for _, text in problems],
    )  # fmt: skip
    if problems:
        response.status_code = max(code for code, _ in problems)
    return response


def _dept_label(d: DeptScores) -> str:
    return f"{d.dept} {d.dept_name}".strip()
