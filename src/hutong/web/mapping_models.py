"""The mapping queue API's bodies and limits: what goes in and out, as the OpenAPI document
shows them (pydantic models and constrained types), and the error responses each route declares."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field

from hutong.terminologies import tables as db
from hutong.terminologies.curation import Mapping as MappingOut  # the store's record, as shown

STATUSES = db.STATUSES
KEEP = {"unreviewed": "unreview", "flagged": "flag"}  # a comment leaves these statuses as they are
EXPLAIN_TOP = 10  # the matcher's candidates searched for a stored candidate's explanation
REVIEWERS_ONLY = "reviewers approve and reject; coders flag, comment and propose / 仅审核员可批准或驳回，编码员可标记、评论和提议"  # noqa: E501
PLAIN = r"^[^\x00-\x08\x0b-\x1f]*$"  # no NUL or control characters (PostgreSQL refuses NUL)
CODE = r"^[!-~]+$"  # printable ASCII: national codes (I10.x05, E11.201+N08.3*)
NOTE = r"^[^\x00-\x08\x0b-\x1f]*[^ \x00-\x1f][^\x00-\x08\x0b-\x1f]*$"  # PLAIN, not blank
Text = Annotated[str, Field(max_length=200, pattern=PLAIN)]
Filter = Annotated[str | None, Query(min_length=1, max_length=200, pattern=PLAIN)]
Id = Annotated[int, Path(ge=1, le=2**31 - 1, description="mapping id")]


class Problem(BaseModel):
    detail: str


class ConflictDetail(BaseModel):
    message: str = Field(description="bilingual: who changed it, when, and the current version")
    kind: Literal["stale", "approved", "decided"]
    mapping_id: int
    your_version: int | None = None
    current_version: int
    changed_by: str | None = None
    changed_at: datetime | None = None
    status: str
    code: str


class Conflict(BaseModel):
    detail: ConflictDetail


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "not signed in"},
    403: {"model": Problem, "description": "not allowed for this role (or no CSRF token)"},
    404: {"model": Problem, "description": "unknown mapping, term or code system"},
    409: {"model": Conflict, "description": "changed by someone else since you read it"},
    422: {"description": "invalid input, or a decision the store refuses"},
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {c: ERRORS[c] for c in (401, 422, *codes)}


# -- bodies -------------------------------------------------------------------------------------


class Candidate(BaseModel):
    mapping_id: int
    version: int
    code: str
    display: str
    score: float | None
    status: str
    comment: str | None
    why: str | None = Field(description="the matcher's explanation of the score (zh / en)")


class Term(BaseModel):
    key: str = Field(description="target|local_system|local_code|local_name")
    target: str
    local_system: str
    local_code: str
    local_name: str
    frequency: int
    example: str | None = Field(description="where the term was first seen (file:row)")
    candidates: list[Candidate]


class QueuePage(BaseModel):
    total: int = Field(description="terms in the queue with these filters")
    offset: int
    limit: int
    status: str
    target: str | None
    local_system: str | None
    department: str | None = None
    terms: list[Term]


class Department(BaseModel):
    department: str = Field(
        description="科室代码 department code (the stay's discharge department)"
    )
    name: str = Field("", description="科室名称, where the code is known")
    terms: int = Field(description="local terms seen there")
    frequency: int = Field(description="their occurrences there")


class LocalSystem(BaseModel):
    name: str
    target: str
    terms: int
    frequency: int
    covered_terms: int
    coverage_frequency: float


class Concept(BaseModel):
    code: str
    display: str
    gray: bool
    active: bool


class Change(BaseModel):
    field: str
    before: Any = None
    after: Any = None


class HistoryEntry(BaseModel):
    at: datetime
    actor: str
    action: str
    version: int | None
    changes: list[Change] = Field(description="the fields this entry changed")


class _Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a code sent with a flag is a mistake, not noise

    version: int = Field(ge=1, le=2**31 - 1, description="the row version you decided on")
    comment: str | None = Field(None, max_length=2000, pattern=PLAIN)


class Approval(_Decision):
    action: Literal["approve"]
    code: str | None = Field(
        None, min_length=1, max_length=40, pattern=CODE,
        description="approve with this code instead (a correction)",
    )  # fmt: skip


class Verdict(_Decision):
    action: Literal["reject", "flag", "unreview"]


class Note(_Decision):
    action: Literal["comment"] = Field(description="keep the status (unreviewed or flagged)")
    comment: str = Field(min_length=1, max_length=2000, pattern=NOTE)


Decision = Annotated[Approval | Verdict | Note, Field(discriminator="action")]


class Proposal(BaseModel):
    target: Text = Field(min_length=1)
    local_system: Text = Field(min_length=1)
    local_code: Text = ""
    local_name: Text = ""
    code: str = Field(min_length=1, max_length=40, pattern=CODE)
    comment: str | None = Field(None, max_length=2000, pattern=PLAIN)
    approve: bool = Field(False, description="reviewers: approve the proposed code at once")


class Proposed(BaseModel):
    created: bool = Field(description="false when the term already had this candidate")
    mapping: MappingOut


class BulkApprove(BaseModel):
    min_score: float = Field(ge=0, le=100, allow_inf_nan=False)
    target: Text | None = None


class BulkApproved(BaseModel):
    approved: int


class Stats(BaseModel):
    mappings: dict[str, int]
    terms: int
    frequency: int
    covered_terms: int
    covered_frequency: int
    coverage_terms: float
    coverage_frequency: float
