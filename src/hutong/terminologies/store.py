"""The terminology and curation store: code systems, local terms and coders' mappings in SQL.

One line to open it: ``Store()`` uses ``$HUTONG_DB`` (any SQLAlchemy URL, e.g. a PostgreSQL
server a coding team shares) or else a SQLite file in the user's data folder.

>>> store = Store("sqlite://")
>>> store.save_code_system(sample_code_system("icd10-yb-2.0")).loaded > 0
True
>>> [c.code for c in store.search("I25.1", "icd10-yb-2.0")][:1]
['I25.103']

SQLite runs in WAL mode with a busy timeout, and every write transaction starts with
``BEGIN IMMEDIATE``: two processes never both read-then-write the same snapshot, so a stale
decision surfaces as :class:`~hutong.terminologies.curation.MappingConflict`, not as
"database is locked". The mapping methods live in :mod:`hutong.terminologies.curation`.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from pypinyin import Style, lazy_pinyin
from sqlalchemy import (
    Connection,
    Engine,
    case,
    create_engine,
    delete,
    event,
    func,
    insert,
    make_url,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from hutong.terminologies.codesystem import CodeSystem, Concept, sample_code_system
from hutong.terminologies.coding import normalise_code
from hutong.terminologies.curation import Curation, Mapping, MappingConflict, ReapplyReport
from hutong.terminologies.tables import (
    as_utc,
    clean,
    code_system,
    concept,
    create_schema,
    dialect_insert,
    local_system_id,
    local_term,
    system_row,
    term_department,
)

__all__ = [
    "CodeSystemInfo",
    "Mapping",
    "MappingConflict",
    "ReapplyReport",
    "Store",
    "sample_code_system",
]


@dataclass(frozen=True)
class CodeSystemInfo:
    """What the store holds of one code-system version."""

    name: str
    version: str
    title: str
    source: str
    loaded: int
    current: bool
    loaded_at: datetime


def default_url() -> str:
    """``$HUTONG_DB``, else a SQLite file in the per-user data folder (created)."""
    if url := os.environ.get("HUTONG_DB"):
        return url
    from platformdirs import user_data_dir

    folder = Path(user_data_dir("hutong"))
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(folder / 'hutong.db').as_posix()}"


def initials(display: str) -> str:
    """Pinyin first letters of a name, for search: ``冠状动脉粥样硬化`` → ``gzdmzyyh``.

    Latin letters and digits are kept as typed (``IgA肾病`` → ``igasb``); punctuation is dropped.
    """
    text = unicodedata.normalize("NFKC", display)
    letters = "".join(lazy_pinyin(text, style=Style.FIRST_LETTER)).lower()
    return re.sub(r"[^a-z0-9]", "", letters)


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we emit BEGIN ourselves: _sqlite_begin
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout = 30000")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    write = conn.get_execution_options().get("hutong_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _engine(url: str) -> Engine:
    backend = make_url(url).get_backend_name()
    if backend not in {"sqlite", "postgresql"}:
        raise ValueError(f"the store runs on SQLite or PostgreSQL, not {backend} ({url})")
    if backend == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True)


class Store(Curation):
    """Code systems, local terms and curated mappings in one SQL database."""

    def __init__(self, url: str | None = None):
        self.url = url or default_url()
        self.engine = _engine(self.url)
        self._writer = self.engine.execution_options(hutong_write=True)
        with self._write() as conn:
            create_schema(conn)

    def __repr__(self) -> str:
        return f"Store({make_url(self.url).render_as_string(hide_password=True)!r})"

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` on SQLite); rolled back on any error."""
        with self._writer.begin() as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    # -- code systems ---------------------------------------------------------------------------

    def save_code_system(self, cs: CodeSystem, replace: bool = False) -> CodeSystemInfo:
        """Store a code system version in one transaction and make it the current version.

        Saving a name+version already stored is an error unless ``replace``; a concept the
        database refuses (a duplicate code, a missing name) leaves the store as it was.
        Crosswalk ``targets`` are not stored.
        """
        rows = [
            {
                "code": c.code, "display": c.display, "parent": c.parent, "chapter": c.chapter,
                "active": c.active, "gray": c.gray, "initials": initials(c.display or ""),
            }
            for c in cs.concepts.values()
        ]  # fmt: skip
        try:
            with self._write() as conn:
                old = conn.execute(
                    select(code_system).where(
                        code_system.c.name == cs.id, code_system.c.version == cs.version
                    )
                ).first()
                if old is not None and not replace:
                    raise ValueError(
                        f"code system {cs.id} {cs.version} is already stored ({old.loaded} "
                        f"concepts from {old.source}); pass replace=True to load it again"
                    )
                if old is not None:
                    conn.execute(delete(concept).where(concept.c.system_id == old.id))
                    conn.execute(delete(code_system).where(code_system.c.id == old.id))
                conn.execute(
                    update(code_system).where(code_system.c.name == cs.id).values(is_current=False)
                )
                system_id = conn.execute(
                    insert(code_system).values(
                        name=cs.id, version=cs.version, title=cs.title, source=cs.source,
                        loaded=len(rows), is_current=True, loaded_at=datetime.now(UTC),
                    )
                ).inserted_primary_key[0]  # fmt: skip
                if rows:
                    conn.execute(insert(concept), [{**r, "system_id": system_id} for r in rows])
        except IntegrityError as exc:
            raise ValueError(
                f"code system {cs.id} {cs.version} not saved (nothing changed): "
                f"{str(exc.orig).splitlines()[0]}"
            ) from exc
        return self.info(cs.id, cs.version)

    def info(self, name: str, version: str | None = None) -> CodeSystemInfo:
        """What the store holds of a code system (the current version unless ``version``)."""
        with self._read() as conn:
            return _info(system_row(conn, name, version))

    def code_systems(self) -> list[CodeSystemInfo]:
        """Every stored version, by name then load time."""
        with self._read() as conn:
            rows = conn.execute(
                select(code_system).order_by(code_system.c.name, code_system.c.loaded_at)
            ).all()
        return [_info(r) for r in rows]

    def code_system(self, name: str, version: str | None = None) -> CodeSystem:
        """A stored code system (the current version unless ``version``), concepts in load order."""
        with self._read() as conn:
            row = system_row(conn, name, version)
            found = conn.execute(
                select(concept).where(concept.c.system_id == row.id).order_by(concept.c.id)
            ).all()
        cs = CodeSystem(row.name, row.version, row.source, title=row.title)
        cs.concepts = {c.code: _concept(c) for c in found}
        return cs

    def mark_gray(
        self, name: str, codes: set[str], version: str | None = None, strict: bool = False
    ) -> set[str]:
        """Flag ``codes`` as gray (not to be uploaded); returns the codes the system lacks.

        Like :meth:`CodeSystem.mark_gray`, known codes are marked and unknown ones returned for
        the caller to report (gray lists often carry codes of other versions). With ``strict``,
        any unknown code is an error and nothing changes. Marking only adds: earlier gray
        flags stay.
        """
        with self._write() as conn:
            row = system_row(conn, name, version)
            known = set(
                conn.execute(select(concept.c.code).where(concept.c.system_id == row.id)).scalars()
            )
            unknown = set(codes) - known
            if strict and unknown:
                raise ValueError(
                    f"{name} {row.version} has no code(s) {', '.join(sorted(unknown)[:10])}"
                    f"{' …' if len(unknown) > 10 else ''}; no gray flag changed"
                )
            for chunk in _chunks(sorted(set(codes) & known), 500):
                conn.execute(
                    update(concept)
                    .where(concept.c.system_id == row.id, concept.c.code.in_(chunk))
                    .values(gray=True)
                )
        return unknown

    def search(
        self, text: str, system: str, limit: int = 20, version: str | None = None
    ) -> list[Concept]:
        """Concepts whose code starts with, name contains, or pinyin initials contain ``text``.

        ``I25.1`` (code prefix), ``冠状动脉`` (name), ``gzdmzyyh`` (initials of 冠状动脉粥样硬化).
        Ranked: exact code, exact name, code prefix (shorter codes first), name prefix,
        initials (exact, then prefix), then the rest, shorter names first within a rank.
        """
        query = text.strip()
        if not query:
            return []
        whens: list[tuple[Any, int]] = []
        matches = []
        if any("\u3400" <= ch <= "\u9fff" for ch in query):
            whens += [(concept.c.display == query, 1), (concept.c.display.startswith(query), 3)]
            matches.append(concept.c.display.contains(query, autoescape=True))
        else:
            code = normalise_code(query)
            whens += [(concept.c.code == code, 0), (concept.c.code.startswith(code), 2)]
            matches.append(concept.c.code.startswith(code, autoescape=True))
            letters = query.lower()
            if re.fullmatch(r"[a-z0-9]+", letters):
                whens.append((concept.c.initials == letters, 4))
                whens.append((concept.c.initials.startswith(letters, autoescape=True), 5))
                matches.append(concept.c.initials.contains(letters, autoescape=True))
        rank = case(*whens, else_=9)
        closeness = case(
            (rank.in_([0, 2]), func.length(concept.c.code)), else_=func.length(concept.c.display)
        )
        with self._read() as conn:
            row = system_row(conn, system, version)
            found = conn.execute(
                select(concept)
                .where(concept.c.system_id == row.id, or_(*matches))
                .order_by(rank, closeness, concept.c.code)
                .limit(limit)
            ).all()
        return [_concept(c) for c in found]

    # -- local terms ----------------------------------------------------------------------------

    def record_terms(self, local_system: str, target: str, terms: pd.DataFrame) -> int:
        """Add the terms seen in an export to ``local_system``, summing their frequencies.

        ``terms`` has columns ``local_code, local_name`` and optionally ``count`` (default 1),
        ``example`` (a locator, kept from the first sighting) and ``department`` (where the
        term was seen; counted per department too). Recording the same batch twice counts it
        twice: callers record each export once. Returns the number of distinct terms in the
        batch.
        """
        missing = {"local_code", "local_name"} - set(terms.columns)
        if missing:
            raise ValueError(f"record_terms: terms lack column(s) {', '.join(sorted(missing))}")
        frame = pd.DataFrame(
            {
                "local_code": terms["local_code"].map(clean),
                "local_name": terms["local_name"].map(clean),
                "count": terms["count"].fillna(1).astype(int) if "count" in terms else 1,
                "example": terms.get("example"),
                "department": terms["department"].map(clean) if "department" in terms else "",
            }
        )
        empty = frame.index[(frame["local_code"] == "") & (frame["local_name"] == "")]
        if len(empty):
            raise ValueError(
                f"{local_system}: {len(empty)} local term(s) with neither code nor name "
                f"(rows {', '.join(map(str, empty[:10]))}); nothing recorded"
            )
        grouped = frame.groupby(["local_code", "local_name"], sort=True, as_index=False).agg(
            frequency=("count", "sum"), example=("example", "first")
        )
        with self._write() as conn:
            system_id = local_system_id(conn, local_system, target)
            rows = [
                {
                    "local_system_id": system_id, "local_code": r.local_code,
                    "local_name": r.local_name, "frequency": int(r.frequency),
                    "example": None if pd.isna(r.example) else str(r.example),
                }
                for r in grouped.itertuples(index=False)
            ]  # fmt: skip
            _add_terms(conn, rows)
            _add_departments(conn, system_id, frame)
        return len(rows)


