"""The shipped samples are exactly what the documented command regenerates."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hutong.synthetic import generate, generate_cases

SAMPLES = Path(__file__).parents[1] / "samples"
SHIPPED = {"vendor-a": 2024, "vendor-b": 2025}


@pytest.mark.parametrize(("vendor", "seed"), SHIPPED.items())
def test_shipped_samples_are_reproducible(vendor, seed, tmp_path):
    fresh = generate(vendor, 200, seed, tmp_path)
    shipped = sorted(p.name for p in (SAMPLES / vendor).iterdir())
    assert shipped == sorted(p.name for p in fresh)
    for path in fresh:
        assert (SAMPLES / vendor / path.name).read_bytes() == path.read_bytes(), path.name


def test_readme_gives_the_regenerating_commands():
    text = (SAMPLES / "README.md").read_text("utf-8")
    for vendor, seed in SHIPPED.items():
        command = f"hutong samples generate --vendor {vendor} --cases 200 --seed {seed}"
        assert f"{command} --out samples/{vendor}" in text


def test_readme_lists_the_broken_cases_of_each_sample():
    text = (SAMPLES / "README.md").read_text("utf-8")
    listed = set(re.findall(r"^\| (\d+) \| (\d+) \| (\w+) \|$", text, flags=re.MULTILINE))
    expected = {
        (str(i + 2), case["encounter"]["mdtrt_id"], case["broken"])
        for seed in SHIPPED.values()
        for i, case in enumerate(generate_cases(200, seed))
        if case["broken"]
    }
    assert listed == expected
