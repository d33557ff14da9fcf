"""The QC worklist's JSON API: runs, their findings by money at stake, one case's detail, and
marking a finding fixed or accepted (anyone signed in; who and when are recorded).

A run is a folder under ``hutong serve --runs DIR``; an unknown run, case or finding is 404, a
change naming a version older than the finding's is 409 (with the finding as it is now), bad
input 422.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from hutong.quality.worklist import SEVERITY_RANK
from hutong.web import runs as run_files
from hutong.web.accounts import User
from hutong.web.deps import run_folder_of, runs_of, user_of
from hutong.web.qcstate import QcStates, StaleState

router = APIRouter(tags=["qc"])

Status = Literal["open", "fixed", "accepted"]
Severity = Literal["error", "warning", "info"]
RunName = Annotated[str, Path(min_length=1, max_length=200, description="a run folder's name")]
CaseId = Annotated[str, Path(min_length=1, max_length=100)]
Key = Annotated[str, Path(pattern=r"^[0-9a-f]{20}(-[0-9]{1,6})?$", description="finding key")]
NOT_FOUND = {404: {"description": "unknown run, case or finding / 未找到"}}


class RunOut(BaseModel):
    name: str
    date: str
    cases: int | None = None
    findings: int | None = None
    by_severity: dict[str, int] = {}
    amount: float | None = Field(None, description="money the priced fixes move (元)")
    profile: str = ""


class StateOut(BaseModel):
    run: str
    key: str
    status: Status
    comment: str = ""
    username: str = ""
    at: str = ""
    version: int


class FindingOut(BaseModel):
    key: str
    mdtrt_id: str
    rule_id: str
    severity: str
    field: str
    message_zh: str
    message_en: str
    fix_zh: str = ""
    fix_en: str = ""
    department: str = ""
    medcasno: str = ""
    money: float | None = Field(None, description="|amount|: money at stake (元)")
    amount: float | None = None
    drg_before: str = ""
    drg_after: str = ""
    weight_before: float | None = None
    weight_after: float | None = None
    weight_diff: float | None = None
    priced: bool = False
    status: Status = "open"
    version: int = 0
    comment: str = ""
    username: str = ""
    at: str = ""


class FindingPage(BaseModel):
    run: str
    total: int
    offset: int
    limit: int
    items: list[FindingOut]
    severities: list[str]
    rules: list[str]
    departments: list[str]
    by_status: dict[str, int]


class CellRow(BaseModel):
    cells: dict[str, str]
    hl: bool = Field(description="a finding names this row (its value is in the row)")
    hl_fields: list[str]
    findings: list[str]


class SetlField(BaseModel):
    field: str
    value: str
    hl: bool
    findings: list[str]


class CaseFinding(FindingOut):
    fields: list[str]
    value: str | None = None
    targets: dict[str, str] = Field(description="field → face-sheet node it is on")


class GroupOut(BaseModel):
    mdc: str = ""
    adrg: str = ""
    drg: str = ""
    cc_status: str = ""
    reason: str = ""
    weight: float | None = None
    trace: list[str] = []


class AfterFix(BaseModel):
    key: str
    rule_id: str
    drg_before: str = ""
    drg_after: str = ""
    weight_before: float | None = None
    weight_after: float | None = None
    weight_diff: float | None = None
    amount: float | None = None
    fix_zh: str = ""
    fix_en: str = ""


class CaseOut(BaseModel):
    run: str
    mdtrt_id: str
    facesheet: bool = Field(description="false when the run's face sheet lacks the case")
    setlinfo: list[SetlField]
    diagnoses: list[CellRow]
    procedures: list[CellRow]
    items: list[CellRow]
    findings: list[CaseFinding]
    group: GroupOut | None
    after: list[AfterFix]


class StateIn(BaseModel):
    status: Status
    version: int = Field(ge=0, le=2**31, description="the finding's version as you saw it")
    comment: str | None = Field(None, max_length=2000)


class AuditOut(BaseModel):
    at: str
    username: str
    old_status: str
    new_status: str
    comment: str = ""
    version: int


# ---- shared with the pages -------------------------------------------------------------------


def states_of(request: Request) -> QcStates:
    """The finding states of the app's store (its tables are created when the app starts)."""
    return request.app.state.qc_states


def clean(value: Any) -> Any:
    """NaN → None (JSON has no NaN)."""
    return None if isinstance(value, float) and math.isnan(value) else value


def finding_out(row: dict[str, Any], state) -> dict[str, Any]:
    out = {k: clean(row.get(k)) for k in FindingOut.model_fields if k in row}
    out.update(status="open", version=0, comment="", username="", at="")
    if state is not None:
        out.update(status=state.status, version=state.version, comment=state.comment,
                   username=state.username, at=state.at)  # fmt: skip
    return out


