"""A run takes Arrow's buffers from the C library's allocator, unless the user named a pool.

Each case runs in a fresh interpreter: the pool is process-wide, and the test process keeps its
own."""

from __future__ import annotations

import os
import subprocess
import sys

SHOW = (
    "import pyarrow as pa; from hutong.allocator import use_system_allocator; "
    "before = pa.default_memory_pool().backend_name; print(before, use_system_allocator())"
)


def pools(environment: dict[str, str]) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    done = subprocess.run(
        [sys.executable, "-c", SHOW], env={**env, **environment}, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_the_system_allocator_replaces_the_default():
    before, after = pools({})
    assert after == "system"
    assert before != "system"  # pyarrow's own default (mimalloc or jemalloc) was in use


def test_a_pool_the_user_names_is_kept():
    assert pools({"ARROW_DEFAULT_MEMORY_POOL": "mimalloc"}) == ["mimalloc", "mimalloc"]
