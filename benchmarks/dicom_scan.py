"""DICOM header scan: hutong's reader to canonical rows vs pydicom ``dcmread`` alone.

Usage: python benchmarks/dicom_scan.py [--n 5000] [--repeat 3]

The real corpus (/work/shared/corpus/dicom, DICOMDIR left out: it references files) is copied
into a temp folder until it holds ``--n`` files. hutong reads the folder the bulk way
(``read_dir``: headers → imaging_instance / series / study / patient rows, copies rejected as
duplicates) and file by file the way a run does (``read`` per file); the peer is
``pydicom.dcmread(stop_before_pixels=True)`` of each file, nothing else. Target (issue
"province scale"): hutong ≥ 80 % of the peer's rate. Best of ``--repeat`` turns, one core.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import pydicom

from hutong.adapters import dicom

CORPUS = Path("/work/shared/corpus/dicom")
TARGET = 0.80


def corpus_copies(folder: Path, n: int) -> list[Path]:
    """``n`` files in ``folder``: the corpus files (DICOMDIR left out) copied round robin."""
    originals = sorted(p for p in CORPUS.iterdir() if p.is_file() and p.name != "pyd_DICOMDIR")
    files = []
    for i in range(n):
        source = originals[i % len(originals)]
        target = folder / f"{i // len(originals):04d}" / source.name
        target.parent.mkdir(exist_ok=True)
        shutil.copyfile(source, target)
        files.append(target)
    return files


def best(works: list[Callable[[], int]], repeat: int) -> list[tuple[float, int]]:
    """Shortest wall time of ``repeat`` runs of each work and what it counted; the works take
    turns, so a neighbour's load on the shared cores falls on all of them alike."""
    times: list[list[float]] = [[] for _ in works]
    counts = [0] * len(works)
    for _ in range(repeat):
        for i, work in enumerate(works):
            t0 = time.perf_counter()
            counts[i] = work()
            times[i].append(time.perf_counter() - t0)
    return [(min(t), n) for t, n in zip(times, counts, strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=5000, help="files in the scan")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = corpus_copies(folder, args.n)

        def peer() -> int:
            done = 0
            for path in files:
                try:
                    pydicom.dcmread(path, stop_before_pixels=True)
                    done += 1
                except Exception:  # a bad file still costs its read
                    pass
            return done

        def bulk() -> int:
            rows = 0
            for batch in dicom.read_dir(folder):
                rows += batch.read
            return rows

        def per_file() -> int:
            rows = 0
            for path in files:
                for batch in dicom.read(path):
                    rows += batch.read
            return rows

        (peer_s, parsed), (bulk_s, bulk_n), (file_s, file_n) = best(
            [peer, bulk, per_file], args.repeat
        )
    peer_rate = len(files) / peer_s
    print(
        f"DICOM header scan: {len(files)} files ({parsed} parsed by dcmread), best of {args.repeat}"
    )
    print(f"{'workload':<44}{'files/s':>10}{'ratio':>8}{'target':>8}  result")
    print(f"{'pydicom dcmread(stop_before_pixels) alone':<44}{peer_rate:>10,.0f}")
    for name, seconds, count in (
        ("hutong read_dir → canonical rows", bulk_s, bulk_n),
        ("hutong read per file → canonical rows", file_s, file_n),
    ):
        rate = count / seconds
        ratio = rate / peer_rate
        verdict = "PASS" if ratio >= TARGET else "MISS"
        print(f"{name:<44}{rate:>10,.0f}{ratio:>8.0%}{TARGET:>8.0%}  {verdict}")


if __name__ == "__main__":
    main()
