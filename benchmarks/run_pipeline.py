"""The run at scale: table ingest → canonical tables → face sheet → QC → grouping (and with
--fhir the FHIR NDJSON too), in a child process (``hutong run``), printing cases/s and peak RSS
for each size given.

Usage: python benchmarks/run_pipeline.py [--cases 100000 1000000] [--vendor vendor-a]
       [--partition-size 20000] [--workers N] [--drg-pack sample] [--keep DIR] [--fhir]
       [--validate none|sample|all]

Inputs are generated once per size (streaming, seeded) into a temporary folder, or into --keep
to reuse between runs. Targets (the issue's; measured here, never in unit tests): 1M cases
≤ 120 s through face sheet + QC + grouping at ≤ 2 GB peak RSS, and the peak RSS at 1M within
10 % of that at 100k (memory follows the partition size, not the input size). "CPU s" is the
user + system time of the run's processes, workers included: on a shared machine whose speed
varies from run to run it compares two versions more steadily than the wall time does.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from hutong import PARTITION_SIZE
from hutong.synthetic import generate

MIB = 1024  # ru_maxrss is in KiB on Linux


SHARED = Path(os.environ.get("HUTONG_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def codes() -> list[str]:
    """The official 医保版 lists when ../shared/reference has them (realistic findings), else
    none (the shipped sample lists, where most generated codes count as unknown)."""
    dx = SHARED / "reference" / "icd10-yb-2.0.txt"
    px = SHARED / "reference" / "icd9cm3-yb-2.0.txt"
    return ["--dx-codes", str(dx), "--px-codes", str(px)] if dx.exists() and px.exists() else []


def run_once(
    inputs: Path, out: Path, args: argparse.Namespace
) -> tuple[float, float, float, dict, dict[str, float]]:
    """Seconds, CPU seconds (user + system of the run and every worker it waited for), child
    peak RSS (MiB), the manifest of one `hutong run` in a fresh process, and the seconds of
    each phase (read, deal, partitions, assemble) from its JSON progress."""
    command = [sys.executable, "-m", "hutong.cli", "run", str(inputs), "-o", str(out),
               "--progress", "json", "--no-store", "--profile", args.vendor,
               "--validate", args.validate, "--partition-size", str(args.partition_size),
               "--workers", str(args.workers), "--drg-pack", args.drg_pack,
               "--fhir" if args.fhir else "--no-fhir", *codes()]  # fmt: skip
    start = time.perf_counter()
    stamps: list[tuple[float, dict]] = []
    tail: list[str] = []
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def listen() -> None:  # each progress line stamped as it comes
        assert child.stderr is not None
        for raw in child.stderr:
            line = raw.decode("utf-8", "replace")
            if line.startswith("{"):
                stamps.append((time.perf_counter() - start, json.loads(line)))
            else:
                tail.append(line)

    reader = threading.Thread(target=listen)
    reader.start()
    # this child's own peak (its largest process, workers included), not the largest of
    # every child so far as RUSAGE_CHILDREN would give
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    reader.join()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("".join(tail)[-2000:])
    rss = usage.ru_maxrss / MIB
    return (
        seconds,
        usage.ru_utime + usage.ru_stime,
        rss,
        json.loads((out / "manifest.json").read_text("utf-8")),
        phases(stamps, seconds),
    )


def phases(stamps: list[tuple[float, dict]], end: float) -> dict[str, float]:
    """Seconds of each phase: until the last file is read, until the deal is done, until the
    last partition is done, and the assembly after it."""

    def last(stage: str, default: float) -> float:
        return max((t for t, e in stamps if e["stage"] == stage), default=default)

    read = last("read", 0.0)
    dealt = last("deal", read)
    processed = last("partition", dealt)
    return {"read": read, "deal": dealt - read, "partitions": processed - dealt,
            "assemble": end - processed}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--vendor", default="vendor-a", choices=["vendor-a", "vendor-b"])
    parser.add_argument("--partition-size", type=int, default=PARTITION_SIZE)
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="processes converting table slices and partitions (default: cores)",
    )
    parser.add_argument("--drg-pack", default="sample")
    parser.add_argument("--validate", default="sample", choices=["none", "sample", "all"])
    parser.add_argument("--keep", type=Path, help="folder for the generated inputs (reused)")
    parser.add_argument("--fhir", action="store_true", help="also emit and gate FHIR")
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="hutong-bench-"))
    fhir = f"on, validation {args.validate}" if args.fhir else "off"
    print(f"machine: {os.cpu_count()} cores; vendor {args.vendor}; partitions of "
          f"{args.partition_size:,} stays; {args.workers} worker(s); FHIR {fhir}; peak RSS is"
          " the largest process's")  # fmt: skip
    print(f"{'cases':>10} {'generate s':>11} {'run s':>8} {'CPU s':>8} {'cases/s':>9}"
          f" {'peak RSS MiB':>13} {'FHIR resources':>15} {'findings':>9}")  # fmt: skip
    rows = []
    for cases in args.cases:
        inputs = base / f"{args.vendor}-{cases}"
        t0 = time.perf_counter()
        if not (inputs / ".complete").exists():
            generate(args.vendor, cases, 1, inputs)
            (inputs / ".complete").write_text("", "utf-8")
        made = time.perf_counter() - t0
        with tempfile.TemporaryDirectory(prefix="hutong-bench-out-") as out:
            seconds, cpu, rss, manifest, took = run_once(inputs, Path(out) / "out", args)
        stays = manifest["tables"]["encounter"]
        resources = sum(manifest["fhir"]["resources"].values())
        rows.append((cases, seconds, rss))
        print(f"{stays:>10,} {made:>11.1f} {seconds:>8.1f} {cpu:>8.1f} {stays / seconds:>9,.0f}"
              f" {rss:>13,.0f} {resources:>15,} {manifest['qc']['findings']:>9,}")  # fmt: skip
        split = ", ".join(f"{phase} {s:.1f} s" for phase, s in took.items())
        print(f"{'':>10} where the time went: {split}")
    if len(rows) >= 2:
        (small, _, rss_small), (large, t_large, rss_large) = rows[0], rows[-1]
        growth = rss_large / rss_small - 1
        print(f"peak RSS {large:,} vs {small:,} cases: {growth:+.1%} (target within ±10 %)")
        per_million = t_large * 1_000_000 / large
        verdict = "PASS" if rss_large <= 2048 else "MISS"
        what = "with FHIR" if args.fhir else "ingest → face sheet → QC → grouping"
        print(f"1M cases ({what}): {per_million:,.0f} s (target ≤ 120 s without FHIR);"
              f" peak RSS ≤ 2 GB: {verdict}")  # fmt: skip


if __name__ == "__main__":
    main()
