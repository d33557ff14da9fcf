"""Local term → national code matching on the gold sets: accuracy and speed, with a baseline.

Usage: python benchmarks/term_matching.py [--reference ../shared/reference] [--gold FILE ...]

For each gold file (columns ``id,system,local_code,local_name,expected_code,kind,note``) it prints
top-1 / top-5 accuracy overall and per ``kind`` and terms/s for hutong's matcher, next to a plain
``rapidfuzz.process.extract(name, national names, scorer=fuzz.WRatio)`` over the raw names, plus
list load and index build times. Targets: top-1 ≥ 90 %, top-5 ≥ 97 %, ≥ 3,000 terms/s.
Performance targets live here, never in unit tests.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

import pandas as pd
from rapidfuzz import fuzz, process

from hutong.terminologies.codesystem import CodeSystem, load_code_system
from hutong.terminologies.coding import normalise_code
from hutong.terminologies.matcher import Matcher

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HUTONG_SHARED", ROOT.parent / "shared"))
GOLD = [ROOT / "tests/data/gold_terms.csv", ROOT / "tests/data/gold_terms_holdout.csv"]
TOP = 5
_ALT = re.compile(r"alt=([0-9A-Za-z.+*/]+)")


def load_systems(reference: Path, ids: set[str]) -> dict[str, tuple[CodeSystem, float]]:
    """The national lists the gold rows name, with their load times."""
    systems = {}
    for system_id in sorted(ids):
        path = reference / f"{system_id}.txt"
        if not path.exists():
            sys.exit(f"national list {path} not found (gold rows name system {system_id!r})")
        t0 = time.perf_counter()
        systems[system_id] = (load_code_system(system_id, path), time.perf_counter() - t0)
    return systems


def spellings(system: CodeSystem) -> dict[str, str]:
    """Normalised code (and its dagger part) → the list's own spelling (``E11.201+N08.3*``)."""
    known: dict[str, str] = {}
    for code in system.concepts:
        known.setdefault(normalise_code(code), code)
        known.setdefault(normalise_code(code.split("+", 1)[0]), code)
    return known


def hutong_ranks(matcher: Matcher, rows: pd.DataFrame) -> tuple[list[list[str]], float]:
    """Top codes per row from ``suggest_many``, and the best of three timings (seconds)."""
    terms = rows[["local_code", "local_name"]].reset_index(drop=True)
    terms["row"] = range(len(terms))  # extra columns come back with each candidate
    timings = []
    for _ in range(3):
        t0 = time.perf_counter()
        found = matcher.suggest_many(terms, top=TOP)
        timings.append(time.perf_counter() - t0)
    by_row = found.groupby("row")["code"].apply(list).to_dict()
    return [by_row.get(i, []) for i in range(len(terms))], min(timings)


