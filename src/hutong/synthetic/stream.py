"""Generation as a stream of slices: each slice of cases is built and rendered to what its
files get (``render``, in this process or a worker), then appended in order (``Output``).

A slice depends only on the run (vendor, count, seed) and its case indexes, so rendering can
happen anywhere, in any order; writing stays in order, so the bytes never depend on the slice
size or the number of workers. At most two slices per worker are in flight: memory stays
bounded however fast the workers are.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

HL7 = "hl7"
"""The vendor name that writes HL7 v2.5 ER7 message files instead of a profile's tables."""


@lru_cache(maxsize=4)
def _renderer(vendor: str) -> tuple[str, str, Any]:
    """How cases become file content for ``vendor``, once per process: (kind, profile name,
    rows builder)."""
    if vendor == HL7:
        return "hl7", HL7, None
    from hutong.adapters.profile import load_profile  # heavy (pandas): only when writing

    profile = load_profile(vendor)
    if profile.name == "lis-a":  # the lab export of the vendor-a hospital's patients
        from hutong.synthetic.lab import LabRows

        return "lab", profile.name, LabRows(profile)
    from hutong.synthetic.writers import VendorRows, itemised

    kind = "table-itemised" if itemised(profile) else "table"
    return kind, profile.name, VendorRows(profile)


def render(vendor: str, cases: int, seed: int, start: int, stop: int) -> object:
    """The file content of cases ``start`` to ``stop - 1`` of the run."""
    from hutong.synthetic.generator import cases_between

    kind, name, rows = _renderer(vendor)
    part = cases_between(cases, seed, start, stop, itemise=kind == "table-itemised")
    if kind == "hl7":
        from hutong.synthetic.hl7 import messages

        return messages(part, seed)  # national codes: HL7 feeds carry the 医保版 terms
    if kind == "lab":
        from hutong.synthetic.lab import lab_rows

        return rows.render(lab_rows(part, seed))
    from hutong.synthetic.localise import localise

    return rows.render(localise(part, name, seed))


def open_output(vendor: str, cases: int, seed: int, out: Path):
    """The writer that appends rendered slices to ``vendor``'s files in ``out``."""
    if vendor == HL7:
        from hutong.synthetic.hl7 import HL7Writer

        return HL7Writer(out, seed)
    from hutong.adapters.profile import load_profile
    from hutong.synthetic.casemix import casemix

    profile = load_profile(vendor)
    if profile.name == "lis-a":
        from hutong.synthetic.lab import LabWriter

        return LabWriter(profile, out)
    from hutong.synthetic.writers import VendorWriter

    return VendorWriter(profile, out, cases, str(casemix().year))


def run(
    vendor: str,
    cases: int,
    seed: int,
    out: Path,
    chunk: int,
    workers: int,
    on_progress: Callable[[int], None] | None,
) -> list[Path]:
    """Render the slices (``workers`` processes when more than one) and append them in order."""
    output = open_output(vendor, cases, seed, out)
    step = max(chunk, 1)
    slices = [(start, min(start + step, cases)) for start in range(0, cases, step)]
    done = 0

    def write(content: object, size: int) -> None:
        nonlocal done
        output.append(content)
        done += size
        if on_progress is not None:
            on_progress(done)

    if workers <= 1 or len(slices) <= 1:
        for start, stop in slices:
            write(render(vendor, cases, seed, start, stop), stop - start)
    else:
        import multiprocessing

        with multiprocessing.get_context().Pool(workers) as pool:
            pending: deque = deque()
            for start, stop in slices:
                job = pool.apply_async(render, (vendor, cases, seed, start, stop))
                pending.append((job, stop - start))
                if len(pending) >= 2 * workers:
                    job, size = pending.popleft()
                    write(job.get(), size)
            while pending:
                job, size = pending.popleft()
                write(job.get(), size)
    paths = output.close()
    return paths if isinstance(paths, list) else [paths]
