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


def fresh(code: str, environment: dict[str, str]) -> list[str]:
    """What ``code`` prints in a new interpreter, none of the allocator settings inherited."""
    tuned = ("ARROW_DEFAULT_MEMORY_POOL", "GLIBC_TUNABLES")
    env = {k: v for k, v in os.environ.items() if k not in tuned and not k.startswith("MALLOC_")}
    done = subprocess.run(
        [sys.executable, "-c", code], env={**env, **environment}, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def pools(environment: dict[str, str]) -> list[str]:
    return fresh(SHOW, environment)


def test_the_system_allocator_replaces_the_default():
    before, after = pools({})
    assert after == "system"
    assert before != "system"  # pyarrow's own default (mimalloc or jemalloc) was in use


def test_a_pool_the_user_names_is_kept():
    assert pools({"ARROW_DEFAULT_MEMORY_POOL": "mimalloc"}) == ["mimalloc", "mimalloc"]


KEEP = "from hutong.allocator import keep_freed_memory; print(keep_freed_memory())"


def test_glibc_keeps_freed_memory_unless_the_user_tuned_it():
    assert fresh(KEEP, {}) == ["True"]  # Linux with glibc, as here and in CI
    assert fresh(KEEP, {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=0"}) == ["False"]
    assert fresh(KEEP, {"MALLOC_TRIM_THRESHOLD_": "0"}) == ["False"]
