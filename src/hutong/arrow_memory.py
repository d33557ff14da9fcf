"""Arrow's allocator keeps the pages it frees (set before pyarrow loads).

Arrow allocates with mimalloc, which by default hands freed pages back to the system 10 ms
later. A partition frees and allocates again the same few hundred MB every second, so the
pages come straight back, each through a page fault that zeroes it: about 9 % of a
partition's time on the 2-core machine (``benchmarks/run_pipeline.py``, partitions phase
24.3 s against 26.7 s on 300k cases). Kept, they are reused: a worker's memory stays at its
largest partition's, which is what bounds a run anyway.

Only an environment variable reaches mimalloc's options, and only before pyarrow is first
imported (``hutong`` imports this first); a value the user set wins.
"""

from __future__ import annotations

import os

PURGE_DELAY = "MIMALLOC_PURGE_DELAY"  # ms before freed pages go back; -1: never


def keep_freed_pages() -> None:
    os.environ.setdefault(PURGE_DELAY, "-1")
