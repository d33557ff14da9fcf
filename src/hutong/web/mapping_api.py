"""The mapping queue's JSON API: the coders' work list, code search, decisions and history.

Every decision names the row version the user saw; a stale one is refused with 409 naming who
changed the mapping, so two coders on one term never overwrite each other silently. Coders
flag, comment and propose codes; reviewers (and admins) also approve, reject and bulk-approve.
Reads that the store has no method for (the local systems, one term's mappings) are small
queries over its tables here.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sqlalchemy import func, select

from hutong.terminologies import tables as db
from hutong.terminologies.curation import Mapping, MappingConflict
from hutong.web.accounts import User
from hutong.web.deps import dept_names, reviewer, store_of, user_of
from hutong.web.mapping_models import (
    EXPLAIN_TOP,
    KEEP,
    PLAIN,
    REVIEWERS_ONLY,
    STATUSES,
    Approval,
    BulkApprove,
    BulkApproved,
    Candidate,
    Change,
    Concept,
    ConflictDetail,
    Decision,
    Department,
    Filter,
    HistoryEntry,
    Id,
    LocalSystem,
    MappingOut,
    Proposal,
    Proposed,
    QueuePage,
    Stats,
    Term,
    errors,
)

router = APIRouter(prefix="/api")

# -- routes -------------------------------------------------------------------------------------


@router.get("/queue", tags=["queue"], response_model=QueuePage, responses=errors(404))
def queue(
    request: Request,
    target: Filter = None,
    local_system: Filter = None,
    department: Filter = None,
    status: Annotated[Literal[STATUSES], Query()] = "unreviewed",  # type: ignore[valid-type]
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**6)] = 0,
    explain: Annotated[bool, Query(description="recompute the matcher's explanations")] = True,
) -> QueuePage:
    """Terms with candidates in ``status``, most frequent first, each with its candidates."""
    return queue_page(
        store_of(request), target, local_system, status, limit, offset, explain, department
    )


@router.get("/departments", tags=["queue"], response_model=list[Department], responses=errors())
def departments(request: Request, local_system: Filter = None) -> list[Department]:
    """The departments the local terms were seen in (the stays' discharge departments), most
    frequent first, to work through one department's terms."""
    names = dept_names()
    return [
        Department(**d, name=names.get(d["department"], ""))
        for d in store_of(request).departments(local_system)
    ]


@router.get("/local-systems", tags=["queue"], response_model=list[LocalSystem], responses=errors())
def local_systems(request: Request) -> list[LocalSystem]:
    """The hospitals' local code lists, their target system and how much of them is mapped."""
    store = store_of(request)
    out = []
    for name, target in known_local_systems(store):
        s = store.stats(target=target, local_system=name)
        out.append(LocalSystem(name=name, target=target, terms=s["terms"],
                               frequency=s["frequency"], covered_terms=s["covered_terms"],
                               coverage_frequency=s["coverage_frequency"]))  # fmt: skip
    return out


@router.get("/search", tags=["codes"], response_model=list[Concept], responses=errors(404))
def search(
    request: Request,
    q: Annotated[str, Query(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f]+$",
                            description="Chinese name, pinyin initials (gxb) or code (I25.1)")],
    system: Annotated[str, Query(min_length=1, max_length=200, pattern=PLAIN)] = "icd10-yb-2.0",
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> list[Concept]:  # fmt: skip
    """Codes of ``system`` by Chinese name, pinyin initials or code prefix."""
    store = store_of(request)
    if system not in target_systems(store):
        raise HTTPException(404, f"unknown code system {system} / 没有此编码体系")
    return [Concept(code=c.code, display=c.display, gray=c.gray, active=c.active)
            for c in store.search(q, system, limit=limit)]  # fmt: skip


@router.get("/mappings/{mapping_id}", tags=["mappings"], response_model=MappingOut,
            responses=errors(404))  # fmt: skip
def mapping(request: Request, mapping_id: Id) -> MappingOut:
    return _mapping(store_of(request), mapping_id)


@router.get("/mappings/{mapping_id}/history", tags=["mappings"],
            response_model=list[HistoryEntry], responses=errors(404))  # fmt: skip
def history(request: Request, mapping_id: Id) -> list[HistoryEntry]:
    """Who changed the mapping, when, and what changed, oldest first."""
    store = store_of(request)
    _mapping(store, mapping_id)
    return [_entry(e) for e in store.history(mapping_id)]


@router.post("/mappings/{mapping_id}/decision", tags=["mappings"], response_model=MappingOut,
             responses=errors(403, 404, 409))  # fmt: skip
def decide(
    request: Request, mapping_id: Id, body: Decision, user: Annotated[User, Depends(user_of)]
) -> MappingOut:
    """Approve, reject (reviewers), flag, unreview or comment on the version you saw."""
    store = store_of(request)
    if body.action in ("approve", "reject") and not user.can_approve:
        raise HTTPException(403, REVIEWERS_ONLY)
    seen = _mapping(store, mapping_id)
    if seen.version != body.version:
        raise _stale(store, seen, body.version)
    action = body.action
    if action == "unreview" and not user.can_approve and seen.status != "flagged":
        raise HTTPException(
            403, f"coders may only withdraw a flag / 编码员只能撤销标记; {REVIEWERS_ONLY}"
        )
    if action == "comment":
        if seen.status not in KEEP:
            raise _decided(seen)
        action = KEEP[seen.status]
    if action == "approve":
        _refuse_second_approval(store, seen)
    code = body.code if isinstance(body, Approval) else None
    if code is not None:
        _known_code(store, seen.target, code)
    return _decision(store, mapping_id, action, user, body.version, code, body.comment)


@router.post("/terms/propose", tags=["mappings"], response_model=Proposed,
             responses=errors(403, 404, 409))  # fmt: skip
def propose(request: Request, body: Proposal, user: Annotated[User, Depends(user_of)]) -> Proposed:
    """Propose a code for a local term (as you); reviewers may approve it in the same call."""
    store = store_of(request)
    if body.approve and not user.can_approve:
        raise HTTPException(403, REVIEWERS_ONLY)
    if body.target not in target_systems(store):
        raise HTTPException(404, f"unknown code system {body.target} / 没有此编码体系")
    if not _term_exists(store, body.local_system, body.local_code, body.local_name):
        raise HTTPException(404, "no such local term / 没有此本地术语")
    _known_code(store, body.target, body.code)
    had = {m.code for m in term_mappings(store, body.local_system, body.local_code,
                                         body.local_name, body.target)}  # fmt: skip
    try:
        rows = store.propose(body.local_system, body.local_code, body.local_name, body.target,
                             [(body.code, "", None)], author=user.username)  # fmt: skip
    except ValueError as exc:  # codes, system and term are checked: the rest is a state clash
        raise HTTPException(409, f"无法提议 cannot propose: {exc}") from exc
    made = next(m for m in rows if m.code == body.code.strip())
    if body.approve:
        _refuse_second_approval(store, made)
        made = _decision(store, made.id, "approve", user, made.version, None, body.comment)
    elif body.comment:
        if made.status not in KEEP:
            raise _decided(made)
        made = _decision(store, made.id, KEEP[made.status], user, made.version, None, body.comment)
    return Proposed(created=made.code not in had, mapping=made)


@router.post("/mappings/bulk-approve", tags=["mappings"], response_model=BulkApproved,
             responses=errors(403, 404))  # fmt: skip
def bulk_approve(
    request: Request, body: BulkApprove, user: Annotated[User, Depends(reviewer)]
) -> BulkApproved:
    """Approve each term's best candidate at or above ``min_score`` (ties are left to a coder)."""
    store = store_of(request)
    if body.target is not None and body.target not in target_systems(store):
        raise HTTPException(404, f"unknown code system {body.target} / 没有此编码体系")
    return BulkApproved(approved=store.bulk_approve(body.min_score, user.username, body.target))


@router.get("/stats", tags=["queue"], response_model=Stats, responses=errors())
def stats(
    request: Request,
    target: Filter = None,
    local_system: Filter = None,
) -> Stats:
    """Mappings by status and how much of the local terms (and their use) is mapped."""
    return Stats(**store_of(request).stats(target=target, local_system=local_system))


# -- the queue ----------------------------------------------------------------------------------


def queue_page(
    store: Any,
    target: str | None,
    local_system: str | None,
    status: str,
    limit: int,
    offset: int,
    explain: bool = True,
    department: str | None = None,
) -> QueuePage:
    """One page of the queue, grouped by term (the store lists one row per candidate)."""
    if target is not None and target not in target_systems(store):
        raise HTTPException(404, f"unknown code system {target} / 没有此编码体系")
    if local_system is not None and local_system not in dict(known_local_systems(store)):
        raise HTTPException(404, f"unknown local system {local_system} / 没有此本地编码体系")
    if department is not None and department not in {d["department"] for d in store.departments()}:
        raise HTTPException(404, f"no local term was seen in department {department} / 没有此科室")
    frame = store.queue(
        target=target, local_system=local_system, status=status, department=department
    )
    terms: dict[str, Term] = {}
    for row in frame.to_dict("records"):
        parts = (row["target"], row["local_system"], row["local_code"], row["local_name"])
        key = "|".join(parts)
        term = terms.get(key)
        if term is None:
            term = terms[key] = Term(
                key=key, target=parts[0], local_system=parts[1], local_code=parts[2],
                local_name=parts[3], frequency=int(row["frequency"]),
                example=_text(row["example"]), candidates=[],
            )  # fmt: skip
        if not pd.isna(row["mapping_id"]):  # a term without candidates has one empty row
            term.candidates.append(
                Candidate(
                    mapping_id=int(row["mapping_id"]), version=int(row["version"]),
                    code=row["code"], display=row["display"], status=row["status"],
                    score=None if pd.isna(row["score"]) else float(row["score"]),
                    comment=_text(row["comment"]), why=None,
                )
            )  # fmt: skip
    shown = list(terms.values())[offset : offset + limit]
    if explain:
        _explain(store, shown)
    return QueuePage(total=len(terms), offset=offset, limit=limit, status=status, target=target,
                     local_system=local_system, department=department, terms=shown)  # fmt: skip


def _text(value: Any) -> str | None:
    """A cell of the store's queue frame: None for NULL/NaN."""
    return None if value is None or pd.isna(value) else str(value)


def target_systems(store: Any) -> list[str]:
    """The code systems loaded in the store (their names, once)."""
    return sorted({i.name for i in store.code_systems()})


def known_local_systems(store: Any) -> list[tuple[str, str]]:
    """(name, target) of every local system, by name."""
    query = select(db.local_system.c.name, db.local_system.c.target).order_by("name")
    with store.engine.connect() as conn:
        return [(r.name, r.target) for r in conn.execute(query)]


def term_mappings(
    store: Any, local_system: str, code: str, name: str, target: str
) -> list[Mapping]:
    """Every mapping of one local term into ``target``, whatever its status."""
    query = db.VIEW.where(
        db.local_system.c.name == local_system.strip(),
        db.local_term.c.local_code == code.strip(),
        db.local_term.c.local_name == name.strip(),
        db.mapping.c.target_system == target,
    ).order_by(db.mapping.c.id)
    with store.engine.connect() as conn:
        return [Mapping.of(r) for r in conn.execute(query).mappings()]


def _known_code(store: Any, target: str, code: str) -> None:
    """404 unless ``code`` is in the current version of ``target`` (decisions use current codes)."""
    with store.engine.connect() as conn:
        system = db.system_row(conn, target)
        found = conn.execute(
            select(db.concept.c.id).where(
                db.concept.c.system_id == system.id, db.concept.c.code == code
            )
        ).first()
    if found is None:
        raise HTTPException(404, f"{target} {system.version} has no code {code} / 无此编码")


def _term_exists(store: Any, local_system: str, code: str, name: str) -> bool:
    query = (
        select(func.count())
        .select_from(db.local_term.join(db.local_system))
        .where(
            db.local_system.c.name == local_system.strip(),
            db.local_term.c.local_code == code.strip(),
            db.local_term.c.local_name == name.strip(),
        )
    )
    with store.engine.connect() as conn:
        return bool(conn.execute(query).scalar())


_MATCHERS: dict[tuple, Any] = {}
_MATCHING = threading.Lock()  # one build per system; the matcher's scratch rows are not shared


def _explain(store: Any, terms: list[Term]) -> None:
    """Fill each candidate's ``why`` from the matcher (the store keeps scores, not reasons)."""
    for target in {t.target for t in terms}:
        mine = [t for t in terms if t.target == target and t.candidates]
        if not mine:
            continue
        info = store.info(target)
        key = (info.name, info.version, info.source, info.loaded, info.loaded_at)
        with _MATCHING:
            matcher = _MATCHERS.get(key)
            if matcher is None:
                from hutong.terminologies.matcher import Matcher

                matcher = _MATCHERS[key] = Matcher(store.code_system(target))
            found = [matcher.suggest(t.local_name or None, t.local_code or None, EXPLAIN_TOP)
                     for t in mine]  # fmt: skip
        for term, candidates in zip(mine, found, strict=True):
            why = {c.code: c.why for c in candidates}
            for c in term.candidates:
                c.why = (
                    why.get(c.code)
                    or f"不在匹配器前 {EXPLAIN_TOP} 名 not in the matcher's top {EXPLAIN_TOP}"
                )


# -- decisions ----------------------------------------------------------------------------------


def _decision(
    store: Any, mapping_id: int, action: str, user: User, version: int, code, comment
) -> Mapping:
    try:
        return store.decide(mapping_id, action, user.username, version, code=code, comment=comment)
    except MappingConflict as exc:
        now = store.mapping(mapping_id)
        raise HTTPException(409, _conflict_detail(now, exc.expected, exc.by, exc.at)) from exc
    except ValueError as exc:  # the mapping and the code are checked: the rest is a state clash
        raise HTTPException(409, f"无法执行 refused: {exc}") from exc


def _mapping(store: Any, mapping_id: int) -> Mapping:
    try:
        return store.mapping(mapping_id)
    except ValueError:
        raise HTTPException(404, f"no mapping {mapping_id} / 没有映射 {mapping_id}") from None


def _stale(store: Any, now: Mapping, seen: int) -> HTTPException:
    last = store.history(now.id)[-1]
    return HTTPException(409, _conflict_detail(now, seen, last["actor"], last["at"]))


def _conflict_detail(now: Mapping, seen: int, by: str, at: datetime) -> dict[str, Any]:
    when = f"{at:%Y-%m-%d %H:%M:%S} UTC"
    message = (
        f"冲突：映射 {now.id}（{now.local_name or now.local_code} → {now.code}）"
        f"已被 {by} 于 {when} 修改，您看到的是第 {seen} 版，"
        f"当前为第 {now.version} 版（{now.status}），请刷新后重新决定 / "
        f"conflict: mapping {now.id} was changed by {by} at {when}; you had version {seen}, "
        f"it is now version {now.version} ({now.status}): reload it and decide again"
    )
    return ConflictDetail(message=message, kind="stale", mapping_id=now.id, your_version=seen,
                          current_version=now.version, changed_by=by, changed_at=at,
                          status=now.status, code=now.code).model_dump(mode="json")  # fmt: skip


def _refuse_second_approval(store: Any, m: Mapping) -> None:
    """409 when another candidate of the term is approved: changing it takes an explicit unreview
    (the store would demote it silently, and whoever approved it would never know)."""
    for other in term_mappings(store, m.local_system, m.local_code, m.local_name, m.target):
        if other.id != m.id and other.status == "approved":
            message = (
                f"冲突：该术语已由 {other.reviewer} 批准为 {other.code} {other.display}（映射 "
                f"{other.id}，第 {other.version} 版）；如需更换请先撤销 / conflict: "
                f"{other.reviewer} already approved {other.code} for this term (mapping "
                f"{other.id}, version {other.version}); unreview it first to change it"
            )
            raise HTTPException(409, ConflictDetail(
                message=message, kind="approved", mapping_id=other.id,
                current_version=other.version, changed_by=other.reviewer,
                changed_at=other.updated_at, status=other.status, code=other.code,
            ).model_dump(mode="json"))  # fmt: skip


def _decided(m: Mapping) -> HTTPException:
    message = (
        f"映射 {m.id}（{m.code}）已是 {m.status}（{m.reviewer or m.author}），评论请用标记附带 / "
        f"mapping {m.id} ({m.code}) is already {m.status} by {m.reviewer or m.author}: "
        "flag it with your comment to ask again"
    )
    return HTTPException(409, ConflictDetail(
        message=message, kind="decided", mapping_id=m.id, current_version=m.version,
        changed_by=m.reviewer or m.author, changed_at=m.updated_at, status=m.status, code=m.code,
    ).model_dump(mode="json"))  # fmt: skip


_QUIET = {"updated_at", "version", "created_at", "id", "local_term_id"}


def _entry(entry: dict[str, Any]) -> HistoryEntry:
    before, after = entry["before"] or {}, entry["after"] or {}
    fields = [k for k in after if k not in _QUIET and before.get(k) != after.get(k)]
    action = entry["action"]
    if action in KEEP.values() and "status" not in fields and "comment" in fields:
        action = "comment"  # a comment is stored as a decision that keeps the status
    return HistoryEntry(
        at=entry["at"], actor=entry["actor"], action=action, version=after.get("version"),
        changes=[Change(field=k, before=before.get(k), after=after.get(k)) for k in fields],
    )  # fmt: skip
