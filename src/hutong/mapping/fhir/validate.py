"""``validate``: check emitted resources against the FHIR R4 (R4B) models and each other.

Three checks, each reported as one line naming ``Type/id``: the fhir.resources model (structure,
cardinality, primitive formats), the required value-set bindings in ``bindings.toml`` (which the
models do not check), and that every ``reference`` points to a resource in the same output.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from functools import cache
from importlib import resources as package


def validate(resources: dict[str, list[dict]]) -> list[str]:
    """One line per problem, empty when every resource is valid and every reference resolves.

    A line reads ``Patient/1f0c...: gender: 'mal' is not in administrative-gender``.
    """
    problems = []
    present = set()
    for kind in sorted(resources):
        for resource in resources[kind]:
            name = f"{resource.get('resourceType', kind)}/{resource.get('id', '?')}"
            if name in present:
                problems.append(f"{name}: duplicate id")
            present.add(name)
            if resource.get("resourceType") != kind:
                problems.append(f"{name}: listed under {kind}")
            problems += [f"{name}: {p}" for p in model_problems(resource)]
            problems += [f"{name}: {p}" for p in binding_problems(resource)]
    for kind in sorted(resources):
        for resource in resources[kind]:
            name = f"{resource.get('resourceType', kind)}/{resource.get('id', '?')}"
            for target in references(resource):
                if target not in present:
                    problems.append(f"{name}: reference {target} is not in the output")
    return problems


def model_problems(resource: dict) -> list[str]:
    """Problems the fhir.resources R4B model finds, one per pydantic error."""
    # Imported here: fhir.resources is heavy and only validation needs it.
    from fhir.resources.R4B import get_fhir_model_class
    from pydantic import ValidationError

    try:
        model = get_fhir_model_class(resource.get("resourceType", ""))
    except (KeyError, ValueError, AttributeError, ImportError):
        return [f"unknown resourceType {resource.get('resourceType')!r}"]
    try:
        model.model_validate(resource)
    except ValidationError as error:
        return [
            f"{'.'.join(str(p) for p in e['loc']) or '(resource)'}: {' '.join(e['msg'].split())}"
            for e in error.errors()
        ]
    return []


@cache
def bindings() -> list[dict]:
    """The required bindings from ``bindings.toml``."""
    text = package.files("hutong.mapping.fhir").joinpath("bindings.toml").read_text("utf-8")
    return tomllib.loads(text)["binding"]


def allowed(resource_type: str, path: str) -> frozenset[str]:
    """The codes of the required binding of ``resource_type``'s element ``path`` (e.g.
    ``allowed("Observation", "status")``), so emitters and the check read one list."""
    for binding in bindings():
        if binding["resource"] == resource_type and binding["path"] == path:
            return frozenset(binding["codes"])
    raise KeyError(f"no binding for {resource_type}.{path} in bindings.toml")


def binding_problems(resource: dict) -> list[str]:
    """Codes outside a required value set."""
    problems = []
    for binding in bindings():
        if binding["resource"] not in ("*", resource.get("resourceType")):
            continue
        allowed = binding["codes"]
        label = binding["valueset"].rsplit("/", 1)[-1]
        for value in values_at(resource, binding["path"].split(".")):
            if "system" not in binding:
                if value not in allowed:
                    problems.append(f"{binding['path']}: {value!r} is not in {label}")
                continue
            codings = value.get("coding") or [] if isinstance(value, dict) else []
            codes = [
                c.get("code")
                for c in codings
                if isinstance(c, dict) and c.get("system") == binding["system"]
            ]
            if not codes:
                problems.append(f"{binding['path']}: no coding from {binding['system']}")
            problems += [
                f"{binding['path']}: {code!r} is not in {label}"
                for code in codes
                if code not in allowed
            ]
    return problems


def values_at(element: object, path: list[str]) -> Iterator[object]:
    """Values at a dotted path, stepping through lists at any level."""
    if isinstance(element, list):
        for item in element:
            yield from values_at(item, path)
    elif not path:
        yield element
    elif isinstance(element, dict) and path[0] in element:
        yield from values_at(element[path[0]], path[1:])


def references(element: object) -> Iterator[str]:
    """Every ``reference`` string anywhere inside a resource."""
    if isinstance(element, dict):
        for key, value in element.items():
            if key == "reference" and isinstance(value, str):
                yield value
            else:
                yield from references(value)
    elif isinstance(element, list):
        for item in element:
            yield from references(item)
