"""Peak RSS of ``qc_finish`` (the run-wide QC outputs from the parts) at 10 vs 100 parts.

Usage: python benchmarks/qc_finish_memory.py [--parts 10 100] [--part-size 10000]
       [--keep /tmp/hutong-qcmem] [--workers 2] [--base-rate 12000] [--seed 1] [--broken 1.0]
       [--tracemalloc] [--climb]

Part folders are made as a run makes them (``qc_part`` on synthetic face sheets from
``hutong.synthetic.facesheets``, sample DRG pack with its weights, a base rate so findings are
priced, ``--broken`` of the cases with a deliberate fault (the generator's default is 4 %),
the official 医保版 code lists from ../shared/reference when present) and kept in
``--keep`` so before/after runs read the same parts; the smaller sizes use the first parts of
the largest. Each ``qc_finish`` runs in a fresh child process; its own peak RSS comes from
``os.wait4``, and a sampler in the child names the call stack at its highest RSS (what holds the
memory). Target (the issue's, measured here, never in unit tests): the peak at 100 parts within
10 % of the peak at 10 parts (memory follows the partition size, not the run's size).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HUTONG_SHARED", ROOT.parent / "shared"))
REFERENCE = SHARED / "reference"
MIB = 1024  # ru_maxrss is in KiB on Linux
PAGE = os.sysconf("SC_PAGE_SIZE")

_state: dict = {}  # per process: the loaded job, code systems and code pools


def _lists() -> tuple[Path | None, Path | None]:
    dx, px = REFERENCE / "icd10-yb-2.0.txt", REFERENCE / "icd9cm3-yb-2.0.txt"
    return (dx, px) if dx.exists() and px.exists() else (None, None)


def _job(base_rate: float):
    """The run's QC job: default rules, the sample DRG pack (with weights) and a base rate."""
    from hutong.quality.job import QcJob, load_job
    from hutong.terminologies.codesystem import DIAGNOSIS, PROCEDURE, load_code_system

    dx, px = _lists()
    codes = None
    if dx is not None and px is not None:
        codes = {
            "diagnosis": load_code_system(DIAGNOSIS, dx),
            "procedure": load_code_system(PROCEDURE, px),
        }
    return load_job(QcJob(drg_pack=Path("sample"), base_rate=base_rate)), codes


def _setup(args: dict) -> None:
    from hutong.synthetic.facesheets import code_pools, settings

    settings()["broken"]["share"] = args["broken"]  # more faulty cases: more priced findings
    loaded, codes = _job(args["base_rate"])
    drg = loaded.drg[0]
    principal = (set(drg.mdc_of) | set(drg.mdcp_codes)) - set(drg.zd_invalid)
    _state.update(args=args, loaded=loaded, codes=codes, pools=code_pools(*_lists(), principal))


def _make_part(number: int) -> str:
    """Part ``number``: a face sheet batch through ``qc_part`` (skipped when already made)."""
    from hutong.quality.job import qc_part
    from hutong.synthetic.facesheets import facesheet_batch

    a = _state["args"]
    folder = Path(a["keep"]) / f"{a['key']}" / f"part-{number:05d}" / "qc"
    if (folder / "qc-counts.json").exists():
        return str(folder)
    total = a["parts"] * a["part_size"]
    sheet = facesheet_batch(number, total, a["part_size"], a["seed"], _state["pools"])
    qc_part(sheet, folder, _state["loaded"], _state["codes"])
    return str(folder)


def make_parts(args: argparse.Namespace) -> list[Path]:
    """The part folders of the largest size (made once, in ``--workers`` processes)."""
    most = max(args.parts)
    spec = {**vars(args), "parts": most, "key": f"{args.part_size}x-seed{args.seed}"}
    spec["key"] += f"-rate{args.base_rate:g}-broken{args.broken:g}"
    _setup(spec)
    numbers = range(most)
    if args.workers <= 1:
        return [Path(_make_part(n)) for n in numbers]
    with mp.get_context("fork").Pool(args.workers) as pool:
        return [Path(p) for p in pool.map(_make_part, numbers)]


