"""The store's tables (SQLModel), the DDL SQLModel cannot express, and the row operations.

Constraints live in the database, not only in Python, because a coding team may share one
PostgreSQL store from several processes: a local term needs a code or a name, a term has at most
one applied (approved or auto) mapping per target system, a code system name has one current
version, and the audit log refuses UPDATE and DELETE (triggers on SQLite and PostgreSQL).

Below the tables are the row-level operations every writer shares (look-ups by key, and
audited changes to mappings); they take a ``Connection`` and run inside the caller's
transaction.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Connection,
    DateTime,
    Index,
    Insert,
    UniqueConstraint,
    insert,
    select,
    text,
    update,
)
from sqlmodel import Field, SQLModel

STATUSES = ("unreviewed", "auto", "approved", "rejected", "flagged", "ignored")
APPLIED = ("approved", "auto")  # the statuses a run applies
# FHIR R4 ConceptMapEquivalence codes.
EQUIVALENCES = (
    "relatedto", "equivalent", "equal", "wider", "subsumes",
    "narrower", "specializes", "inexact", "unmatched", "disjoint",
)  # fmt: skip


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def utcnow() -> datetime:
    return datetime.now(UTC)


class CodeSystemRow(SQLModel, table=True):
    """One loaded version of a code system; ``is_current`` marks the version searches use."""

    __tablename__ = "code_system"
    __table_args__ = (
        UniqueConstraint("name", "version", name="uq_code_system_version"),
        Index(
            "uq_code_system_current", "name", unique=True,
            sqlite_where=text("is_current"), postgresql_where=text("is_current"),
        ),
    )  # fmt: skip

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True)
    version: str
    title: str = ""
    source: str = ""
    loaded: int = 0
    is_current: bool = False
    loaded_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class ConceptRow(SQLModel, table=True):
    """A code of one loaded version, with the pinyin initials of its display for search."""

    __tablename__ = "concept"
    __table_args__ = (UniqueConstraint("system_id", "code", name="uq_concept_code"),)

    id: int | None = Field(default=None, primary_key=True)
    system_id: int = Field(foreign_key="code_system.id", ondelete="CASCADE", index=True)
    code: str = Field(index=True)
    display: str
    parent: str | None = None
    chapter: str | None = None
    active: bool = True
    gray: bool = False
    initials: str = Field(default="", index=True)


class LocalSystemRow(SQLModel, table=True):
    """A hospital's local code list (``vendor-a:diagnosis``) and the system it maps into."""

    __tablename__ = "local_system"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    target: str
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class LocalTermRow(SQLModel, table=True):
    """A local (code, name) pair as seen in exports; ``""`` means absent, never NULL.

    Empty strings rather than NULLs keep the uniqueness rule meaningful (NULLs never collide).
    """

    __tablename__ = "local_term"
    __table_args__ = (
        UniqueConstraint("local_system_id", "local_code", "local_name", name="uq_local_term"),
        CheckConstraint("local_code <> '' OR local_name <> ''", name="ck_local_term_not_empty"),
    )

    id: int | None = Field(default=None, primary_key=True)
    local_system_id: int = Field(foreign_key="local_system.id", index=True)
    local_code: str = ""
    local_name: str = ""
    frequency: int = 0
    example: str | None = None


class TermDepartmentRow(SQLModel, table=True):
    """Where a local term was seen: its frequency per department (the stay's discharge
    department), so coders can work through one department's terms."""

    __tablename__ = "local_term_department"
    __table_args__ = (
        UniqueConstraint("local_term_id", "department", name="uq_local_term_department"),
    )

    id: int | None = Field(default=None, primary_key=True)
    local_term_id: int = Field(foreign_key="local_term.id", index=True)
    department: str = Field(index=True)
    frequency: int = 0


