"""Synthetic vendor exports: realistic inpatient cases, a few deliberately broken, as files.

>>> from pathlib import Path
>>> paths = generate("vendor-b", cases=200, seed=2025, out=Path("samples/vendor-b"))

The same vendor, count and seed always give byte-identical files, however the run is chunked
and however many worker processes render it. Cases come from
:func:`hutong.synthetic.generator.cases_between` a slice at a time (see
:mod:`hutong.synthetic.stream`), so memory stays bounded at any count; files are written from
the vendor profile alone (:class:`hutong.synthetic.writers.VendorWriter`), or as HL7 v2
messages (:mod:`hutong.synthetic.hl7`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hutong.synthetic.generator import CHUNK, generate_cases, iter_cases
from hutong.synthetic.stream import HL7

__all__ = ["HL7", "generate", "generate_cases", "iter_cases"]


def generate(
    vendor: str,
    cases: int,
    seed: int,
    out: Path,
    on_progress: Callable[[int], None] | None = None,
    chunk: int = CHUNK,
    workers: int = 1,
) -> list[Path]:
    """Write ``cases`` synthetic cases for ``seed`` as ``vendor``'s export files into ``out``.

    ``vendor`` is a built-in profile name (``vendor-a``), a profile file path, or ``"hl7"``.
    ``on_progress(done)`` is called after each chunk with the number of cases written so far.
    ``chunk`` (cases built at a time) bounds the memory; ``workers`` > 1 builds chunks in that
    many processes. Neither ever changes a byte of the output.
    """
    from hutong.synthetic.stream import run

    return run(vendor, cases, seed, Path(out), chunk, workers, on_progress)
