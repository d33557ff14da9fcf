"""FHIR transaction Bundles of emitted resources, for loading into a FHIR server.

Every entry is a ``PUT <Type>/<id>``, so loading the same output twice updates rather than
duplicates (ids are stable UUIDs, see :mod:`hutong.mapping.fhir.ids`). ``fullUrl`` is
``urn:uuid:<id>`` (an R4 transaction's fullUrl must be absolute); references inside resources
stay ``Type/id``, which the server resolves against the PUT urls of the same transaction.

Entries are in a fixed order (Patient, Encounter, Condition, Procedure, Claim, then the other
types by name, each by id) and split into ``bundle-0001.json``, ``bundle-0002.json``, ... so no
Bundle holds more than ``max_entries`` entries or ``max_bytes`` bytes of JSON. The JSON is that
of the NDJSON writer (compact, keys sorted, decimals as spelled), so two runs give the same bytes.
"""

from __future__ import annotations

import os
from pathlib import Path

from hutong.mapping.fhir.ndjson import ndjson_line

ORDER = ("Patient", "Encounter", "Condition", "Procedure", "Claim")
PATTERN = "bundle-*.json"

# A Bundle as the NDJSON writer spells it (keys sorted: entry, resourceType, type).
_HEAD = '{"entry":['
_TAIL = '],"resourceType":"Bundle","type":"transaction"}'


def ordered(resources: dict[str, list[dict]]) -> list[dict]:
    """All resources in bundle order: the :data:`ORDER` types first, then the others by name,
    each type by id."""
    kinds = [k for k in ORDER if k in resources]
    kinds += sorted(k for k in resources if k not in ORDER)
    return [r for kind in kinds for r in sorted(resources[kind], key=lambda r: r["id"])]


def entry(resource: dict) -> dict:
    """A transaction entry that creates or replaces ``resource`` at its own id."""
    name = f"{resource['resourceType']}/{resource['id']}"
    return {
        "fullUrl": f"urn:uuid:{resource['id']}",
        "resource": resource,
        "request": {"method": "PUT", "url": name},
    }


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def batches(
    resources: dict[str, list[dict]], max_entries: int = 1000, max_bytes: int = 10_000_000
) -> list[list[str]]:
    """The entries (as JSON text) of each Bundle, in order. ``ValueError`` when one entry alone
    is larger than ``max_bytes`` allows."""
    if max_entries < 1:
        raise ValueError("max_entries must be at least 1")
    frame = _size(_HEAD) + _size(_TAIL)
    out: list[list[str]] = []
    current: list[str] = []
    size = frame
    for resource in ordered(resources):
        text = ndjson_line(entry(resource))
        length = _size(text)
        if frame + length > max_bytes:
            name = f"{resource['resourceType']}/{resource['id']}"
            raise ValueError(f"{name} alone is {length} bytes, over max_bytes={max_bytes}")
        extra = length + (1 if current else 0)  # the comma before it
        if current and (len(current) >= max_entries or size + extra > max_bytes):
            out.append(current)
            current, size, extra = [], frame, length
        current.append(text)
        size += extra
    if current:
        out.append(current)
    return out


def write_bundles(
    resources: dict[str, list[dict]],
    folder: Path,
    max_entries: int = 1000,
    max_bytes: int = 10_000_000,
) -> list[Path]:
    """Write the resources as transaction Bundles ``folder/bundle-0001.json``, ... and return
    their paths in order.

    Bundle files of an earlier run that this run does not rewrite are removed, so the folder
    holds exactly this output. Each file is written beside its target and renamed into place.
    A run would pass ``OUT/fhir/bundles``.
    """
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, texts in enumerate(batches(resources, max_entries, max_bytes), start=1):
        path = target / f"bundle-{number:04d}.json"
        partial = path.with_name(path.name + ".part")
        with partial.open("w", encoding="utf-8", newline="\n") as out:
            out.write(_HEAD + ",".join(texts) + _TAIL + "\n")
        os.replace(partial, path)
        paths.append(path)
    for stale in set(target.glob(PATTERN)) - set(paths):
        stale.unlink()
    return paths