class MappingRow(SQLModel, table=True):
    """A candidate or decided mapping of a local term to a code of a target system.

    ``version`` is the row version for optimistic concurrency: every change bumps it, and a
    decision names the version the coder saw.
    """

    __tablename__ = "mapping"
    __table_args__ = (
        UniqueConstraint("local_term_id", "target_system", "code", name="uq_mapping_code"),
        CheckConstraint(_one_of("status", STATUSES), name="ck_mapping_status"),
        CheckConstraint(_one_of("equivalence", EQUIVALENCES), name="ck_mapping_equivalence"),
        Index(
            "uq_mapping_applied", "local_term_id", "target_system", unique=True,
            sqlite_where=text(_one_of("status", APPLIED)),
            postgresql_where=text(_one_of("status", APPLIED)),
        ),
    )  # fmt: skip

    id: int | None = Field(default=None, primary_key=True)
    local_term_id: int = Field(foreign_key="local_term.id", index=True)
    target_system: str = Field(index=True)
    target_version: str
    code: str
    display: str = ""
    status: str = Field(default="unreviewed", index=True)
    equivalence: str = "equivalent"
    score: float | None = None
    author: str = "hutong"
    reviewer: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    comment: str | None = None
    version: int = 1


class AuditRow(SQLModel, table=True):
    """One change to a mapping: when (UTC), who, what, and the row before and after."""

    __tablename__ = "audit"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    actor: str
    action: str
    mapping_id: int | None = Field(default=None, foreign_key="mapping.id", index=True)
    before: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    after: dict[str, Any] | None = Field(default=None, sa_type=JSON)


TABLES = [
    CodeSystemRow.__table__,
    ConceptRow.__table__,
    LocalSystemRow.__table__,
    LocalTermRow.__table__,
    MappingRow.__table__,
    AuditRow.__table__,
    TermDepartmentRow.__table__,
]
code_system, concept, local_system, local_term, mapping, audit, term_department = TABLES

_REFUSAL = "audit log is append-only / 审计日志只能追加"

_SQLITE_TRIGGERS = [
    f"CREATE TRIGGER IF NOT EXISTS audit_no_{op.lower()} BEFORE {op} ON audit "
    f"BEGIN SELECT RAISE(ABORT, '{_REFUSAL}'); END"
    for op in ("UPDATE", "DELETE")
]

_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION hutong_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION '{_REFUSAL}'; END $$
"""
_PG_TRIGGERS = {
    "audit_no_change": "BEFORE UPDATE OR DELETE ON audit FOR EACH ROW",
    "audit_no_truncate": "BEFORE TRUNCATE ON audit FOR EACH STATEMENT",
}


def create_schema(conn: Connection) -> None:
    """Create missing tables and the audit triggers, inside the caller's transaction."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        # Several processes may open a fresh store at once; DDL races end in duplicate-key errors.
        conn.execute(text("SELECT pg_advisory_xact_lock(72616)"))
    SQLModel.metadata.create_all(conn, tables=TABLES)
    if dialect == "sqlite":
        for statement in _SQLITE_TRIGGERS:
            conn.exec_driver_sql(statement)
    elif dialect == "postgresql":
        exists = text(
            "SELECT 1 FROM pg_trigger WHERE tgname = :name AND tgrelid = 'audit'::regclass"
        )
        for name, when in _PG_TRIGGERS.items():
            if conn.execute(exists, {"name": name}).first() is None:
                conn.exec_driver_sql(_PG_FUNCTION)
                conn.exec_driver_sql(
                    f"CREATE TRIGGER {name} {when} EXECUTE FUNCTION hutong_audit_append_only()"
                )


# -- look-ups by key, shared by the store, curation and the importers ----------------------


def clean(value: Any) -> str:
    """A local code or name as stored: stripped text, ``""`` for None/NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def as_utc(moment: datetime) -> datetime:
    """SQLite returns naive datetimes; everything the store writes is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def insert_ignoring(conn: Connection, table: Any) -> Insert:
    """An INSERT that skips rows already present (concurrent creators of the same key)."""
    return dialect_insert(conn)(table).on_conflict_do_nothing()


