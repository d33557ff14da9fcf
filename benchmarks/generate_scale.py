"""How fast ``hutong samples generate`` writes, and whether its memory stays bounded.

Each vendor runs in a fresh process (peak RSS is per process), e.g.::

    .venv/bin/python benchmarks/generate_scale.py --cases 100000 --vendor vendor-a vendor-b hl7
    .venv/bin/python benchmarks/generate_scale.py --cases 1000000 --vendor vendor-b --workers 2

prints cases/s, wall time, peak RSS and output size per vendor. Memory is bounded when the
peak RSS at 1,000,000 cases is about the one at 100,000.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VENDORS = ("vendor-a", "vendor-b", "lis-a", "hl7")


def run_one(vendor: str, cases: int, seed: int, out: Path, workers: int) -> dict:
    """Generate in this process and measure it (peak RSS of this process and its workers)."""
    from hutong.synthetic import generate

    start = time.perf_counter()
    paths = generate(vendor, cases, seed, out, workers=workers)
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    worker_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "vendor": vendor,
        "cases": cases,
        "seconds": round(seconds, 1),
        "cases_per_s": round(cases / seconds),
        "workers": workers,
        "peak_rss_mib": round(peak_kib / 1024),
        "worker_rss_mib": round(worker_kib / 1024),
        "files": len(paths),
        "bytes": sum(p.stat().st_size for p in paths),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--vendor", nargs="+", default=list(VENDORS), choices=VENDORS)
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--out", type=Path, help="keep the files here (default: a temp dir)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(args.vendor[0], args.cases, args.seed, args.out, args.workers)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        for vendor in args.vendor:
            out = (args.out or Path(tmp)) / vendor
            command = [sys.executable, __file__, "--child", "--vendor", vendor]
            command += ["--cases", str(args.cases), "--seed", str(args.seed), "--out", str(out)]
            command += ["--workers", str(args.workers)]
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            row = json.loads(done.stdout.strip().splitlines()[-1])
            print(
                f"{row['vendor']:9} {row['cases']:>9,} cases  {row['seconds']:>7.1f} s  "
                f"{row['cases_per_s']:>6,} cases/s  workers {row['workers']}  "
                f"peak RSS {row['peak_rss_mib']:>5,} MiB (each worker {row['worker_rss_mib']:,})  "
                f"{row['files']} file(s) {row['bytes'] / 1e6:,.0f} MB",
                flush=True,
            )


if __name__ == "__main__":
    main()