def _add_terms(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    upsert = dialect_insert(conn)(local_term)
    conn.execute(
        upsert.on_conflict_do_update(
            index_elements=["local_system_id", "local_code", "local_name"],
            set_={
                "frequency": local_term.c.frequency + upsert.excluded.frequency,
                "example": func.coalesce(local_term.c.example, upsert.excluded.example),
            },
        ),
        rows,
    )


def _add_departments(conn: Connection, system_id: int, frame: pd.DataFrame) -> None:
    """Add the batch's per-department frequencies of its terms (terms already recorded)."""
    seen = frame[frame["department"] != ""]
    if seen.empty:
        return
    counts = seen.groupby(["local_code", "local_name", "department"], sort=True)["count"].sum()
    ids = {
        (r.local_code, r.local_name): r.id
        for r in conn.execute(
            select(local_term.c.id, local_term.c.local_code, local_term.c.local_name).where(
                local_term.c.local_system_id == system_id
            )
        )
    }
    rows = [
        {"local_term_id": ids[(code, name)], "department": dept, "frequency": int(n)}
        for (code, name, dept), n in counts.items()
    ]
    upsert = dialect_insert(conn)(term_department)
    conn.execute(
        upsert.on_conflict_do_update(
            index_elements=["local_term_id", "department"],
            set_={"frequency": term_department.c.frequency + upsert.excluded.frequency},
        ),
        rows,
    )


def _info(row: Any) -> CodeSystemInfo:
    return CodeSystemInfo(
        row.name, row.version, row.title, row.source, row.loaded, bool(row.is_current),
        as_utc(row.loaded_at),
    )  # fmt: skip


def _concept(row: Any) -> Concept:
    return Concept(row.code, row.display, row.parent, row.chapter, bool(row.active), bool(row.gray))


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
