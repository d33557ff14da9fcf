"""Importing hutong keeps Arrow's freed pages (set before pyarrow loads), unless the user set
mimalloc's purge delay themselves."""

from __future__ import annotations

import os
import subprocess
import sys

from hutong.arrow_memory import PURGE_DELAY

SHOW = (
    "import sys, hutong, pyarrow as pa, os; "
    "assert 'pyarrow' in sys.modules and pa.default_memory_pool() is not None; "
    f"print(os.environ[{PURGE_DELAY!r}])"
)


def run(env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", SHOW], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_hutong_keeps_freed_pages_by_default() -> None:
    env = {k: v for k, v in os.environ.items() if k != PURGE_DELAY}
    assert run(env) == "-1"


def test_the_users_own_setting_wins() -> None:
    assert run({**os.environ, PURGE_DELAY: "250"}) == "250"
