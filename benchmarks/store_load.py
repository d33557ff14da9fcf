"""Loading the full national ICD-10 医保版 2.0 list (33k concepts, gray codes) into the
terminology store, on SQLite and (when it answers) PostgreSQL, and searching it.

Usage: python benchmarks/store_load.py [--postgres URL]

Target: a coder's office loads a new list version in seconds, not minutes (≤ 10 s here).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa

from hutong.terminologies.codesystem import DIAGNOSIS, load_code_system
from hutong.terminologies.store import Store

SHARED = Path(os.environ.get("HUTONG_SHARED", Path(__file__).resolve().parents[2] / "shared"))
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def measure(url: str, national) -> tuple[float, float]:
    """Seconds to save the list and to run 100 searches."""
    with Store(url) as store:
        started = time.perf_counter()
        store.save_code_system(national)
        saved = time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(25):
            for query in ("I25.1", "gzdmzyyhxxzb", "冠状动脉", "E14.900x001"):
                store.search(query, DIAGNOSIS, limit=10)
        return saved, time.perf_counter() - started


def report(database: str, saved: float, searched: float) -> None:
    verdict = "pass" if saved <= 10 else "MISS"
    name = database + ":"
    print(f"{name:<12} save {saved:5.1f} s ({verdict}: ≤ 10 s), 100 searches {searched:5.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres", default=PG)
    args = parser.parse_args()
    national = load_code_system(DIAGNOSIS, SHARED / "reference" / "icd10-yb-2.0.txt")
    print(f"{len(national):,} concepts, {len(national.gray):,} gray codes")
    with tempfile.TemporaryDirectory() as tmp:
        saved, searched = measure(f"sqlite:///{tmp}/store.db", national)
    report("SQLite", saved, searched)
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    try:
        admin = sa.create_engine(args.postgres)
        with admin.begin() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    except sa.exc.OperationalError as exc:
        print(f"PostgreSQL: not measured ({exc.orig})")
        return
    try:
        url = f"{args.postgres}?options={quote(f'-csearch_path={schema}')}"
        saved, searched = measure(url, national)
        report("PostgreSQL", saved, searched)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))


if __name__ == "__main__":
    main()
