"""QC + CHS-DRG grouping of synthetic face sheets at scale: seconds per stage, cases/s, peak RSS.

Usage: python benchmarks/qc_grouping.py [--cases 1000000] [--batch-size 100000] [--workers 1]
       [--rules PACKS (default: the run's, hutong.DEFAULT_RULES)] [--drg-pack FOLDER] [--seed 1]

Batches stream: generate (hutong.synthetic.facesheets) → QC (``check``) → group
(``group_facesheet``) → counts kept, batch dropped, so memory follows the batch size, not the
case count. ``--workers 2`` spreads the batches over two processes (the machine has 2 cores).
Code systems are the 医保版 reference lists under ../shared/reference when present (else the
shipped samples); the DRG pack is the official chs-drg-2.0 there, else the shipped sample pack.
Targets (from the issue) live here, never in unit tests: grouping ≥ 20,000 cases/s per core;
QC + grouping of 1M cases ≤ 120 s and ≤ 2 GB peak RSS on the 2-core machine.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import time
from collections import Counter
from pathlib import Path

from hutong import DEFAULT_RULES

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HUTONG_SHARED", ROOT.parent / "shared"))
REFERENCE = SHARED / "reference"
TARGET_GROUP_RATE = 20_000  # cases/s/core
TARGET_SECONDS = 120  # QC + grouping of 1M cases
TARGET_RSS_MIB = 2048
MILLION = 1_000_000

_state: dict = {}  # per process: what every batch needs, loaded once


def _setup(args: dict) -> None:
    """Load rule pack, code systems, DRG pack and code pools once per process."""
    from hutong.quality import load_pack, skipped
    from hutong.synthetic.facesheets import code_pools
    from hutong.terminologies.codesystem import (
        DIAGNOSIS,
        PROCEDURE,
        load_code_system,
        sample_code_system,
    )

    dx_list, px_list = REFERENCE / "icd10-yb-2.0.txt", REFERENCE / "icd9cm3-yb-2.0.txt"
    if dx_list.exists() and px_list.exists():
        codes = {
            "diagnosis": load_code_system(DIAGNOSIS, dx_list),
            "procedure": load_code_system(PROCEDURE, px_list),
        }
    else:
        dx_list = px_list = None
        codes = {
            "diagnosis": sample_code_system(DIAGNOSIS),
            "procedure": sample_code_system(PROCEDURE),
        }
    pack = load_pack(args["rules"])
    drg = _drg_pack(args["drg_pack"])
    principal = None
    if drg is not None:  # main diagnoses the pack can place, so grouping does real work
        principal = (set(drg.mdc_of) | set(drg.mdcp_codes)) - set(drg.zd_invalid)
    _state.update(
        args=args,
        pack=pack,
        codes=codes,
        skipped=skipped(pack, codes),
        drg=drg,
        pools=code_pools(dx_list, px_list, principal),
        lists=(dx_list, px_list),
    )


def _drg_pack(folder: str | None):
    from hutong.quality import drg

    if folder == "none":
        return None
    if folder is None:
        official = REFERENCE / "chs-drg-2.0"
        if official.is_dir():
            folder = str(official)
        elif hasattr(drg, "sample_pack_path") and drg.sample_pack_path().is_dir():
            folder = str(drg.sample_pack_path())
        else:
            return None
    return drg.load_pack(folder)


def _batch(number: int) -> dict:
    """Generate, check and group batch ``number``; return its counts and stage times."""
    from hutong.quality import check
    from hutong.quality.drg import group_facesheet
    from hutong.synthetic.facesheets import facesheet_batch

    a = _state["args"]
    out: dict = {"wall": Counter(), "cpu": Counter()}

    def timed(stage, fn, *args):
        w, c = time.perf_counter(), time.process_time()
        result = fn(*args)
        out["wall"][stage] += time.perf_counter() - w
        out["cpu"][stage] += time.process_time() - c
        return result

    sheet = timed(
        "generate", facesheet_batch, number, a["cases"], a["batch_size"], a["seed"], _state["pools"]
    )
    findings = timed("qc", check, sheet, _state["pack"], None, _state["codes"])
    out["cases"] = len(sheet)
    out["findings"] = Counter(findings["severity"].astype(str))
    del findings
    if _state["drg"] is not None:
        groups = timed("grouping", group_facesheet, sheet, _state["drg"])
        out["ungroupable"] = int((groups["drg"] == "0000").sum())
        out["drgs"] = set(groups["drg"].astype(str))
        del groups
    out["rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def _merge(results: list[dict]) -> dict:
    total: dict = {"wall": Counter(), "cpu": Counter(), "findings": Counter(), "drgs": set()}
    total.update(cases=0, ungroupable=0, rss=0.0)
    for r in results:
        total["wall"].update(r["wall"])
        total["cpu"].update(r["cpu"])
        total["findings"].update(r["findings"])
        total["drgs"] |= r.get("drgs", set())
        total["cases"] += r["cases"]
        total["ungroupable"] += r.get("ungroupable", 0)
        total["rss"] = max(total["rss"], r["rss"])
    return total


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=MILLION)
    parser.add_argument("--batch-size", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=1, help="processes over the batches")
    parser.add_argument("--rules", default=DEFAULT_RULES, help="rule pack(s), joined with '+'")
    parser.add_argument("--drg-pack", default=None, help="CHS-DRG pack folder, or 'none'")
    parser.add_argument("--seed", type=int, default=1)
    args = vars(parser.parse_args())
    batches = range(-(-args["cases"] // args["batch_size"]))

    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    _setup(args)
    setup = time.perf_counter() - t0
    t1 = time.perf_counter()
    if args["workers"] <= 1:
        results = [_batch(n) for n in batches]
        child_rss = 0.0
    else:
        # fork: the workers inherit what _setup loaded instead of loading it again
        with mp.get_context("fork").Pool(args["workers"]) as pool:
            results = list(pool.imap_unordered(_batch, batches))
        child_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    wall = time.perf_counter() - t1
    total = _merge(results)
    main_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    _report(args, total, setup, wall, main_rss, child_rss, (load, os.getloadavg()[0]))


def _line(label: str, text: str) -> None:
    print(f"{label:<16}{text}")


def _report(args, total, setup, wall, main_rss, child_rss, load) -> None:
    n, workers = total["cases"], max(1, args["workers"])
    grouped = _state["drg"] is not None
    dx_list, px_list = _state["lists"]
    pack = _state["pack"]
    batches = f"batches of {args['batch_size']:,}"
    _line("cases", f"{n:,} in {batches}, {workers} worker(s), seed {args['seed']}")
    _line("rules", f"{pack.name} ({len(pack.rules)} rules, {len(_state['skipped'])} skipped)")
    _line("codes", f"{dx_list or 'sample'} / {px_list or 'sample'}")
    _line("DRG pack", str(_state["drg"].folder) if grouped else "none (grouping skipped)")
    _line("setup", f"{setup:.1f} s (load packs and code systems, once per process)")
    # other work on the machine stretches wall time; cpu time is what this run itself used
    _line("load average", f"{load[0]:.1f} at start, {load[1]:.1f} at end ({os.cpu_count()} cores)")
    print(f"{'stage':<16}{'wall s':>9}{'cpu s':>9}{'cases/s (wall)':>16}{'cases/s (cpu)':>15}")
    stages = ["generate", "qc", *(["grouping"] if grouped else [])]
    rows = [(s, total["wall"][s], total["cpu"][s]) for s in stages]
    w = sum(total["wall"][s] for s in stages[1:])
    c = sum(total["cpu"][s] for s in stages[1:])
    for stage, sw, sc in [*rows, ("qc+grouping", w, c)]:
        print(f"{stage:<16}{sw:9.1f}{sc:9.1f}{n / sw:16,.0f}{n / sc:15,.0f}")
    _line("run wall", f"{wall:.1f} s, generation included: {n / wall:,.0f} cases/s")
    found = total["findings"]
    by_severity = ", ".join(f"{k} {v:,}" for k, v in sorted(found.items()))
    _line("findings", f"{sum(found.values()):,} ({by_severity})")
    if grouped:
        drgs, bad = len(total["drgs"]), total["ungroupable"]
        _line("groups", f"{drgs} distinct DRGs, {bad:,} ungroupable (0000)")
    peak = main_rss + workers * child_rss if child_rss else main_rss
    rss = f"main {main_rss:,.0f} MiB"
    if child_rss:
        rss += f", largest worker {child_rss:,.0f} MiB, all ≤ {peak:,.0f} MiB"
    _line("peak RSS", rss)

    # QC + grouping of the machine: stage time spread over the workers, scaled to 1M cases
    machine, machine_cpu = w / workers * MILLION / n, c / workers * MILLION / n
    verdict = {True: "PASS", False: "MISS"}
    rows = [("target", "measured", "verdict (wall / cpu)")]
    if grouped:
        rate, rate_cpu = n / total["wall"]["grouping"], n / total["cpu"]["grouping"]
        rows.append(
            (
                f"grouping ≥ {TARGET_GROUP_RATE:,} cases/s/core",
                f"{rate:,.0f} wall, {rate_cpu:,.0f} cpu",
                f"{verdict[rate >= TARGET_GROUP_RATE]} / {verdict[rate_cpu >= TARGET_GROUP_RATE]}",
            )
        )
    scaled = " (scaled to 1M)" if n != MILLION else ""
    rows.append(
        (
            f"QC+grouping of 1M ≤ {TARGET_SECONDS} s",
            f"{machine:,.1f} s wall, {machine_cpu:,.1f} s cpu{scaled}",
            f"{verdict[machine <= TARGET_SECONDS]} / {verdict[machine_cpu <= TARGET_SECONDS]}",
        )
    )
    rows.append((f"peak RSS ≤ {TARGET_RSS_MIB:,} MiB", f"{peak:,.0f} MiB", verdict[peak <= 2048]))
    print()
    for target, measured, ok in rows:
        print(f"{target:<40}{measured:<44}{ok}")


if __name__ == "__main__":
    main()
