"""The loop every adapter's fuzz harness shares: mutate, read, count outcomes, keep a failing
input for replay. ``HUTONG_FUZZ_EXAMPLES`` sets the budget (200 in ``make test``, 10,000 in
``make fuzz``); ``HUTONG_FUZZ_ONLY=N`` replays example N."""

from __future__ import annotations

import os
import resource
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

EXAMPLES = int(os.environ.get("HUTONG_FUZZ_EXAMPLES", "200"))
ONLY = os.environ.get("HUTONG_FUZZ_ONLY")


def fuzz(
    name: str,
    tmp_path: Path,
    example: Callable[[int], tuple[str, bytes, list[str]]],
    check: Callable[[Path], Counter],
) -> Counter:
    """Run ``check`` on each mutated input ``example(i)`` gives (file name, bytes, mutations);
    any exception fails with the example number and the input kept beside the test folder."""
    indices = [int(ONLY)] if ONLY else range(EXAMPLES)
    outcomes: Counter = Counter()
    start = time.perf_counter()
    for i in indices:
        file_name, data, names = example(i)
        path = tmp_path / file_name
        path.write_bytes(data)
        try:
            outcomes += check(path)
        except Exception as err:
            kept = tmp_path.parent / f"fuzz_{name}_failing_{i}_{file_name}"
            kept.write_bytes(data)
            raise AssertionError(
                f"example {i} ({file_name}: {'+'.join(names)}) failed: {err!r}; "
                f"input kept at {kept}"
            ) from err
        path.unlink()
    took = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10
    print(
        f"\nfuzz_{name}: {len(indices)} examples in {took:.1f}s, peak RSS {peak} MiB: "
        f"{dict(sorted(outcomes.items()))}"
    )
    if len(indices) >= 100:  # the mutations reach both the converters and the reject path
        assert outcomes["converted"] > 0 and sum(outcomes.values()) > outcomes["converted"]
    return outcomes