def dialect_insert(conn: Connection) -> Any:
    """The SQLite or PostgreSQL ``insert``, which add ON CONFLICT (the store runs on these two)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


def system_row(conn: Connection, name: str, version: str | None = None) -> Any:
    """The stored row of a code system (current version by default); unknown ones are errors."""
    rows = conn.execute(select(code_system).where(code_system.c.name == name)).all()
    if not rows:
        known = conn.execute(select(code_system.c.name).distinct().order_by("name")).scalars()
        raise ValueError(
            f"unknown code system {name!r}; the store has: {', '.join(known) or 'none'}"
        )
    pick = [r for r in rows if (r.version == version if version else r.is_current)]
    if not pick:
        versions = ", ".join(sorted(r.version for r in rows))
        raise ValueError(f"code system {name} has no version {version!r}; stored: {versions}")
    return pick[0]


def local_system_id(conn: Connection, name: str, target: str | None = None) -> int:
    """The id of a local system; created (mapping into ``target``) when first seen."""
    name = clean(name)
    if not name:
        raise ValueError("a local system needs a name (e.g. 'vendor-a:diagnosis')")
    if target is not None:
        system_row(conn, target)  # mapping into an unknown system is a typo, not a new system
        conn.execute(insert_ignoring(conn, local_system).values(name=name, target=target))
    found = conn.execute(select(local_system.c.id).where(local_system.c.name == name)).scalar()
    if found is None:
        known = conn.execute(select(local_system.c.name).order_by(local_system.c.name)).scalars()
        raise ValueError(
            f"unknown local system {name!r}; the store has: {', '.join(known) or 'none'}"
        )
    return found


def term_id(conn: Connection, system: str, code: Any, name: Any, target: str) -> int:
    """The id of a local term, created with frequency 0 when it was never recorded."""
    code, name = clean(code), clean(name)
    if not code and not name:
        raise ValueError(f"{system}: a local term needs a code or a name (both are empty)")
    system_id = local_system_id(conn, system, target)
    values = {"local_system_id": system_id, "local_code": code, "local_name": name}
    conn.execute(insert_ignoring(conn, local_term).values(**values))
    return conn.execute(
        select(local_term.c.id).where(*[local_term.c[k] == v for k, v in values.items()])
    ).scalar_one()


# -- audited changes to mappings: the building blocks of every writer ---------------------------

_MAPPING_KEYS = set(mapping.c.keys())

JOINED = mapping.join(local_term, mapping.c.local_term_id == local_term.c.id).join(
    local_system, local_term.c.local_system_id == local_system.c.id
)
VIEW = select(
    mapping,
    local_system.c.name.label("local_system"),
    local_term.c.local_code,
    local_term.c.local_name,
    local_term.c.frequency,
).select_from(JOINED)


class MappingConflict(RuntimeError):
    """A decision on a mapping that changed since the coder read it: reload and decide again."""

    def __init__(
        self, mapping_id: int, expected: int, current: int, by: str, at: datetime, what: str
    ):
        self.mapping_id, self.expected, self.current, self.by, self.at = (
            mapping_id, expected, current, by, at,
        )  # fmt: skip
        super().__init__(
            f"mapping {mapping_id} ({what}) was changed by {by} at {at:%Y-%m-%d %H:%M:%S} UTC "
            f"since you read it: you had version {expected}, it is now version {current}; "
            "reload it and decide again"
        )


def snapshot(row: Any) -> dict[str, Any]:
    """A mapping row as JSON for the audit log."""
    return {
        k: as_utc(v).isoformat() if isinstance(v, datetime) else v
        for k, v in dict(row).items()
        if k in _MAPPING_KEYS
    }


def add_mapping(conn: Connection, values: dict[str, Any], actor: str, action: str) -> int:
    """Insert a mapping (row version 1) and its audit entry; returns its id."""
    now = utcnow()
    row = {**values, "created_at": now, "updated_at": now, "version": 1}
    new_id = conn.execute(insert(mapping).values(**row)).inserted_primary_key[0]
    stored = conn.execute(select(mapping).where(mapping.c.id == new_id)).mappings().one()
    conn.execute(
        insert(audit).values(
            at=now, actor=actor, action=action, mapping_id=new_id, before=None,
            after=snapshot(stored),
        )
    )  # fmt: skip
    return new_id


def change(
    conn: Connection, row: Any, values: dict[str, Any], actor: str, action: str
) -> dict[str, Any]:
    """Update a mapping if it is still at ``row``'s version, bump the version, audit it."""
    now = utcnow()
    new = {**values, "updated_at": now, "version": row["version"] + 1}
    done = conn.execute(
        update(mapping)
        .where(mapping.c.id == row["id"], mapping.c.version == row["version"])
        .values(**new)
    )
    if done.rowcount != 1:
        raise conflict(conn, row["id"], row["version"])
    after = {**dict(row), **new}
    conn.execute(
        insert(audit).values(
            at=now, actor=actor, action=action, mapping_id=row["id"], before=snapshot(row),
            after=snapshot(after),
        )
    )  # fmt: skip
    return after


