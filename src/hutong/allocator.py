"""Which allocator Arrow's buffers come from in a run.

pyarrow's default, mimalloc, hands freed memory back to the system soon after, so the next
buffer faults its pages in again; a run makes and drops its tables by the hundred megabytes,
and in the virtual machines hutong is measured on a page fault costs microseconds. The C
library's allocator keeps freed memory for the next buffer. Measured here (``make bench``'s
scripts, 2 cores): 20,000 HL7 messages to FHIR NDJSON, system time 1.6 -> 0.7 s and the whole
path ~8 % faster; 100,000 cases through face sheet, QC and grouping ~3 % faster with ~18 % less
peak memory. The run sets it before its workers fork, so they share it.
"""

from __future__ import annotations

import os

ENVIRONMENT = "ARROW_DEFAULT_MEMORY_POOL"  # Arrow's own setting: when a user gives it, it wins


def use_system_allocator() -> str:
    """Make the C library's allocator pyarrow's default pool, unless ``ARROW_DEFAULT_MEMORY_POOL``
    names one; return the pool in use (``system``, ``mimalloc``, ``jemalloc``)."""
    import pyarrow as pa

    if not os.environ.get(ENVIRONMENT):
        pa.set_memory_pool(pa.system_memory_pool())
    return pa.default_memory_pool().backend_name
