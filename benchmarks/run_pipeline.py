"""Table ingest → face sheet → FHIR → QC on synthetic exports: prints cases/s and peak RSS.

Usage: python benchmarks/run_pipeline.py [--cases 2000] [--vendor vendor-a]
Performance targets live here, never in unit tests.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from hutong.adapters.profile import load_profile
from hutong.pipeline import RunOptions, run
from hutong.synthetic import generate
from hutong.terminologies.codesystem import DIAGNOSIS, PROCEDURE, sample_code_system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--vendor", default="vendor-a", choices=["vendor-a", "vendor-b"])
    parser.add_argument("--validate", action="store_true", help="include FHIR model validation")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        inputs = Path(tmp) / "in"
        t0 = time.perf_counter()
        generate(args.vendor, args.cases, 1, inputs)
        t1 = time.perf_counter()
        options = RunOptions(
            profile=load_profile(args.vendor),
            out=Path(tmp) / "out",
            diagnosis_codes=sample_code_system(DIAGNOSIS),
            procedure_codes=sample_code_system(PROCEDURE),
            validate="all" if args.validate else "none",
        )
        result = run([inputs], options)
        t2 = time.perf_counter()
    cases = result.manifest["tables"]["encounter"]
    resources = sum(result.manifest["fhir"]["resources"].values())
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"generate  {args.cases} cases ({args.vendor}): {t1 - t0:.2f} s")
    print(
        f"pipeline  {cases} cases, {resources} FHIR resources, "
        f"validate={args.validate}: {t2 - t1:.2f} s"
    )
    print(f"          {cases / (t2 - t1):,.0f} cases/s   peak RSS {rss:,.0f} MiB")


if __name__ == "__main__":
    main()
