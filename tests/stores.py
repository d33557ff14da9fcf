"""Store fixtures: every store test runs on SQLite (a temp file) and on PostgreSQL (own schema).

Test modules import the ``*_fixture`` functions; pytest knows them as ``store``, ``new_store``
and ``store_url``.

PostgreSQL is ``$HUTONG_TEST_PG`` or the CI server on 127.0.0.1:5432; each store gets a fresh
schema (``t_<uuid>``, dropped afterwards) so parallel tests never meet. When the server is
unreachable the PostgreSQL half skips, and fails under ``CI=true``.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from conftest import IN_CI
from hutong.terminologies.codesystem import DIAGNOSIS, CodeSystem, Concept, sample_code_system
from hutong.terminologies.store import Store

PG_URL = os.environ.get("HUTONG_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
LOCAL = "vendor-a:diagnosis"


@functools.cache
def _admin() -> sa.Engine:
    return sa.create_engine(PG_URL, poolclass=NullPool, connect_args={"connect_timeout": 3})


@functools.cache
def _pg_problem() -> str | None:
    try:
        with _admin().connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # any failure to connect means "no server here"
        return f"PostgreSQL not reachable at {PG_URL}: {str(exc).splitlines()[0]}"
    return None


def need_postgres() -> None:
    """Skip (or fail under CI=true) when the PostgreSQL server is unreachable."""
    if problem := _pg_problem():
        if IN_CI:
            pytest.fail(f"CI=true but {problem}")
        pytest.skip(problem)


def _fresh_schema() -> tuple[str, str]:
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with _admin().begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    return schema, f"{PG_URL}?options={quote(f'-csearch_path={schema}')}"


def _drop_schema(schema: str) -> None:
    with _admin().begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))


@pytest.fixture(name="store_url", params=["sqlite", "postgresql"])
def store_url_fixture(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Callable[[], str]]:
    """A maker of URLs of empty stores on the parametrised backend."""
    schemas: list[str] = []

    def make() -> str:
        if request.param == "sqlite":
            return f"sqlite:///{(tmp_path / f'store-{uuid.uuid4().hex[:8]}.db').as_posix()}"
        need_postgres()
        schema, url = _fresh_schema()
        schemas.append(schema)
        return url

    yield make
    for schema in schemas:
        _drop_schema(schema)


@pytest.fixture(name="new_store")
def new_store_fixture(store_url: Callable[[], str]) -> Iterator[Callable[[], Store]]:
    """A maker of empty stores (closed after the test)."""
    opened: list[Store] = []

    def make() -> Store:
        opened.append(Store(store_url()))
        return opened[-1]

    yield make
    for store in opened:
        store.close()


@pytest.fixture(name="store")
def store_fixture(new_store: Callable[[], Store]) -> Store:
    """A store holding the sample ICD-10 医保版 2.0 list (with its gray codes)."""
    fresh = new_store()
    fresh.save_code_system(sample_code_system(DIAGNOSIS))
    return fresh


def terms(*rows: tuple[str | None, str | None, int]) -> pd.DataFrame:
    """A batch of local terms as an export scan would count them."""
    return pd.DataFrame(
        [(code, name, count, f"his.csv:{i + 2}") for i, (code, name, count) in enumerate(rows)],
        columns=["local_code", "local_name", "count", "example"],
    )


def next_version(base: CodeSystem, version: str, renamed: dict[str, str], retired: set[str]):
    """``base`` as a new version with some names changed and some codes retired."""
    concepts = {
        code: Concept(c.code, renamed.get(code, c.display), c.parent, c.chapter, c.active, c.gray)
        for code, c in base.concepts.items()
        if code not in retired
    }
    return CodeSystem(base.id, version, f"test:{version}", concepts)


def decide_after_barrier(
    url: str, mapping_id: int, action: str, user: str, barrier: Any, results: Any
) -> None:
    """Read a mapping, wait for the other coder, then decide: run in a spawned process."""
    from hutong.terminologies.store import MappingConflict, Store

    with Store(url) as store:
        seen = store.mapping(mapping_id)
        barrier.wait(timeout=60)
        try:
            store.decide(mapping_id, action, user, seen.version)
            results.put((user, "ok", seen.version))
        except MappingConflict as exc:
            results.put((user, "conflict", str(exc)))
        except Exception as exc:
            results.put((user, "error", repr(exc)))
