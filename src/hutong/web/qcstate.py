"""What coders did about QC findings: open, fixed or accepted, with who, when and why.

Kept in the store's database beside the mappings (one backup holds the work), keyed by the
run's name and the finding's stable key (:func:`hutong.web.runs.finding_key`). A finding
without a row is open at version 0. Every change names the version its author saw; a newer
row raises :class:`StaleState` (like the mappings' :class:`MappingConflict`), so two coders
marking the same finding never overwrite each other silently. Every change also appends a row
to ``qc_finding_audit`` in the same transaction; nothing ever updates or deletes an audit row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel

from hutong.terminologies.store import Store
from hutong.terminologies.tables import utcnow

STATUSES = ("open", "fixed", "accepted")


class FindingStateRow(SQLModel, table=True):
    """A finding's current state (absent: open, version 0)."""

    __tablename__ = "qc_finding_state"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'fixed', 'accepted')", name="ck_qc_status"),
    )

    run: str = Field(primary_key=True)
    finding_key: str = Field(primary_key=True)
    mdtrt_id: str = ""
    rule_id: str = ""
    status: str = "open"
    comment: str = ""
    username: str = ""
    at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    version: int = 1


class FindingAuditRow(SQLModel, table=True):
    """One change of a finding's state (append-only)."""

    __tablename__ = "qc_finding_audit"

    id: int | None = Field(default=None, primary_key=True)
    run: str = Field(index=True)
    finding_key: str = Field(index=True)
    at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    username: str
    old_status: str
    new_status: str
    comment: str = ""
    version: int


TABLES = [FindingStateRow.__table__, FindingAuditRow.__table__]
state_table, audit_table = TABLES


@dataclass(frozen=True)
class FindingState:
    run: str
    key: str
    status: str = "open"
    comment: str = ""
    username: str = ""
    at: str = ""  # ISO time of the last change ('' when never changed)
    version: int = 0


class StaleState(RuntimeError):
    """The finding changed since its author saw it; ``current`` is what it is now."""

    def __init__(self, current: FindingState, expected: int) -> None:
        super().__init__(
            f"finding {current.key} is at version {current.version}, not {expected}: "
            f"reload / 该问题已被他人修改（版本 {current.version}），请刷新"
        )
        self.current = current


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value is not None else ""


def _state(row) -> FindingState:
    return FindingState(row["run"], row["finding_key"], row["status"], row["comment"],
                        row["username"], _iso(row["at"]), row["version"])  # fmt: skip


class QcStates:
    """Finding states and their audit, in a :class:`Store`'s database."""

    def __init__(self, store: Store) -> None:
        self.store = store
        with store._write() as conn:
            SQLModel.metadata.create_all(conn, tables=TABLES)

    def states(self, run: str) -> dict[str, FindingState]:
        """Every finding of ``run`` that has been changed, by key (the rest are open)."""
        with self.store._read() as conn:
            rows = conn.execute(select(state_table).where(state_table.c.run == run)).mappings()
            return {r["finding_key"]: _state(r) for r in rows}

    def state(self, run: str, key: str) -> FindingState:
        with self.store._read() as conn:
            row = conn.execute(self._where(select(state_table), run, key)).mappings().first()
        return _state(row) if row is not None else FindingState(run, key)

    def mark(
        self,
        run: str,
        key: str,
        status: str,
        user: str,
        expected_version: int,
        comment: str | None = None,
        case: tuple[str, str] = ("", ""),
    ) -> FindingState:
        """Set a finding's status as ``user``, if it is still at ``expected_version``; else
        :class:`StaleState`. ``case`` (mdtrt_id, rule_id) is kept for reports on the table."""
        if status not in STATUSES:
            raise ValueError(f"status {status!r}: one of {', '.join(STATUSES)} / 状态无效")
        if not user:
            raise ValueError("a change needs its user / 需要操作人")
        now = utcnow()
        try:
            with self.store._write() as conn:
                row = conn.execute(self._where(select(state_table), run, key)).mappings().first()
                old = _state(row) if row is not None else FindingState(run, key)
                if old.version != expected_version:
                    raise StaleState(old, expected_version)
                values = {"status": status, "username": user, "at": now,
                          "version": expected_version + 1,
                          "comment": old.comment if comment is None else comment}  # fmt: skip
                if row is None:
                    conn.execute(insert(state_table).values(
                        run=run, finding_key=key, mdtrt_id=case[0], rule_id=case[1], **values
                    ))  # fmt: skip
                else:
                    done = conn.execute(
                        self._where(update(state_table), run, key)
                        .where(state_table.c.version == expected_version)
                        .values(**values)
                    )
                    if done.rowcount != 1:  # changed between our read and write (PostgreSQL)
                        raise StaleState(old, expected_version)
                conn.execute(insert(audit_table).values(
                    run=run, finding_key=key, at=now, username=user, old_status=old.status,
                    new_status=status, comment=values["comment"], version=values["version"],
                ))  # fmt: skip
        except IntegrityError:  # another writer created the row first
            raise StaleState(self.state(run, key), expected_version) from None
        return self.state(run, key)

    def history(self, run: str, key: str) -> list[dict]:
        """The finding's changes, oldest first."""
        query = (
            select(audit_table)
            .where(audit_table.c.run == run, audit_table.c.finding_key == key)
            .order_by(audit_table.c.id)
        )
        with self.store._read() as conn:
            rows = conn.execute(query).mappings().all()
        return [
            {"at": _iso(r["at"]), "username": r["username"], "old_status": r["old_status"],
             "new_status": r["new_status"], "comment": r["comment"], "version": r["version"]}
            for r in rows
        ]  # fmt: skip

    @staticmethod
    def _where(query, run: str, key: str):
        return query.where(state_table.c.run == run, state_table.c.finding_key == key)
