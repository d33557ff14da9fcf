"""Coders' work on mappings: propose candidates, decide, bulk-approve, re-apply after a new version.

Every change to a mapping bumps its row version and appends an audit entry (when, who, what,
the row before and after) in the same transaction. A decision names the row version the coder
saw; if someone else changed the row since, the decision is refused with
:class:`MappingConflict` instead of silently overwriting their work. A local term has at most
one *applied* mapping (approved or auto) per target system: approving another candidate demotes
the previous one to ``unreviewed`` (audited as ``demote``); the database enforces the rule too.

The :class:`Curation` methods are the transactions; the audited row changes they are made of
live in :mod:`hutong.terminologies.tables` (the importers in ``conceptmap`` use them too).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from typing import Any

import pandas as pd
from sqlalchemy import Connection, and_, exists, func, select, true
from sqlalchemy.orm import aliased

from hutong.terminologies import tables as db
from hutong.terminologies.tables import (
    APPLIED,
    JOINED,
    STATUSES,
    VIEW,
    MappingConflict,
    add_mapping,
    as_utc,
    change,
    check_equivalence,
    clean,
    conflict,
    demote_others,
    displays,
    lock_mapping,
    lock_term,
    unknown_codes,
)

__all__ = ["Curation", "Mapping", "MappingConflict", "ReapplyReport"]

ACTIONS = {
    "approve": "approved",
    "reject": "rejected",
    "flag": "flagged",
    "ignore": "ignored",
    "unreview": "unreviewed",
}
APPROVED_COLUMNS = [
    "local_system", "local_code", "local_name", "code", "display", "status", "score",
]  # fmt: skip
REAPPLY_COLUMNS = [
    "mapping_id", "local_system", "local_code", "local_name", "code", "status",
    "old_version", "new_version", "old_display", "new_display", "outcome",
]  # fmt: skip
_BY_SCORE = (db.mapping.c.score.is_(None), db.mapping.c.score.desc(), db.mapping.c.id)


@dataclass(frozen=True)
class Mapping:
    """One mapping as a coder sees it: the local term, the target code and its review state."""

    id: int
    local_system: str
    local_code: str
    local_name: str
    target: str
    target_version: str
    code: str
    display: str
    status: str
    equivalence: str
    score: float | None
    author: str
    reviewer: str | None
    comment: str | None
    created_at: datetime
    updated_at: datetime
    version: int

    @classmethod
    def of(cls, row: Any) -> Mapping:
        fields = {k: row[k] for k in cls.__dataclass_fields__ if k != "target"}
        fields.update(created_at=as_utc(row["created_at"]), updated_at=as_utc(row["updated_at"]))
        return cls(target=row["target_system"], **fields)


@dataclass
class ReapplyReport:
    """What re-applying mappings to a new code-system version did, one row per mapping."""

    system: str
    version: str
    rows: pd.DataFrame

    @property
    def counts(self) -> dict[str, int]:
        outcomes = self.rows["outcome"]
        return {o: int((outcomes == o).sum()) for o in ("moved", "renamed", "retired")}


# -- the transactions ---------------------------------------------------------------------------


class Curation:
    """The mapping side of :class:`~hutong.terminologies.store.Store`."""

    _write: Callable[[], AbstractContextManager[Connection]]
    _read: Callable[[], AbstractContextManager[Connection]]

    def propose(
        self,
        local_system: str,
        local_code: str | None,
        local_name: str | None,
        target: str,
        candidates: Sequence[tuple[str, str, float | None]],
        author: str = "hutong",
        status: str = "unreviewed",
        equivalence: str = "equivalent",
    ) -> list[Mapping]:
        """Add candidate codes for a local term; returns all its mappings into ``target``.

        With ``status="auto"`` (accepted by score) the first candidate becomes ``auto`` unless
        the term already has an applied mapping; the others are ``unreviewed``. A candidate
        already proposed keeps its row (a coder may have decided it). Displays come from the
        store's current version of ``target``; a code it lacks is an error.
        """
        if status not in ("unreviewed", "auto"):
            raise ValueError(f"propose: status must be 'unreviewed' or 'auto', not {status!r}")
        check_equivalence(equivalence)
        codes = [clean(c[0]) for c in candidates]
        with self._write() as conn:
            system = db.system_row(conn, target)
            term = db.term_id(conn, local_system, local_code, local_name, target)
            lock_term(conn, term)
            names = displays(conn, system, codes)
            if unknown := [c for c in codes if c not in names]:
                raise unknown_codes(system, unknown)
            mine = (db.mapping.c.local_term_id == term, db.mapping.c.target_system == target)
            existing = {
                r["code"]: r for r in conn.execute(select(db.mapping).where(*mine)).mappings()
            }
            applied = any(r["status"] in APPLIED for r in existing.values())
            for rank, (code, candidate) in enumerate(zip(codes, candidates, strict=True)):
                auto = status == "auto" and rank == 0 and not applied
                score = None if candidate[2] is None else float(candidate[2])
                if code in existing:
                    if auto and existing[code]["status"] == "unreviewed":
                        change(conn, existing[code], {"status": "auto"}, author, "auto")
                    continue
                values = {
                    "local_term_id": term, "target_system": target,
                    "target_version": system.version, "code": code, "display": names[code],
                    "status": "auto" if auto else "unreviewed", "equivalence": equivalence,
                    "score": score, "author": author,
                }  # fmt: skip
                existing[code] = {"status": values["status"]}
                add_mapping(conn, values, author, "propose")
            rows = conn.execute(VIEW.where(*mine).order_by(*_BY_SCORE)).mappings().all()
        return [Mapping.of(r) for r in rows]

    def decide(
        self,
        mapping_id: int,
        action: str,
        user: str,
        expected_version: int,
        code: str | None = None,
        comment: str | None = None,
        equivalence: str | None = None,
    ) -> Mapping:
        """Record a coder's decision (approve, reject, flag, ignore, unreview) on a mapping.

        ``expected_version`` is the row version the coder saw; a newer row raises
        :class:`MappingConflict`. ``code`` replaces the candidate's code (a coder's
        correction). An approved code must be in the current version of the target system (the
        mapping moves to it); approving demotes the term's previously applied mapping.
        """
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
        if not clean(user):
            raise ValueError("a decision needs the deciding user")
        if equivalence is not None:
            check_equivalence(equivalence)
        with self._write() as conn:
            row = lock_mapping(conn, mapping_id)
            if row["version"] != expected_version:
                raise conflict(conn, mapping_id, expected_version)
            values: dict[str, Any] = {"status": ACTIONS[action], "reviewer": user}
            if comment is not None:
                values["comment"] = comment
            if equivalence is not None:
                values["equivalence"] = equivalence
            if code is not None and clean(code) != row["code"]:
                values |= _recode(conn, row, clean(code))
            elif values["status"] == "approved":  # what a run applies must be a current code
                values |= _recode(conn, row, row["code"])
            merged = {**row, **values}
            if merged["equivalence"] in ("narrower", "inexact") and not merged["comment"]:
                raise ValueError(  # FHIR R4 invariant cmd-1
                    f"mapping {mapping_id}: a {merged['equivalence']} mapping needs a comment "
                    "saying what differs"
                )
            if values["status"] == "approved":
                demote_others(conn, row, user)
            change(conn, row, values, user, action)
        return self.mapping(mapping_id)

    def mapping(self, mapping_id: int) -> Mapping:
        with self._read() as conn:
            row = conn.execute(VIEW.where(db.mapping.c.id == mapping_id)).mappings().first()
        if row is None:
            raise ValueError(f"no mapping {mapping_id} in the store")
        return Mapping.of(row)

    def mappings(
        self,
        local_system: str | None = None,
        target: str | None = None,
        statuses: Sequence[str] | None = None,
    ) -> list[Mapping]:
        """Every mapping (optionally of one local system, target, statuses), in a stable order."""
        query = VIEW.order_by(
            db.local_system.c.name, db.mapping.c.target_system, db.local_term.c.local_code,
            db.local_term.c.local_name, db.mapping.c.code,
        )  # fmt: skip
        if local_system is not None:
            query = query.where(db.local_system.c.name == local_system)
        if target is not None:
            query = query.where(db.mapping.c.target_system == target)
        if statuses is not None:
            query = query.where(db.mapping.c.status.in_(statuses))
        with self._read() as conn:
            if local_system is not None:
                db.local_system_id(conn, local_system)  # an unknown name is an error, not []
            if target is not None:
                db.system_row(conn, target)
            return [Mapping.of(r) for r in conn.execute(query).mappings()]

    def approved(self, target: str, local_system: str | None = None) -> pd.DataFrame:
        """The mappings a run applies (approved and auto; ``status`` says which), one per term.

        Columns ``local_system, local_code, local_name, code, display, status, score``; an
        absent local code or name is ``""`` (fill the batch's NaN with ``""`` before joining).
        """
        query = (
            select(*[_column(c) for c in APPROVED_COLUMNS])
            .select_from(JOINED)
            .where(db.mapping.c.target_system == target, db.mapping.c.status.in_(APPLIED))
            .order_by(
                db.local_system.c.name, db.local_term.c.local_code, db.local_term.c.local_name
            )
        )
        if local_system is not None:
            query = query.where(db.local_system.c.name == local_system)
        with self._read() as conn:
            db.system_row(conn, target)
            rows = conn.execute(query).all()
        return pd.DataFrame(rows, columns=APPROVED_COLUMNS)

    def queue(
        self,
        target: str | None = None,
        local_system: str | None = None,
        status: str = "unreviewed",
        limit: int | None = None,
        department: str | None = None,
    ) -> pd.DataFrame:
        """Mappings with ``status``, most frequent local terms first: the coders' work list.

        For ``unreviewed`` and ``flagged``, terms a coder already approved are left out, and
        ``unreviewed`` also lists recorded terms with no candidate yet (empty ``mapping_id``).
        ``department`` keeps the terms seen in that department (see :meth:`departments`).
        """
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}; one of {', '.join(STATUSES)}")
        on = [db.mapping.c.local_term_id == db.local_term.c.id]
        if target is not None:
            on.append(db.mapping.c.target_system == target)
        joined = db.local_term.join(
            db.local_system, db.local_term.c.local_system_id == db.local_system.c.id
        ).outerjoin(db.mapping, and_(*on))
        where = db.mapping.c.status == status
        if status == "unreviewed":
            home = db.local_system.c.target == target if target is not None else true()
            where = where | (db.mapping.c.id.is_(None) & home)
        if status in ("unreviewed", "flagged"):
            done = aliased(db.mapping)
            where = where & ~exists().where(
                done.c.local_term_id == db.local_term.c.id,
                done.c.target_system == db.mapping.c.target_system,
                done.c.status == "approved",
            )
        if local_system is not None:
            where = where & (db.local_system.c.name == local_system)
        if department is not None:
            seen = db.term_department
            where = where & exists().where(
                seen.c.local_term_id == db.local_term.c.id, seen.c.department == department
            )
        query = (
            select(
                db.mapping.c.id.label("mapping_id"), db.mapping.c.version,
                db.local_system.c.name.label("local_system"), db.local_term.c.local_code,
                db.local_term.c.local_name, db.local_term.c.frequency, db.local_term.c.example,
                func.coalesce(db.mapping.c.target_system, db.local_system.c.target).label("target"),
                db.mapping.c.code, db.mapping.c.display, db.mapping.c.score, db.mapping.c.status,
                db.mapping.c.comment,
            )
            .select_from(joined)
            .where(where)
            .order_by(
                db.local_term.c.frequency.desc(), db.local_system.c.name,
                db.local_term.c.local_code, db.local_term.c.local_name, *_BY_SCORE,
            )
            .limit(limit)
        )  # fmt: skip
        with self._read() as conn:
            result = conn.execute(query)
            frame = pd.DataFrame(result.all(), columns=list(result.keys()))
        return frame.astype({"mapping_id": "Int64", "version": "Int64", "score": "float64"})

    def departments(self, local_system: str | None = None) -> list[dict[str, Any]]:
        """The departments local terms were seen in: terms and their frequency in each, most
        frequent first."""
        seen = db.term_department
        query = (
            select(seen.c.department, func.count().label("terms"),
                   func.sum(seen.c.frequency).label("frequency"))
            .select_from(seen.join(db.local_term).join(db.local_system))
            .group_by(seen.c.department)
            .order_by(func.sum(seen.c.frequency).desc(), seen.c.department)
        )  # fmt: skip
        if local_system is not None:
            query = query.where(db.local_system.c.name == local_system)
        with self._read() as conn:
            return [
                {"department": d, "terms": int(t), "frequency": int(f)}
                for d, t, f in conn.execute(query)
            ]

    def history(self, mapping_id: int) -> list[dict[str, Any]]:
        """The audit entries of a mapping, oldest first: at, actor, action, before, after."""
        self.mapping(mapping_id)
        with self._read() as conn:
            rows = conn.execute(
                select(db.audit).where(db.audit.c.mapping_id == mapping_id).order_by(db.audit.c.id)
            ).mappings()
            return [{**dict(r), "at": as_utc(r["at"])} for r in rows]

    def stats(self, target: str | None = None, local_system: str | None = None) -> dict[str, Any]:
        """Mappings by status, and how much of the local terms (and of their use) is mapped;
        with ``target``, of the terms of the local systems that map into it (a procedure
        list's terms are not diagnoses left unmapped)."""
        terms = select(db.local_term).join(db.local_system)
        maps = select(db.mapping.c.status, func.count()).select_from(JOINED)
        if local_system is not None:
            terms = terms.where(db.local_system.c.name == local_system)
            maps = maps.where(db.local_system.c.name == local_system)
        applied = [db.mapping.c.local_term_id == db.local_term.c.id]
        applied.append(db.mapping.c.status.in_(APPLIED))
        if target is not None:
            terms = terms.where(db.local_system.c.target == target)
            maps = maps.where(db.mapping.c.target_system == target)
            applied.append(db.mapping.c.target_system == target)
        sub = terms.add_columns(exists().where(*applied).label("covered")).subquery()
        totals = select(
            func.count(),
            func.coalesce(func.sum(sub.c.frequency), 0),
            func.count().filter(sub.c.covered),
            func.coalesce(func.sum(sub.c.frequency).filter(sub.c.covered), 0),
        )
        with self._read() as conn:
            by_status = {s: n for s, n in conn.execute(maps.group_by(db.mapping.c.status))}
            n_terms, frequency, covered, covered_frequency = conn.execute(totals).one()
        return {
            "mappings": {s: by_status.get(s, 0) for s in STATUSES},
            "terms": n_terms,
            "frequency": int(frequency),
            "covered_terms": covered,
            "covered_frequency": int(covered_frequency),
            "coverage_terms": covered / n_terms if n_terms else 0.0,
            "coverage_frequency": int(covered_frequency) / int(frequency) if frequency else 0.0,
        }

    def bulk_approve(
        self,
        min_score: float,
        user: str,
        target: str | None = None,
        status_from: Sequence[str] = ("unreviewed", "auto"),
    ) -> int:
        """Approve each term's best candidate scoring at least ``min_score``, in one transaction.

        Terms a coder already approved are skipped, and so are ties for the best score (a
        coin toss is not a review) and codes no longer in the current version of the target.
        Returns the number approved; each one is audited.
        """
        if not clean(user):
            raise ValueError("bulk_approve needs the approving user")
        if bad := set(status_from) - (set(STATUSES) - {"approved"}):
            raise ValueError(f"bulk_approve: cannot approve from status {', '.join(sorted(bad))}")
        query = (
            select(db.mapping)
            .where(db.mapping.c.status.in_(status_from), db.mapping.c.score >= float(min_score))
            .order_by(db.mapping.c.local_term_id, db.mapping.c.target_system, *_BY_SCORE)
            .with_for_update()
        )
        if target is not None:
            query = query.where(db.mapping.c.target_system == target)
        count = 0
        with self._write() as conn:
            rows = conn.execute(query).mappings().all()
            decided = select(db.mapping.c.local_term_id, db.mapping.c.target_system)
            done = {
                tuple(r) for r in conn.execute(decided.where(db.mapping.c.status == "approved"))
            }
            systems = {n: db.system_row(conn, n) for n in {r["target_system"] for r in rows}}
            current = {  # codes retired since they were proposed are left to a coder
                n: displays(conn, system, [r["code"] for r in rows])
                for n, system in systems.items()
            }
            for key, group in groupby(rows, lambda r: (r["local_term_id"], r["target_system"])):
                best, *rest = list(group)
                name = current[key[1]].get(best["code"])
                if key in done or name is None or (rest and rest[0]["score"] == best["score"]):
                    continue
                demote_others(conn, best, user)
                values = {"status": "approved", "reviewer": user, "display": name}
                values["target_version"] = systems[key[1]].version
                change(conn, best, values, user, "bulk-approve")
                count += 1
        return count

    def reapply(self, name: str, new_version: str, user: str) -> ReapplyReport:
        """Carry applied mappings into a newly loaded version of ``name``; flag what changed.

        Same code and name: moved to the new version. Same code, new name: moved, flagged
        with ``name changed: old → new``. Code absent from the new version: flagged as retired
        (left on its old version). Only approved and auto mappings are touched.
        """
        report = []
        with self._write() as conn:
            system = db.system_row(conn, name, new_version)
            query = VIEW.where(
                db.mapping.c.target_system == name,
                db.mapping.c.target_version != new_version,
                db.mapping.c.status.in_(APPLIED),
            ).order_by(db.mapping.c.id)
            rows = conn.execute(query.with_for_update(of=db.mapping)).mappings().all()
            names = displays(conn, system, [r["code"] for r in rows])
            for row in rows:
                old, new = row["display"], names.get(row["code"])
                values: dict[str, Any] = {"target_version": new_version}
                if new is None:
                    outcome, values = "retired", {"status": "flagged"}
                    note = f"retired: {row['code']} is not in {name} {new_version}"
                elif new != old:
                    outcome, note = "renamed", f"name changed: {old} → {new}"
                    values |= {"status": "flagged", "display": new}
                else:
                    outcome, note = "moved", None
                if note:
                    values["comment"] = f"{row['comment']}; {note}" if row["comment"] else note
                after = change(conn, row, values, user, "reapply")
                report.append(
                    {
                        "mapping_id": row["id"], "local_system": row["local_system"],
                        "local_code": row["local_code"], "local_name": row["local_name"],
                        "code": row["code"], "status": after["status"],
                        "old_version": row["target_version"], "new_version": new_version,
                        "old_display": old, "new_display": new, "outcome": outcome,
                    }
                )  # fmt: skip
        return ReapplyReport(name, new_version, pd.DataFrame(report, columns=REAPPLY_COLUMNS))


def _recode(conn: Connection, row: dict[str, Any], code: str) -> dict[str, Any]:
    """Values for ``code`` (a coder's correction, or the row's own) in the current version."""
    system = db.system_row(conn, row["target_system"])
    name = displays(conn, system, [code]).get(code)
    if name is None:
        raise unknown_codes(system, [code])
    if code == row["code"]:
        return {"display": name, "target_version": system.version}
    clash = conn.execute(
        select(db.mapping.c.id).where(
            db.mapping.c.local_term_id == row["local_term_id"],
            db.mapping.c.target_system == row["target_system"],
            db.mapping.c.code == code,
        )
    ).scalar()
    if clash is not None:
        raise ValueError(f"mapping {clash} already maps this term to {code}: decide that one")
    return {"code": code, "display": name, "target_version": system.version}


def _column(name: str) -> Any:
    if name == "local_system":
        return db.local_system.c.name.label("local_system")
    return db.local_term.c[name] if name.startswith("local_") else db.mapping.c[name]
