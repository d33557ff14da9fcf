"""Rule packs: quality rules declared as data in TOML, validated completely when loaded.

A pack is a ``[pack]`` table (name, version, source) and ``[[rule]]`` entries. Each rule says
what it checks (``check`` expression or named ``kind`` with ``params``), on which node and
fields, where the rule comes from (``source``), how bad a failure is, and what to tell the user
in Chinese and English, and optionally (``fix_zh``/``fix_en``) what a coder should do about a
finding, for the worklist. Anything wrong in a pack — an unknown kind, node, severity, parameter or
field, a duplicate id, an expression that does not parse — is a ``ValueError`` naming the rule,
raised by :func:`load_pack`, never a surprise in the middle of a batch.

>>> pack = load_pack("nhsa-settlement")
>>> pack.rule("SL-TIME-02").severity
'error'
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from hutong.mapping.facesheet import NODES, columns
from hutong.quality import (  # noqa: F401  (importing them registers the kinds)
    checks,
    checks_homepage,
    coding,
    validity,
)
from hutong.quality.expression import compile_expression
from hutong.quality.kinds import KINDS, REQUIRED

BUILTIN = "nhsa-settlement"
SEVERITIES = ("error", "warning", "info")
RULE_KEYS = ("id", "severity", "node", "fields", "source", "message_zh", "message_en")
OPTIONAL_KEYS = ("check", "kind", "params", "fix_zh", "fix_en")
PACK_KEYS = ("name", "version", "source")
RULE_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Rule:
    """One quality rule of a pack (see the module docstring for the keys)."""

    id: str
    severity: str
    nodes: tuple[str, ...]
    fields: tuple[str, ...]
    source: str
    message_zh: str
    message_en: str
    check: str | None = None
    kind: str | None = None
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    # what a coder should do about a finding (for the worklist); empty when the pack gives none
    fix_zh: str = ""
    fix_en: str = ""

    @property
    def node(self) -> str:
        """The node table the rule reads first (the only one for ``check`` rules)."""
        return self.nodes[0]

    def to_dict(self) -> dict[str, Any]:
        """The rule as plain data, e.g. for a run manifest."""
        out: dict[str, Any] = {
            "id": self.id,
            "severity": self.severity,
            "node": self.node if len(self.nodes) == 1 else list(self.nodes),
            "fields": list(self.fields),
            "source": self.source,
            "message_zh": self.message_zh,
            "message_en": self.message_en,
        }
        if self.check is not None:
            out["check"] = self.check
        else:
            out["kind"] = self.kind
            out["params"] = dict(self.params)
        if self.fix_zh:
            out["fix_zh"] = self.fix_zh
        if self.fix_en:
            out["fix_en"] = self.fix_en
        return out


@dataclass(frozen=True)
class Pack:
    """A validated rule pack: its name, version, source, file digest and rules in file order."""

    name: str
    version: str
    source: str
    rules: tuple[Rule, ...]
    sha256: str
    # [pack] params: parameter overrides applied (by name) to every rule when combined
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def rule(self, rule_id: str) -> Rule:
        """The rule with this id; KeyError when the pack has none."""
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(f"rule pack {self.name} has no rule {rule_id!r}")

    def manifest(self) -> dict[str, Any]:
        """Name, version, source, digest and rules as plain data for a run manifest."""
        out = {
            "name": self.name,
            "version": self.version,
            "source": self.source,
            "sha256": self.sha256,
            "rules": [rule.to_dict() for rule in self.rules],
        }
        if self.params:
            out["params"] = dict(self.params)
        return out

    def with_params(self, overrides: Mapping[str, Any]) -> Pack:
        """The pack with parameters replaced by name in every rule that declares them.

        ``{"same_day_los": 0}`` switches the length-of-stay rule to counting a same-day stay as
        0 days. An unknown name is a ValueError listing the known ones.
        """
        if not overrides:
            return self
        known = {name for rule in self.rules for name in rule.params}
        for name in overrides:
            if name not in known:
                raise ValueError(
                    f"unknown rule parameter {name!r}; known: {', '.join(sorted(known))}"
                )
            if any(name in KINDS[r.kind].expressions for r in self.rules if r.kind):
                raise ValueError(f"parameter {name!r} is an expression; edit the pack instead")
        rules = []
        for rule in self.rules:
            changed = {k: v for k, v in overrides.items() if k in rule.params}
            if changed:
                rule = replace(rule, params=MappingProxyType({**rule.params, **changed}))
                rule = _validate_kind(rule, f"rule {rule.id}")
            rules.append(rule)
        return replace(self, rules=tuple(rules))


def builtin_packs() -> list[str]:
    """Names of the rule packs shipped with hutong."""
    folder = resources.files("hutong.quality").joinpath("rules")
    return sorted(
        p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml")
    )


def load_pack(name_or_path: str | Path = BUILTIN) -> Pack:
    """A built-in pack by name (``"nhsa-settlement"``) or a pack file by path, validated.

    Several packs joined with ``+`` (``"nhsa-settlement+code-validity"``, names or paths) load
    as one: see :func:`combine_packs`.
    """
    text = str(name_or_path)
    if "+" in text and not Path(text).is_file():
        return combine_packs(*(load_pack(part.strip()) for part in text.split("+")))
    if isinstance(name_or_path, Path) or text.endswith(".toml") or "/" in text or "\\" in text:
        path = Path(name_or_path)
        if not path.is_file():
            raise ValueError(f"{path}: no such rule pack file")
        return parse_pack(path.read_bytes(), str(path))
    if text not in builtin_packs():
        names = sorted(builtin_packs(), key=lambda name: (name != BUILTIN, name))
        raise ValueError(
            f"unknown rule pack {text!r}; built-in: {', '.join(names)} "
            "(or give the path of a .toml pack file; join packs with '+')"
        )
    return _builtin(text)


def combine_packs(*packs: Pack) -> Pack:
    """One pack running the rules of ``packs`` in order; ValueError on a rule id in two of them.

    Its name and version join the parts' with ``+``, its source joins theirs with ``; `` and its
    digest is the SHA-256 of the parts' digests, so a manifest still pins every file. A part's
    ``[pack] params`` (e.g. a regional pack's ``same_day_los = 0``) then override those
    parameters in every rule of the combination, later parts winning; a name no rule declares
    is a ValueError.
    """
    if len(packs) == 1:
        return packs[0]
    seen: dict[str, str] = {}
    for pack in packs:
        for rule in pack.rules:
            if rule.id in seen:
                raise ValueError(
                    f"rule {rule.id!r} is in both pack {seen[rule.id]} and pack {pack.name}"
                )
            seen[rule.id] = pack.name
    overrides = {k: v for p in packs for k, v in p.params.items()}
    combined = Pack(
        name="+".join(p.name for p in packs),
        version="+".join(p.version for p in packs),
        source="; ".join(p.source for p in packs),
        rules=tuple(rule for p in packs for rule in p.rules),
        sha256=hashlib.sha256("+".join(p.sha256 for p in packs).encode()).hexdigest(),
    )
    try:
        combined = combined.with_params(overrides)
    except ValueError as err:
        raise ValueError(f"[pack] params of {combined.name}: {err}") from None
    return replace(combined, params=MappingProxyType(overrides))


@cache
def _builtin(name: str) -> Pack:
    data = resources.files("hutong.quality").joinpath("rules", f"{name}.toml").read_bytes()
    return parse_pack(data, f"{name}.toml")


def parse_pack(data: bytes, origin: str = "<pack>") -> Pack:
    """Validate and build a pack from TOML bytes; ``origin`` names it in error messages."""
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise ValueError(f"{origin}: not a readable TOML rule pack: {err}") from None
    extra = set(doc) - {"pack", "rule"}
    if extra:
        raise ValueError(
            f"{origin}: unknown top-level key(s) {sorted(extra)}; use [pack], [[rule]]"
        )
    head = doc.get("pack")
    if not isinstance(head, dict):
        raise ValueError(f"{origin}: missing [pack] table with name, version and source")
    for key in PACK_KEYS:
        if not isinstance(head.get(key), str) or not head[key].strip():
            raise ValueError(f"{origin}: [pack] needs a non-empty text {key!r}")
    extra = set(head) - set(PACK_KEYS) - {"params"}
    if extra:
        raise ValueError(f"{origin}: unknown [pack] key(s) {sorted(extra)}")
    overrides = head.get("params", {})
    if not isinstance(overrides, dict):
        raise ValueError(f"{origin}: [pack] params must be a table of parameter overrides")
    entries = doc.get("rule")
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{origin}: no [[rule]] entries")
    rules: list[Rule] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries, start=1):
        rid = entry.get("id") if isinstance(entry, dict) else None
        where = f"{origin}: rule {rid}" if isinstance(rid, str) else f"{origin}: rule #{index}"
        rule = _rule(entry, where)
        if rule.id in seen:
            raise ValueError(f"{where}: duplicate rule id {rule.id!r}")
        seen.add(rule.id)
        rules.append(rule)
    return Pack(
        name=head["name"],
        version=head["version"],
        source=head["source"],
        rules=tuple(rules),
        sha256=hashlib.sha256(data).hexdigest(),
        params=MappingProxyType(dict(overrides)),
    )


def _text(entry: dict, key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where}: {key!r} must be non-empty text")
    return value


def _optional_text(entry: dict, key: str, where: str) -> str:
    """An optional text key (a suggested fix): absent is "", present must be non-empty text."""
    if key not in entry:
        return ""
    return _text(entry, key, where)


def _rule(entry: object, where: str) -> Rule:
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: a [[rule]] must be a table")
    unknown = set(entry) - set(RULE_KEYS) - set(OPTIONAL_KEYS)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {sorted(unknown)}")
    for key in RULE_KEYS:
        if key not in entry:
            raise ValueError(f"{where}: missing {key!r}")
    rid = _text(entry, "id", where)
    if not RULE_ID.match(rid):
        raise ValueError(f"{where}: rule id {rid!r} has characters other than A-Z 0-9 _ . -")
    severity = entry["severity"]
    if severity not in SEVERITIES:
        raise ValueError(f"{where}: unknown severity {severity!r}; use {', '.join(SEVERITIES)}")
    nodes = _nodes(entry["node"], where)
    fields = _fields(entry["fields"], nodes, where)
    check, kind_name = entry.get("check"), entry.get("kind")
    if (check is None) == (kind_name is None):
        raise ValueError(f"{where}: give exactly one of 'check' (an expression) or 'kind'")
    rule = Rule(
        id=rid,
        severity=severity,
        nodes=nodes,
        fields=fields,
        source=_text(entry, "source", where),
        message_zh=_text(entry, "message_zh", where),
        message_en=_text(entry, "message_en", where),
        check=check,
        kind=kind_name,
        fix_zh=_optional_text(entry, "fix_zh", where),
        fix_en=_optional_text(entry, "fix_en", where),
    )
    if check is not None:
        return _validate_check(rule, entry, where)
    return _validate_kind(rule, where, entry.get("params", {}))


def _nodes(value: object, where: str) -> tuple[str, ...]:
    nodes = (value,) if isinstance(value, str) else value
    if not isinstance(nodes, list | tuple) or not nodes:
        raise ValueError(f"{where}: 'node' must be a node name or a list of them")
    for node in nodes:
        if node not in NODES:
            raise ValueError(f"{where}: unknown node {node!r}; use {', '.join(NODES)}")
    return tuple(nodes)


def _fields(value: object, nodes: tuple[str, ...], where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(f, str) for f in value):
        raise ValueError(f"{where}: 'fields' must be a non-empty list of field codes")
    known = {c for node in nodes for c in columns(node)}
    for f in value:
        if f not in known:
            raise ValueError(f"{where}: unknown field {f!r} in node {'/'.join(nodes)}")
    return tuple(value)


def _validate_check(rule: Rule, entry: dict, where: str) -> Rule:
    if "params" in entry:
        raise ValueError(f"{where}: 'params' belong to a 'kind'; a 'check' takes none")
    if len(rule.nodes) != 1:
        raise ValueError(f"{where}: a 'check' expression reads exactly one node")
    if not isinstance(rule.check, str):
        raise ValueError(f"{where}: 'check' must be an expression in quotes")
    try:
        expression = compile_expression(rule.check, rule.node)
    except ValueError as err:
        raise ValueError(f"{where}: invalid check expression {err}") from None
    unlisted = [n for n in expression.names if n not in rule.fields]
    if unlisted:
        raise ValueError(f"{where}: the check reads {unlisted} but 'fields' does not list them")
    return rule


def _validate_kind(rule: Rule, where: str, given: object = None) -> Rule:
    """Check the kind and its parameters; returns the rule with defaults filled in."""
    kind = KINDS.get(rule.kind) if isinstance(rule.kind, str) else None
    if kind is None:
        raise ValueError(f"{where}: unknown kind {rule.kind!r}; known: {', '.join(sorted(KINDS))}")
    if given is not None:
        if not isinstance(given, dict):
            raise ValueError(f"{where}: 'params' must be a table")
        unknown = set(given) - set(kind.params)
        if unknown:
            accepted = ", ".join(sorted(kind.params)) or "none"
            raise ValueError(
                f"{where}: kind {kind.name!r} has no parameter(s) {sorted(unknown)}; "
                f"it accepts: {accepted}"
            )
        params = {**kind.params, **given}
        missing = [k for k, v in params.items() if v is REQUIRED]
        if missing:
            raise ValueError(f"{where}: kind {kind.name!r} needs params {missing}")
        rule = replace(rule, params=MappingProxyType(params))
    if len(rule.nodes) != 1 and not kind.multinode:
        raise ValueError(f"{where}: kind {kind.name!r} reads exactly one node")
    try:
        for name in kind.expressions:
            if rule.params.get(name) is not None:
                compile_expression(str(rule.params[name]), rule.node)
        if kind.validate:
            kind.validate(rule)
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from None
    if kind.severity_param and rule.params.get(kind.severity_param) is not None:
        rule = replace(rule, severity=str(rule.params[kind.severity_param]))
    return rule
