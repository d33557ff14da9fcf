"""Where a run's memory comes from: Arrow's buffers from the C library's allocator, and that
allocator keeping what is freed for the next allocation.

A run makes and drops its tables by the hundred megabytes, partition after partition. pyarrow's
default, mimalloc, hands freed memory back to the system soon after, and glibc gives back large
blocks at once (each its own mapping) and the top of its heap when it frees; the next buffer
then faults its pages in again, and in the virtual machines hutong is measured on a page fault
costs microseconds (the partitions spent a fifth of their CPU in the kernel). Measured here
(``make bench``'s scripts, 2 cores): 20,000 HL7 messages to FHIR NDJSON, system time 1.6 ->
0.7 s and the path ~10 % faster; 1M cases through face sheet, QC and grouping ~130 -> ~125 s,
at the same peak memory. The run sets both before its workers fork, so they share them; a
user's ``ARROW_DEFAULT_MEMORY_POOL`` or glibc tunables win.
"""

from __future__ import annotations

import ctypes
import os

ENVIRONMENT = "ARROW_DEFAULT_MEMORY_POOL"  # Arrow's own setting: when a user gives it, it wins
# glibc's mallopt() parameters (malloc.h) and the values a run uses: blocks below KEEP come
# from the heap, not a mapping of their own, and up to KEEP freed at its top stays mapped
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
KEEP = 512 * 2**20
PAD = 64 * 2**20  # the heap grows by this much at a time


def use_system_allocator() -> str:
    """Make the C library's allocator pyarrow's default pool, unless ``ARROW_DEFAULT_MEMORY_POOL``
    names one, and have glibc keep freed memory (:func:`keep_freed_memory`); return the pool in
    use (``system``, ``mimalloc``, ``jemalloc``)."""
    import pyarrow as pa

    if not os.environ.get(ENVIRONMENT):
        pa.set_memory_pool(pa.system_memory_pool())
    keep_freed_memory()
    return pa.default_memory_pool().backend_name


def keep_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds to :data:`KEEP` (``mallopt``); False where the C
    library is not glibc, or when the user tuned it already (``GLIBC_TUNABLES``, ``MALLOC_*_``)."""
    if "GLIBC_TUNABLES" in os.environ or any(
        k.startswith("MALLOC_") and k.endswith("_") for k in os.environ
    ):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (macOS, musl without it): nothing to tune
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    settings = ((M_MMAP_THRESHOLD, KEEP), (M_TRIM_THRESHOLD, KEEP), (M_TOP_PAD, PAD))
    return all(mallopt(param, value) == 1 for param, value in settings)
