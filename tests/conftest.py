"""Shared fixtures: where the national reference data lives, and how its absence is handled.

On a user's fresh clone ../shared may be missing: those tests skip and say why. In CI
(``CI=true``) both ../shared and PostgreSQL are present, so a missing one is a failure.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HUTONG_SHARED", ROOT.parent / "shared"))
REFERENCE = SHARED / "reference"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def need(path: Path, what: str) -> Path:
    """Return ``path``; skip (or fail in CI) with a clear reason when it is absent."""
    if path.exists():
        return path
    message = f"{what} not found at {path} (set HUTONG_SHARED to the shared/ folder)"
    if IN_CI:
        pytest.fail(f"CI=true but {message}")
    pytest.skip(message)


@pytest.fixture
def reference() -> Path:
    """../shared/reference: the national code lists, 4101 field list and value sets."""
    return need(REFERENCE, "national reference data (../shared/reference)")


@pytest.fixture
def drg_pack(reference):
    """The official CHS-DRG 2.0 pack of ../shared/reference, loaded once per test process."""
    return _drg_pack(reference / "chs-drg-2.0")


@cache
def _drg_pack(folder: Path):
    from hutong.quality.drg import load_pack

    return load_pack(folder)


def references(node):
    """Every ``reference`` string inside a FHIR resource (to check they all resolve)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield value
            else:
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def assert_no_empty_values(resources: dict[str, list[dict]]) -> None:
    """FHIR forbids empty strings, lists and objects: emitters leave missing values out."""

    def walk(value: object) -> None:
        assert value not in ("", [], {}, None)
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    for items in resources.values():
        for resource in items:
            walk(resource)


def floats_in(resources: dict[str, list[dict]]) -> list[str]:
    """``Type/id: path`` of every float in the resources."""
    found = []

    def walk(value: object, where: str) -> None:
        if isinstance(value, float):
            found.append(where)
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{where}.{key}")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, f"{where}[{i}]")

    for kind, items in resources.items():
        for resource in items:
            walk(resource, f"{kind}/{resource.get('id')}")
    return found
