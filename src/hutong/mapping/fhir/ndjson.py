"""Bulk Data style output: ``<Type>.ndjson``, one compact JSON resource per line.

Lines are sorted by id and keys are sorted, so two runs over the same input give byte-identical
files whatever order the rows or dict keys arrived in.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def ndjson_line(resource: dict) -> str:
    """One resource as a compact, key-sorted JSON line (UTF-8 text, not \\u escapes)."""
    return json.dumps(resource, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def write_ndjson(resources: dict[str, list[dict]], folder: Path) -> dict[str, int]:
    """Write ``folder/<Type>.ndjson`` for each type and return the count per type.

    A run passes ``OUT/fhir``, giving the ``OUT/fhir/Patient.ndjson`` layout of the design.

    A type with no resources still gets an (empty) file, so a re-run into the same folder
    leaves no stale lines behind. Each file is written beside its target and renamed into
    place, so a reader never sees half a file.
    """
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    counts = {}
    for kind in sorted(resources):
        items = sorted(resources[kind], key=lambda r: r["id"])
        path = target / f"{kind}.ndjson"
        partial = path.with_name(path.name + ".part")
        with partial.open("w", encoding="utf-8", newline="\n") as out:
            for resource in items:
                out.write(ndjson_line(resource) + "\n")
        os.replace(partial, path)
        counts[kind] = len(items)
    return counts
