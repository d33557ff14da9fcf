"""CHS-DRG grouping speed: cases/s for ``group()`` over synthetic cases, one process.

Usage: python benchmarks/drg_grouping.py [--pack FOLDER] [--cases N] [--seed S] [--profile]

The cases are drawn (seeded) from the pack's own codes: principal diagnoses from the MDC lists,
secondaries from the CC/MCC tables and the MDC lists, procedures from the ADRG procedure
sections, with a share of newborns, HIV and multiple-trauma cases so every branch runs. The pack
is the official one under ``../shared/reference/chs-drg-2.0`` when present, else the hand-made
sample pack shipped with hutong. Target: ≥ 20,000 cases/s. Timing lives here, never in tests.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import time
from pathlib import Path

from hutong.quality.drg import CaseInput, DrgPack, group, load_pack, sample_pack_path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HUTONG_SHARED", ROOT.parent / "shared"))
OFFICIAL = SHARED / "reference" / "chs-drg-2.0"


def synthetic_cases(pack: DrgPack, n: int, seed: int = 2024) -> list[CaseInput]:
    """``n`` varied cases built from the pack's codes (same seed, same cases)."""
    rnd = random.Random(seed)
    principals = sorted(pack.mdc_of)
    secondaries = sorted({*pack.mcc, *pack.cc, *principals[:: max(1, len(principals) // 500)]})
    procedures = sorted(
        {c for a in pack.adrgs.values() for s in a.sections if s.kind == "px" for c in s.codes}
    )
    newborn = sorted(pack.mdcp_codes)
    hiv = sorted(pack.mdcy_codes)
    trauma = [sorted(v) for v in pack.mdcz_categories.values() if v]
    cases = []
    for i in range(n):
        kind = rnd.random()
        age, days, weight, extra = float(rnd.randint(1, 90)), None, None, []
        if kind < 0.05 and newborn:
            principal, age = rnd.choice(newborn), 0.0
            days, weight = float(rnd.randint(0, 364)), float(rnd.randint(800, 4200))
        elif kind < 0.07 and hiv:
            principal = rnd.choice(hiv)
        elif kind < 0.10 and len(trauma) >= 2:
            a, b = rnd.sample(trauma, 2)
            principal, extra = rnd.choice(a), [rnd.choice(b)]
        else:
            principal = rnd.choice(principals)
        more = rnd.sample(secondaries, k=min(len(secondaries), rnd.randint(0, 6)))
        secondary = tuple(extra + more)
        k = rnd.choice((0, 0, 1, 1, 2, 3))
        px = rnd.sample(procedures, k=min(k, len(procedures)))
        cases.append(
            CaseInput(
                principal_dx=principal,
                secondary_dx=secondary,
                principal_px=px[0] if px else None,
                other_px=tuple(px[1:]),
                sex=rnd.choice("12"),
                age=age,
                age_days=days,
                birth_weight=weight,
                mdtrt_id=f"B{i:06d}",
            )
        )
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", type=Path, default=None)
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    parser.add_argument("--profile", action="store_true", help="print the top of a cProfile")
    args = parser.parse_args()
    folder = args.pack or (OFFICIAL if OFFICIAL.is_dir() else sample_pack_path())

    t0 = time.perf_counter()
    pack = load_pack(folder)
    load_s = time.perf_counter() - t0
    cases = synthetic_cases(pack, args.cases, args.seed)
    group(cases[0], pack)  # warm any lazy caches outside the timing
    best = float("inf")
    for _ in range(args.repeat):
        start = time.perf_counter()
        results = [group(c, pack) for c in cases]
        best = min(best, time.perf_counter() - start)
    grouped = sum(r.drg != "0000" for r in results)
    print(f"pack {pack.name} ({folder}) loaded in {load_s:.2f} s")
    print(
        f"{len(cases):,} cases, {grouped:,} grouped, {len(cases) - grouped:,} ungroupable: "
        f"{len(cases) / best:,.0f} cases/s (best of {args.repeat}, one process; target 20,000)"
    )
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for c in cases:
            group(c, pack)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(12)


if __name__ == "__main__":
    main()
