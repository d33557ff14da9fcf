"""Bulk Data style output: ``<Type>.ndjson``, one compact JSON resource per line.

Lines are sorted by id and keys are sorted, so two runs over the same input give byte-identical
files whatever order the rows or dict keys arrived in. FHIR decimals (``decimal.Decimal`` values,
e.g. ``Observation.valueQuantity.value``) are written as JSON numbers exactly as they are
spelled, so ``7.10`` stays ``7.10``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Iterator
from decimal import Decimal
from itertools import islice
from operator import itemgetter
from pathlib import Path

import orjson

# Every resource type emit_fhir can give. A type missing from a run's output (a face-sheet-only
# run has no Observation) has its file removed from the folder, so a re-run never leaves stale
# resources of an earlier run beside the new ones.
TYPES = (
    "Patient",
    "Encounter",
    "Condition",
    "Procedure",
    "ServiceRequest",
    "DiagnosticReport",
    "Observation",
    "ImagingStudy",
    "MedicationRequest",
    "Claim",
)


CHUNK = 10_000  # lines written at a time

# Stand-in for a Decimal while the C encoder runs: NUL (which FHIR strings may not hold) and a
# per-process random token, then the Decimal's index.
_MARK = f"\x00{secrets.token_hex(8)}:"
_MARKED = re.compile(re.escape(json.dumps(_MARK)[:-1]) + r'(\d+)"')


class _HasDecimal(Exception):
    """Raised by the exact encoder's C pass at the first Decimal, to go one level down."""


def _no_decimal(value: object) -> object:
    if isinstance(value, Decimal):
        raise _HasDecimal
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _number(value: Decimal) -> str:
    if not value.is_finite():
        raise ValueError(f"{value} is not a JSON number")
    return str(value)


def _dumps(value: object, default=_no_decimal) -> str:
    return json.dumps(
        value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=default
    )


def _exact(value: object) -> str:
    """JSON of ``value`` with its Decimals as numbers, without stand-ins (the slow path)."""
    try:
        return _dumps(value)
    except _HasDecimal:
        pass
    if isinstance(value, Decimal):
        return _number(value)
    if isinstance(value, dict):
        items = (f"{_dumps(str(k))}:{_exact(value[k])}" for k in sorted(value))
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_exact(v) for v in value) + "]"
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _fragment(value: object) -> object:
    if isinstance(value, Decimal) and value.is_finite():
        return orjson.Fragment(str(value))
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# Where orjson and ``json`` may spell a value differently: a float below 1e-4 (``0.00001`` vs
# ``1e-05``, ``1e-7`` vs ``1e-07``) and a non-finite float (``null`` vs ``NaN``). A line where
# either could be is written by ``json`` (a string that merely looks so costs only time).
_EXPONENT = re.compile(rb"e-\d(?!\d)")  # a one-digit negative exponent, as orjson writes
_MANTISSA = re.compile(rb"[:\[,]-?\d+(?:\.\d+)?\Z")  # ...after a number's start
_OPTIONS = orjson.OPT_SORT_KEYS
_LINE = _OPTIONS | orjson.OPT_APPEND_NEWLINE


def _may_differ(line: bytes) -> bool:
    if b"null" in line or b"0.0000" in line:
        return True
    if b"e-" not in line:
        return False
    for m in _EXPONENT.finditer(line):
        start = m.start()
        # a mantissa ends in a digit (0-9): most hits (ids, words) are ruled out by one byte
        digit = start and 48 <= line[start - 1] <= 57
        if digit and _MANTISSA.search(line, max(0, start - 64), start) is not None:
            return True
    return False


def ndjson_bytes(resource: dict, *, floats: bool = True, newline: bool = False) -> bytes:
    """:func:`ndjson_line` as UTF-8 bytes, by orjson (the same bytes, several times faster);
    what orjson might write otherwise goes the ``json`` way.

    Only a float can be spelled differently, so ``floats=False`` (a caller that knows the
    resource holds none, as ``emit_fhir``'s never do: their decimals are ``Decimal``) skips
    looking for one, which costs more than orjson's own work on a line holding UUIDs.
    ``newline=True`` ends the line with ``\\n``, written by orjson itself (no second copy)."""
    try:
        line = orjson.dumps(resource, default=_fragment, option=_LINE if newline else _OPTIONS)
    except (TypeError, orjson.JSONEncodeError):
        line = None
    if line is None or (floats and _may_differ(line)):
        line = _json_line(resource).encode("utf-8")
        return line + b"\n" if newline else line
    return line


def ndjson_line(resource: dict) -> str:
    """One resource as a compact, key-sorted JSON line (UTF-8 text, not \\u escapes)."""
    return ndjson_bytes(resource).decode("utf-8")


def _json_line(resource: dict) -> str:
    found: list[Decimal] = []

    def stand_in(value: object) -> object:
        if isinstance(value, Decimal):
            found.append(value)
            return f"{_MARK}{len(found) - 1}"
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")

    line = _dumps(resource, stand_in)
    if not found:
        return line
    line, replaced = _MARKED.subn(lambda m: _number(found[int(m.group(1))]), line)
    if replaced != len(found):  # the data held a stand-in itself: never guess, go exact
        return _exact(resource)
    return line


def ndjson_lines(
    items: list[dict], *, floats: bool = True, release: bool = False
) -> Iterator[bytes]:
    """The NDJSON line of each resource in ``items``, in order, each ending in a newline.

    ``release=True`` lets go of each resource once its line is made (``items`` is left holding
    ``None``): a partition's resources are freed while the line's making has them in the CPU's
    cache, where freeing them all after the last line meant walking a gigabyte of cold
    memory (1.0 s against ~0.3 s for 300,000 resources). ``floats``: see :func:`ndjson_bytes`.
    """
    for i, resource in enumerate(items):
        if release:
            items[i] = None  # the loop's name is the last reference: gone at the next one
        yield ndjson_bytes(resource, floats=floats, newline=True)


def write_ndjson(
    resources: dict[str, list[dict]], folder: Path, *, floats: bool = True, release: bool = False
) -> dict[str, int]:
    """Write ``folder/<Type>.ndjson`` for each type and return the count per type.

    ``floats=False`` says the resources hold no float (``emit_fhir``'s): see
    :func:`ndjson_bytes`. ``release=True`` empties the lists as their lines are written, for a
    caller that needs the resources no more: see :func:`ndjson_lines`.

    A run passes ``OUT/fhir``, giving the ``OUT/fhir/Patient.ndjson`` layout of the design.

    A type with no resources still gets an (empty) file, and the file of a type hutong emits
    (:data:`TYPES`) that is not in ``resources`` is removed, so a re-run into the same folder
    leaves no stale lines behind. Each file is written beside its target and renamed into
    place, so a reader never sees half a file.
    """
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    counts = {}
    for kind in sorted(resources):
        items = sorted(resources[kind], key=_ID)
        if release:
            resources[kind].clear()  # the sorted list holds them now, and lets them go
        path = target / f"{kind}.ndjson"
        partial = path.with_name(path.name + ".part")
        lines = ndjson_lines(items, floats=floats, release=release)
        with partial.open("wb") as out:
            while chunk := list(islice(lines, CHUNK)):
                out.write(b"".join(chunk))
        os.replace(partial, path)
        counts[kind] = len(items)
    for kind in TYPES:
        if kind not in resources:
            (target / f"{kind}.ndjson").unlink(missing_ok=True)
    return counts


_ID = itemgetter("id")