def worklist(
    request: Request,
    run: str,
    severity: str | None = None,
    rule: str | None = None,
    department: str | None = None,
    status: str | None = None,
    sort: str = "money",
) -> tuple[pd.DataFrame, dict, dict]:
    """The run's findings filtered and sorted, the states by key, and the filter choices."""
    table = run_files.findings(run_folder_of(request, run))
    states = states_of(request).states(run)
    current = table["key"].map(lambda k: states[k].status if k in states else "open")
    choices = {
        "severities": sorted(set(table["severity"]), key=lambda s: (SEVERITY_RANK.get(s, 9), s)),
        "rules": sorted(set(table["rule_id"])),
        "departments": sorted(set(table["department"]) - {""}),
        "by_status": {s: int((current == s).sum()) for s in ("open", "fixed", "accepted")},
    }  # fmt: skip
    keep = pd.Series(True, index=table.index)
    for column, wanted in (("severity", severity), ("rule_id", rule),
                           ("department", department)):  # fmt: skip
        if wanted:
            keep &= table[column] == wanted
    if status:
        keep &= current == status
    rows = table[keep]
    if sort == "severity":
        rows = rows.assign(_m=-rows["money"].fillna(-1.0)).sort_values(
            ["_rank", "_m", "mdtrt_id", "rule_id", "field"], kind="mergesort"
        )
    return rows, states, choices


# ---- routes ------------------------------------------------------------------------------


@router.get("/api/runs", response_model=list[RunOut])
def list_runs(request: Request, _: Annotated[User, Depends(user_of)]):
    """The runs under the workbench's runs folder, newest first."""
    return run_files.list_runs(runs_of(request))


@router.get("/api/runs/{run}/findings", response_model=FindingPage, responses=NOT_FOUND)
def run_findings(
    request: Request,
    run: RunName,
    _: Annotated[User, Depends(user_of)],
    severity: Severity | None = None,
    rule: Annotated[str | None, Query(max_length=64)] = None,
    department: Annotated[str | None, Query(max_length=64)] = None,
    status: Status | None = None,
    sort: Literal["money", "severity"] = "money",
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
):
    """The run's findings, most money at stake first (then severity), or by severity."""
    rows, states, choices = worklist(request, run, severity, rule, department, status, sort)
    page = rows.iloc[offset : offset + limit].to_dict("records")
    items = [finding_out(r, states.get(r["key"])) for r in page]
    return {"run": run, "total": len(rows), "offset": offset, "limit": limit, "items": items,
            **choices}  # fmt: skip


@router.get("/api/runs/{run}/cases/{mdtrt_id}", response_model=CaseOut, responses=NOT_FOUND)
def case(request: Request, run: RunName, mdtrt_id: CaseId, _: Annotated[User, Depends(user_of)]):
    """One case: its face-sheet rows with the findings' fields marked, its findings with their
    fixes and states, the DRG as grouped with its trace, and the DRG after each priced fix."""
    return case_detail(request, run, mdtrt_id)


def case_detail(request: Request, run: str, mdtrt_id: str) -> dict[str, Any]:
    detail = run_files.case_detail(run_folder_of(request, run), mdtrt_id)
    if detail is None:
        raise HTTPException(404, f"no case {mdtrt_id!r} in run {run!r} / 该批次中没有该病例")
    states = states_of(request).states(run)
    detail["findings"] = [{**f, **finding_out(f, states.get(f["key"]))}
                          for f in detail["findings"]]  # fmt: skip
    detail["after"] = [{k: clean(v) for k, v in a.items()} for a in detail["after"]]
    return {"run": run, **detail}


def _finding(request: Request, run: str, key: str) -> dict[str, Any]:
    table = run_files.findings(run_folder_of(request, run))
    hit = table[table["key"] == key]
    if hit.empty:
        raise HTTPException(404, f"no finding {key} in run {run!r} / 没有该问题")
    return hit.iloc[0].to_dict()


@router.post(
    "/api/runs/{run}/findings/{key}/state",
    response_model=StateOut,
    responses={**NOT_FOUND, 409: {"description": "stale version: the finding as it is now"}},
)
def mark(
    request: Request, run: RunName, key: Key, body: StateIn,
    user: Annotated[User, Depends(user_of)],
):  # fmt: skip
    """Mark a finding open, fixed or accepted; ``version`` is the one you saw (0 when never
    marked). Coders and reviewers alike may mark; the change is recorded with its user."""
    row = _finding(request, run, key)
    try:
        state = states_of(request).mark(
            run, key, body.status, user.username, body.version, body.comment,
            case=(row["mdtrt_id"], row["rule_id"]),
        )  # fmt: skip
    except StaleState as exc:
        current = StateOut(**exc.current.__dict__).model_dump()
        return JSONResponse({"detail": str(exc), "current": current}, 409)
    return StateOut(**state.__dict__)


@router.get("/api/runs/{run}/findings/{key}/history", response_model=list[AuditOut],
            responses=NOT_FOUND)  # fmt: skip
def history(request: Request, run: RunName, key: Key, _: Annotated[User, Depends(user_of)]):
    """Who changed the finding's state, when, from what to what; oldest first."""
    _finding(request, run, key)
    return states_of(request).history(run, key)