def batch_speed(matcher: Matcher, rows: pd.DataFrame, size: int = 6000) -> tuple[int, float]:
    """Terms/s for one large ``suggest_many`` batch (the file's rows repeated to ``size``)."""
    terms = rows[["local_code", "local_name"]]
    batch = pd.concat([terms] * max(1, size // len(terms)), ignore_index=True)
    timings = []
    for _ in range(3):
        t0 = time.perf_counter()
        matcher.suggest_many(batch, top=TOP)
        timings.append(time.perf_counter() - t0)
    return len(batch), len(batch) / min(timings)


def baseline_ranks(system: CodeSystem, rows: pd.DataFrame) -> tuple[list[list[str]], float]:
    """Top codes per row from plain rapidfuzz WRatio over the raw national names."""
    codes = list(system.concepts)
    names = [c.display for c in system.concepts.values()]
    t0 = time.perf_counter()
    ranks = []
    for name in rows["local_name"]:
        if not isinstance(name, str) or not name:
            ranks.append([])
            continue
        hits = process.extract(name, names, scorer=fuzz.WRatio, limit=TOP)
        ranks.append([codes[index] for _, _, index in hits])
    return ranks, time.perf_counter() - t0


def alternatives(note: object, known: dict[str, str]) -> set[str]:
    """Codes a note names as also defensible (``alt=I25.901``, ``alt=00.6600x004/36.0602``)."""
    found = set()
    for group in _ALT.findall(note if isinstance(note, str) else ""):
        found |= {known[c] for c in map(normalise_code, group.split("/")) if c in known}
    return found


def hits(ranks: pd.Series, expected: pd.Series) -> tuple[list[bool], list[bool]]:
    """Per row: is the expected code first, and is it among the suggestions."""
    pairs = list(zip(ranks, expected, strict=True))
    return [bool(r) and r[0] == e for r, e in pairs], [e in r for r, e in pairs]


def lenient_top1(ranks: pd.Series, accepted: pd.Series) -> float:
    """Share of rows whose first suggestion is the expected code or a noted alternative."""
    pairs = zip(ranks, accepted, strict=True)
    return sum(bool(r) and r[0] in ok for r, ok in pairs) / max(len(ranks), 1)


def accuracy(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """Top-1 / top-5 hit rates overall and per kind."""
    top1, top5 = hits(frame[column], frame["expected"])
    rows = pd.DataFrame({"kind": frame["kind"].fillna("-"), "top1": top1, "top5": top5})
    table = rows.groupby("kind").agg(
        n=("top1", "size"), top1=("top1", "mean"), top5=("top5", "mean")
    )
    total = pd.DataFrame(
        {"n": [len(rows)], "top1": [rows["top1"].mean()], "top5": [rows["top5"].mean()]},
        index=["ALL"],
    )
    return pd.concat([total, table])


def report(path: Path, systems: dict, matchers: dict, baseline: bool, misses: int) -> None:
    """Print accuracy and speed for one gold file."""
    gold = pd.read_csv(path, dtype=str, keep_default_na=False).replace({"": None})
    print(f"\n=== {path.name}: {len(gold)} rows")
    parts = []
    for system_id, rows in gold.groupby("system", sort=True):
        system = systems[system_id][0]
        rows = rows.copy()
        known = spellings(system)
        rows["expected"] = [
            known.get(normalise_code(c)) if isinstance(c, str) else None
            for c in rows["expected_code"]
        ]
        rows["lenient"] = [
            {e} | alternatives(n, known)
            for e, n in zip(rows["expected"], rows["note"], strict=True)
        ]
        unknown = rows["expected"].isna().sum()
        if unknown:
            print(f"  {system_id}: {unknown} expected codes not in the list (count as misses)")
        rows["hutong"], seconds = hutong_ranks(matchers[system_id], rows)
        size, speed = batch_speed(matchers[system_id], rows)
        line = (
            f"  {system_id}: {len(rows)} rows; hutong {len(rows) / seconds:,.0f} terms/s "
            f"(one batch of {size:,} repeated rows: {speed:,.0f} terms/s)"
        )
        if baseline:
            rows["baseline"], base_seconds = baseline_ranks(system, rows)
            line += f"; WRatio baseline {len(rows) / base_seconds:,.0f} terms/s"
        print(line)
        parts.append(rows)
    frame = pd.concat(parts)
    table = accuracy(frame, "hutong").add_prefix("hutong_")
    if baseline:
        table = table.join(accuracy(frame, "baseline")[["top1", "top5"]].add_prefix("wratio_"))
    table = table.rename(columns={"hutong_n": "n"})
    with pd.option_context("display.float_format", "{:.1%}".format, "display.width", 120):
        print(table.to_string())
    lenient = [
        f"{name} {lenient_top1(frame[column], frame['lenient']):.1%}"
        for name, column in (("hutong", "hutong"), ("WRatio", "baseline"))
        if column in frame
    ]
    print(f"  top-1 accepting the notes' alt= codes too: {', '.join(lenient)}")
    top1, _ = hits(frame["hutong"], frame["expected"])
    for _, row in frame[[not hit for hit in top1]].head(misses).iterrows():
        print(
            f"  miss {row['id']} {row['local_code']} {row['local_name']!r} → {row['expected']}"
            f" got {row['hutong'][:3]}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, default=SHARED / "reference")
    parser.add_argument("--gold", type=Path, nargs="*", default=GOLD)
    parser.add_argument("--no-baseline", action="store_true", help="skip the WRatio baseline")
    parser.add_argument("--misses", type=int, default=0, help="print the first N top-1 misses")
    args = parser.parse_args()
    if not args.reference.is_dir():
        sys.exit(f"national reference lists not found at {args.reference} (use --reference)")
    files = [p for p in args.gold if p.exists()]
    for missing in sorted(set(args.gold) - set(files)):
        print(f"gold file {missing} not found; skipped")
    if not files:
        sys.exit("no gold file found")
    ids = set()
    for path in files:
        ids |= set(pd.read_csv(path, dtype=str, usecols=["system"])["system"].dropna())
    systems = load_systems(args.reference, ids)
    matchers = {}
    for system_id, (system, load_seconds) in systems.items():
        t0 = time.perf_counter()
        matchers[system_id] = Matcher(system)
        matchers[system_id].suggest("冠心病")  # first call loads synonyms and OpenCC
        build = time.perf_counter() - t0
        print(
            f"{system_id}: {len(system):,} codes ({len(system.gray):,} gray); "
            f"list load {load_seconds:.2f} s, index build {build:.2f} s"
        )
    for path in files:
        report(path, systems, matchers, not args.no_baseline, args.misses)


if __name__ == "__main__":
    main()
