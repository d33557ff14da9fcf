"""The workbench's people: local accounts with roles, server-side sessions, and a login audit.

Kept in the same database as the mappings (SQLite by default, PostgreSQL for a team), so one
backup holds the work and who did it. Passwords are hashed with Argon2id (argon2-cffi); a
session is a random token whose SHA-256 alone is stored, with its own CSRF token, and it ends
after :data:`SESSION_HOURS` or at logout. Every login attempt, good or bad, and every logout is
written to ``login_audit``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import CheckConstraint, DateTime, delete, insert, select, update
from sqlmodel import Field, SQLModel

from hutong.terminologies.store import Store
from hutong.terminologies.tables import utcnow

ROLES = ("coder", "reviewer", "admin")  # coders propose, reviewers approve, admins also manage
SESSION_HOURS = 12
MIN_PASSWORD = 8
_HASHER = PasswordHasher()
# A hash to verify against when the user is unknown, so a wrong name costs as long as a wrong
# password (no user enumeration by timing).
_DUMMY = _HASHER.hash("not a password of anyone")


class UserRow(SQLModel, table=True):
    """A workbench account."""

    __tablename__ = "app_user"
    __table_args__ = (CheckConstraint("role IN ('coder', 'reviewer', 'admin')", name="ck_role"),)

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True)
    display_name: str = ""
    role: str
    password_hash: str
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class SessionRow(SQLModel, table=True):
    """A signed-in browser or API client: the token's hash, its user and CSRF token."""

    __tablename__ = "app_session"

    token_hash: str = Field(primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    csrf: str
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    expires_at: datetime = Field(sa_type=DateTime(timezone=True))


class LoginAuditRow(SQLModel, table=True):
    """One login attempt or logout: when, who (as typed), the outcome and the client."""

    __tablename__ = "login_audit"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    username: str
    outcome: str  # ok | bad_password | unknown_user | inactive | logout
    client: str = ""


TABLES = [UserRow.__table__, SessionRow.__table__, LoginAuditRow.__table__]
users, sessions, login_audit = TABLES


class AccountError(ValueError):
    """A user that cannot be added (name taken, weak password, unknown role)."""


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: str
    display_name: str = ""

    @property
    def can_approve(self) -> bool:
        """Reviewers and admins decide; coders propose."""
        return self.role in ("reviewer", "admin")


@dataclass(frozen=True)
class Session:
    token: str  # the cookie value (only its hash is stored)
    csrf: str
    user: User


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def _user(row) -> User:
    return User(row["id"], row["username"], row["role"], row["display_name"])


class Accounts:
    """Users, sessions and the login audit, in a :class:`Store`'s database."""

    def __init__(self, store: Store) -> None:
        self.store = store
        with store._write() as conn:
            SQLModel.metadata.create_all(conn, tables=TABLES)

    def add_user(
        self, username: str, password: str, role: str = "coder", display_name: str = ""
    ) -> User:
        """Create an account; the password is stored as an Argon2id hash only."""
        name = username.strip()
        if not re.fullmatch(r"[A-Za-z0-9_.@-]{2,64}", name):
            raise AccountError(
                f"user name {username!r}: 2–64 letters, digits or _ . @ - / 用户名格式不符"
            )
        if role not in ROLES:
            raise AccountError(f"role {role!r}: one of {', '.join(ROLES)} / 角色无效")
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"password: at least {MIN_PASSWORD} characters / 密码至少 8 位")
        with self.store._write() as conn:
            if conn.execute(select(users.c.id).where(users.c.username == name)).first():
                raise AccountError(f"user {name} exists already / 用户已存在")
            values = {"username": name, "role": role, "display_name": display_name.strip()}
            values["password_hash"] = _HASHER.hash(password)
            new_id = conn.execute(insert(users).values(**values)).inserted_primary_key[0]
        return User(new_id, name, role, values["display_name"])

    def users(self) -> list[User]:
        with self.store._read() as conn:
            rows = conn.execute(select(users).order_by(users.c.username)).mappings()
            return [_user(r) for r in rows]

    def login(self, username: str, password: str, client: str = "") -> Session | None:
        """A new session for the right password, else None; the attempt is audited either way."""
        name = username.strip()
        with self.store._write() as conn:
            row = conn.execute(select(users).where(users.c.username == name)).mappings().first()
            outcome = "ok"
            if row is None:
                _verify(_DUMMY, password)
                outcome = "unknown_user"
            elif not _verify(row["password_hash"], password):
                outcome = "bad_password"
            elif not row["active"]:
                outcome = "inactive"
            conn.execute(
                insert(login_audit).values(username=name[:64], outcome=outcome, client=client)
            )
            if outcome != "ok":
                return None
            if _HASHER.check_needs_rehash(row["password_hash"]):
                new_hash = _HASHER.hash(password)
                conn.execute(
                    update(users).where(users.c.id == row["id"]).values(password_hash=new_hash)
                )
            token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
            now = datetime.now(UTC)
            conn.execute(delete(sessions).where(sessions.c.expires_at < now))
            conn.execute(
                insert(sessions).values(
                    token_hash=_hash_token(token),
                    user_id=row["id"],
                    csrf=csrf,
                    created_at=now,
                    expires_at=now + timedelta(hours=SESSION_HOURS),
                )
            )
        return Session(token, csrf, _user(row))

    def session(self, token: str | None) -> Session | None:
        """The live session of a cookie value (None when absent, unknown or expired)."""
        if not token:
            return None
        query = (
            select(sessions.c.csrf, sessions.c.expires_at, users)
            .join(users, users.c.id == sessions.c.user_id)
            .where(sessions.c.token_hash == _hash_token(token), users.c.active)
        )
        with self.store._read() as conn:
            row = conn.execute(query).mappings().first()
        if row is None or _aware(row["expires_at"]) < datetime.now(UTC):
            return None
        return Session(token, row["csrf"], _user(row))

    def logout(self, session: Session, client: str = "") -> None:
        with self.store._write() as conn:
            conn.execute(
                delete(sessions).where(sessions.c.token_hash == _hash_token(session.token))
            )
            conn.execute(
                insert(login_audit).values(
                    username=session.user.username, outcome="logout", client=client
                )
            )

    def audit(self, limit: int = 200) -> list[dict]:
        """The latest login attempts and logouts, newest first."""
        query = select(login_audit).order_by(login_audit.c.id.desc()).limit(limit)
        with self.store._read() as conn:
            return [
                {**dict(r), "at": _aware(r["at"]).isoformat()}
                for r in conn.execute(query).mappings()
            ]


def _verify(hashed: str, password: str) -> bool:
    try:
        return _HASHER.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def _aware(value: datetime) -> datetime:
    """SQLite gives naive datetimes back; they were written in UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
