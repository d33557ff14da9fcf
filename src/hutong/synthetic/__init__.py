"""Synthetic vendor exports: realistic inpatient cases, a few deliberately broken, as files.

>>> from pathlib import Path
>>> paths = generate("vendor-b", cases=200, seed=2025, out=Path("samples/vendor-b"))

The same vendor, count and seed always give byte-identical files. Cases come from
:func:`hutong.synthetic.generator.generate_cases`; files are written by
:func:`hutong.synthetic.writers.write_vendor` from the vendor profile alone.
"""

from __future__ import annotations

from pathlib import Path

from hutong.synthetic.generator import generate_cases

__all__ = ["generate", "generate_cases"]


def generate(vendor: str, cases: int, seed: int, out: Path) -> list[Path]:
    """Write ``cases`` synthetic cases for ``seed`` as ``vendor``'s export files into ``out``.

    ``vendor`` is a built-in profile name (``vendor-a``) or a profile file path.
    """
    from hutong.adapters.profile import load_profile  # heavy (pandas): only when writing
    from hutong.synthetic.casemix import casemix
    from hutong.synthetic.localise import localise
    from hutong.synthetic.writers import write_vendor

    profile = load_profile(vendor)
    if profile.name == "lis-a":  # the lab export of the vendor-a hospital's patients
        from hutong.synthetic.lab import lab_rows, write_lab

        return [write_lab(lab_rows(generate_cases(cases, seed), seed), profile, Path(out))]
    records = localise(generate_cases(cases, seed), profile.name, seed)
    return write_vendor(records, profile, Path(out), str(casemix().year))