class Sampler(threading.Thread):
    """Samples this process's RSS; keeps the main thread's stack at the highest one."""

    def __init__(self, every: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.every, self.peak, self.stack, self.done = every, 0, [], False
        self.step, self.climb = 0, []  # RSS and where, each time it rose by 64 MiB
        self.main = threading.main_thread().ident

    def run(self) -> None:
        import traceback

        with open("/proc/self/statm") as statm:
            while not self.done:
                statm.seek(0)
                rss = int(statm.read().split()[1]) * PAGE
                if rss > self.peak:
                    frame = sys._current_frames().get(self.main)
                    self.stack = [
                        f"{Path(f.filename).name}:{f.lineno} {f.name}"
                        for f in traceback.extract_stack(frame)
                        if "hutong" in f.filename or "pandas" in f.filename
                    ][-8:]
                    if rss > self.step + 64 * 2**20:  # the climb, every 64 MiB
                        self.step = rss
                        self.climb.append(f"{rss / 2**20:6,.0f} MiB " + " > ".join(self.stack[:4]))
                    self.peak = rss
                time.sleep(self.every)


def finish(parts_file: str, out: str, base_rate: float, trace: bool) -> None:
    """The child: ``qc_finish`` over the parts listed in ``parts_file``; prints a JSON line."""
    from hutong.quality.job import qc_finish

    loaded, codes = _job(base_rate)
    parts = [Path(p) for p in Path(parts_file).read_text().split()]
    if trace:
        import tracemalloc

        tracemalloc.start(8)
    sampler = Sampler()
    sampler.start()
    start = time.perf_counter()
    shown, summary = qc_finish(parts, Path(out), loaded, codes)
    seconds = time.perf_counter() - start
    sampler.done = True
    top = []
    if trace:
        import tracemalloc

        peak = tracemalloc.get_traced_memory()[1]
        stats = tracemalloc.take_snapshot().statistics("lineno")[:8]
        top = [f"peak traced {peak / 2**20:,.0f} MiB", *(str(s) for s in stats)]
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_stack": sampler.stack,
                "climb": sampler.climb,
                "sampled_peak": sampler.peak / 2**20,
                "findings": summary["findings"],
                "priced": summary.get("drg", {}).get("impact", {}).get("findings"),
                "shown": summary["shown_cases"]["cases"],
                "shown_findings": len(shown),
                "tracemalloc": top,
            }
        )
    )


def measure(parts: list[Path], out: Path, args: argparse.Namespace) -> tuple[float, dict]:
    """Run ``finish`` in a child process; its own peak RSS (MiB) and what it printed."""
    listing = out.with_suffix(".parts")
    listing.parent.mkdir(parents=True, exist_ok=True)
    listing.write_text("\n".join(str(p) for p in parts))
    trace = ["--tracemalloc"] if args.tracemalloc else []
    command = [sys.executable, __file__, "--finish", str(listing), str(out),
               "--base-rate", str(args.base_rate), *trace]  # fmt: skip
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    text = child.stdout.read() if child.stdout else ""
    _, status, usage = os.wait4(child.pid, 0)
    if status != 0:
        raise SystemExit(f"qc_finish failed ({status})")
    return usage.ru_maxrss / MIB, json.loads(text.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--parts", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--part-size", type=int, default=10_000)
    parser.add_argument("--keep", default="/tmp/hutong-qcmem")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--base-rate", type=float, default=12_000.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--broken", type=float, default=1.0, help="share of faulty cases")
    parser.add_argument("--tracemalloc", action="store_true", help="top allocation sites")
    parser.add_argument("--climb", action="store_true", help="where RSS rose, every 64 MiB")
    parser.add_argument("--finish", nargs=2, help=argparse.SUPPRESS)  # the child's own call
    args = parser.parse_args()
    if args.finish:
        finish(*args.finish, args.base_rate, args.tracemalloc)
        return
    start = time.perf_counter()
    every = make_parts(args)
    print(f"parts: {max(args.parts)} x {args.part_size:,} cases in {args.keep} "
          f"({time.perf_counter() - start:.0f} s to make or find)")  # fmt: skip
    peaks = {}
    for n in sorted(args.parts):
        rss, got = measure(every[:n], Path(args.keep) / f"out-{n}", args)
        peaks[n] = rss
        print(f"{n:>4} parts ({n * args.part_size:>9,} cases): peak RSS {rss:7,.0f} MiB, "
              f"{got['seconds']:6.1f} s, {got['findings']:,} findings, "
              f"{got['priced']:,} priced, {got['shown']:,} shown "
              f"({got['shown_findings']:,} findings)")  # fmt: skip
        print("      at the sampled peak:", " > ".join(got["peak_stack"]))
        if args.climb:
            print("      RSS climbing:", *got["climb"], sep="\n        ")
        for line in got["tracemalloc"]:
            print("     ", line)
    small, large = peaks[min(peaks)], peaks[max(peaks)]
    verdict = "PASS" if large <= small * 1.10 else "MISS"
    print(f"peak at {max(peaks)} parts / at {min(peaks)} parts: {large / small:.2f} "
          f"(target ≤ 1.10): {verdict}")  # fmt: skip


if __name__ == "__main__":
    main()