def conflict(conn: Connection, mapping_id: int, expected: int) -> MappingConflict:
    """The error for a stale decision, naming who changed the mapping last and when."""
    now = conn.execute(VIEW.where(mapping.c.id == mapping_id)).mappings().one()
    last = conn.execute(
        select(audit.c.actor, audit.c.at)
        .where(audit.c.mapping_id == mapping_id)
        .order_by(audit.c.id.desc())
        .limit(1)
    ).one()
    what = f"{now['local_system']} {now['local_code'] or '-'} {now['local_name']} → {now['code']}"
    return MappingConflict(mapping_id, expected, now["version"], last.actor, as_utc(last.at), what)


def lock_term(conn: Connection, term: int) -> None:
    """Serialise decisions on one local term (PostgreSQL; SQLite writers are serial anyway)."""
    conn.execute(select(local_term.c.id).where(local_term.c.id == term).with_for_update())


def lock_mapping(conn: Connection, mapping_id: int) -> dict[str, Any]:
    """The mapping row, locked with its term (term first, so two deciders never deadlock)."""
    term = conn.execute(select(mapping.c.local_term_id).where(mapping.c.id == mapping_id)).scalar()
    if term is None:
        raise ValueError(f"no mapping {mapping_id} in the store")
    lock_term(conn, term)
    query = select(mapping).where(mapping.c.id == mapping_id).with_for_update()
    return dict(conn.execute(query).mappings().one())


def demote_others(conn: Connection, row: Any, actor: str) -> int:
    """Return the term's other applied mappings into the same system to ``unreviewed``."""
    others = conn.execute(
        select(mapping).where(
            mapping.c.local_term_id == row["local_term_id"],
            mapping.c.target_system == row["target_system"],
            mapping.c.status.in_(APPLIED),
            mapping.c.id != row["id"],
        )
    ).mappings()
    count = 0
    for other in list(others):
        change(conn, other, {"status": "unreviewed", "reviewer": actor}, actor, "demote")
        count += 1
    return count


def displays(conn: Connection, system: Any, codes: Iterable[str]) -> dict[str, str]:
    """Code → display in one stored code-system version, for the codes it has."""
    wanted = sorted(set(codes))
    found: dict[str, str] = {}
    for start in range(0, len(wanted), 500):
        query = select(concept.c.code, concept.c.display).where(
            concept.c.system_id == system.id, concept.c.code.in_(wanted[start : start + 500])
        )
        found.update((code, name) for code, name in conn.execute(query))
    return found


def check_equivalence(equivalence: str) -> None:
    if equivalence not in EQUIVALENCES:
        raise ValueError(f"equivalence {equivalence!r} is not one of {', '.join(EQUIVALENCES)}")


def unknown_codes(system: Any, unknown: Sequence[str]) -> ValueError:
    shown = ", ".join(sorted(unknown)[:10]) + (" …" if len(unknown) > 10 else "")
    return ValueError(f"{system.name} {system.version} has no code(s) {shown}")
