"""The conformance gate over files: NDJSON (Bulk Data), Bundles or single resources on disk.

``hutong validate DIR`` reads what a run (or anyone) wrote and reports each problem with the file
and line (or Bundle entry), the resource and the element path; the checks are :func:`validate`'s
(fhir.resources R4B models, required bindings, references resolving inside what was read) and,
for resources hutong identified, that the id is the stable UUIDv5 of the first identifier.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from hutong.mapping.fhir.validate import references, validate

SUFFIXES = (".ndjson", ".json")


def read_resources(paths: list[Path]) -> tuple[dict[str, list[dict]], dict[str, str], list[str]]:
    """Resources by type from files and folders, where each was found, and unreadable lines."""
    found: dict[str, list[dict]] = {}
    where: dict[str, str] = {}
    problems: list[str] = []
    files = []
    for path in paths:
        if path.is_dir() and (path / "fhir").is_dir():
            path = path / "fhir"  # a run's output folder: its FHIR part
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file())
        else:
            files.append(path)
    for file in files:
        for location, resource in _resources(file, problems):
            kind = resource.get("resourceType", "?")
            found.setdefault(kind, []).append(resource)
            where.setdefault(f"{kind}/{resource.get('id', '?')}", location)
    return found, where, problems


def _resources(file: Path, problems: list[str]):
    text = file.read_text("utf-8-sig")
    if file.suffix == ".ndjson":
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                yield from _parsed(line, f"{file}:{number}", problems)
        return
    for location, resource in _parsed(text, str(file), problems):
        if resource.get("resourceType") == "Bundle":
            for i, entry in enumerate(resource.get("entry") or []):
                if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
                    yield f"{location}#entry[{i}]", entry["resource"]
        else:
            yield location, resource


def _parsed(text: str, location: str, problems: list[str]):
    try:
        data = json.loads(text, parse_float=Decimal)  # 7.10 stays 7.10 while it is checked
    except json.JSONDecodeError as exc:
        problems.append(f"{location}: not JSON ({exc.msg} at column {exc.colno})")
        return
    if not isinstance(data, dict) or "resourceType" not in data:
        problems.append(f"{location}: not a FHIR resource (no resourceType)")
        return
    yield location, data


def outputs(path: Path) -> list[list[Path]]:
    """What to check as one output: a run folder's fhir/, each run under a demo folder, or the
    files given. References must resolve within one output, not across runs."""
    if path.is_dir() and not (path / "fhir").is_dir():
        runs = sorted(p for p in path.iterdir() if (p / "fhir").is_dir())
        if runs:
            return [[run] for run in runs]
    return [[path]]


def id_problems(resource: dict) -> list[str]:
    """A resource hutong identified must carry the UUIDv5 of its first identifier, so that a
    re-run overwrites on a server instead of duplicating (ImagingStudy uses its DICOM UID)."""
    from hutong.mapping.fhir.ids import resource_id

    first = (resource.get("identifier") or [{}])[0]
    system, value = first.get("system", ""), first.get("value")
    if not system.startswith("urn:hutong:sid:") or value is None:
        return []
    expected = resource_id(system, value)
    if resource.get("id") != expected:
        return [f"id: {resource.get('id')!r} is not the stable id {expected} of {system}|{value}"]
    return []


def gate(paths: list[Path]) -> tuple[int, list[str]]:
    """(resources checked, problems), each problem prefixed with where the resource was read."""
    checked, problems = 0, []
    for unit in (u for path in paths for u in outputs(path)):
        found, where, unreadable = read_resources(unit)
        problems += unreadable
        for line in validate(found):
            name, _, rest = line.partition(": ")
            problems.append(f"{where.get(name, '?')} {name}: {rest}")
        for kind, items in found.items():
            for resource in items:
                name = f"{kind}/{resource.get('id', '?')}"
                problems += [f"{where.get(name, '?')} {name}: {p}" for p in id_problems(resource)]
        checked += sum(len(v) for v in found.values())
    return checked, problems


SAMPLE_ABOVE = 20_000  # model validation costs about 1 ms a resource: sample bigger runs
SAMPLE_SIZE = 2_000  # resources of each type validated in a sample


def validation_sample(
    mode: str, resources: dict[str, list[dict]], size: int = SAMPLE_SIZE
) -> tuple[str, dict[str, list[dict]]]:
    """Which resources the gate checks: all, an evenly spread sample of about ``size`` of each
    type (references are then checked within the sample only), or none. A run of several
    partitions gives each partition its share of the sample."""
    if mode not in ("all", "sample", "none", "auto"):
        raise ValueError(f"--validate must be all, sample, none or auto, not {mode!r}")
    total = sum(len(v) for v in resources.values())
    if mode == "auto":
        mode = "all" if total <= SAMPLE_ABOVE else "sample"
    if mode != "sample":
        return mode, resources
    sample = {}
    for kind, items in resources.items():
        step = max(1, len(items) // max(1, size))
        sample[kind] = items[::step]
    kept = {f"{k}/{r['id']}" for k, items in sample.items() for r in items}
    # Resources the sampled ones refer to come along (and theirs, to the end), so every
    # reference in the sample still resolves.
    by_id = {f"{k}/{r['id']}": (k, r) for k, items in resources.items() for r in items}
    todo = [r for items in sample.values() for r in items]
    while todo:
        wanted = {t for r in todo for t in references(r)} - kept
        todo = []
        for target in sorted(wanted):
            if target in by_id:
                kind, resource = by_id[target]
                sample[kind].append(resource)
                todo.append(resource)
            kept.add(target)
    return mode, sample
