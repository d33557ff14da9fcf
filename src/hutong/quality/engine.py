"""Run a rule pack over a face sheet and get one findings table: same input, same bytes.

>>> findings = check(sheet)                                  # doctest: +SKIP
>>> findings = check(sheet, params={"same_day_los": 0})      # doctest: +SKIP
>>> write_findings(findings, out / "findings.csv")           # doctest: +SKIP

Each finding is one rule failing for one case on one field, with the rule's severity and its
Chinese and English message (plus the offending value where it helps and is not identifying).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hutong.mapping.facesheet import FaceSheet
from hutong.quality.expression import compile_expression
from hutong.quality.kinds import KINDS, found, one_run
from hutong.quality.pack import BUILTIN, Pack, Rule, load_pack
from hutong.quality.validity import check_codes, not_loaded, system_of

if TYPE_CHECKING:
    from hutong.terminologies.codesystem import CodeSystem

COLUMNS = ["mdtrt_id", "rule_id", "severity", "field", "message_zh", "message_en"]
ORDER = ["mdtrt_id", "rule_id", "field", "message_zh", "message_en"]


def check(
    sheet: FaceSheet,
    pack: Pack | str | Path | None = None,
    params: Mapping[str, Any] | None = None,
    codes: Mapping[str, CodeSystem] | None = None,
) -> pd.DataFrame:
    """Findings of every rule of ``pack`` (default: the built-in NHSA pack) on ``sheet``.

    ``params`` overrides rule parameters by name, e.g. ``{"same_day_los": 0}``. ``codes`` gives
    the loaded code systems by key, ``{"diagnosis": ..., "procedure": ...}``, for the rules that
    need one (the ``code-validity`` pack); a rule whose system is not given is skipped, and
    :func:`skipped` lists those rules for the run manifest. The result has exactly the columns
    ``mdtrt_id, rule_id, severity, field, message_zh, message_en`` and is sorted by case, rule
    and field, so two runs over the same sheet are identical.
    """
    if not isinstance(pack, Pack):
        pack = load_pack(pack if pack is not None else BUILTIN)
    pack = pack.with_params(params or {})
    codes = check_codes(codes)
    rules = [r for r in pack.rules if system_of(r) is None or system_of(r) in codes]
    with one_run():  # rules share what they derive from the sheet
        raws = [(rule, run_rule(sheet, rule, codes)) for rule in rules]
    raws = [(rule, raw) for rule, raw in raws if len(raw)]
    if not raws:
        return pd.DataFrame({c: pd.Series(dtype="string") for c in COLUMNS})
    findings = _messages([rule for rule, _ in raws], [raw for _, raw in raws])
    findings = findings.astype("string").drop_duplicates()
    findings = findings.sort_values(ORDER, kind="mergesort", na_position="last")
    return findings.reset_index(drop=True)[COLUMNS]


def skipped(
    pack: Pack | str | Path | None = None, codes: Mapping[str, CodeSystem] | None = None
) -> list[dict[str, str]]:
    """The rules of ``pack`` that :func:`check` skips because their code system is not in
    ``codes``: ``[{"rule_id": ..., "system": ..., "reason": ...}]`` in pack order."""
    if not isinstance(pack, Pack):
        pack = load_pack(pack if pack is not None else BUILTIN)
    codes = check_codes(codes)
    out = []
    for rule in pack.rules:
        system = system_of(rule)
        if system is not None and system not in codes:
            out.append({"rule_id": rule.id, "system": system, "reason": not_loaded(system)})
    return out


def run_rule(
    sheet: FaceSheet, rule: Rule, codes: Mapping[str, CodeSystem] | None = None
) -> pd.DataFrame:
    """The failing rows of one rule: ``mdtrt_id``, ``field`` and ``value``.

    A rule needing a code system raises ValueError when ``codes`` does not have it.
    """
    if rule.check is not None:
        frame = sheet.node(rule.node)
        fails = compile_expression(rule.check, rule.node).fails(frame)
        return found(frame, fails, ",".join(rule.fields))
    system = system_of(rule)
    if system is None:
        return KINDS[rule.kind].run(sheet, rule)
    loaded = (codes or {}).get(system)
    if loaded is None:
        raise ValueError(f"rule {rule.id}: {not_loaded(system)}")
    return KINDS[rule.kind].run(sheet, rule, loaded)


def _findings(
    sheet: FaceSheet, rule: Rule, codes: Mapping[str, CodeSystem] | None = None
) -> pd.DataFrame:
    raw = run_rule(sheet, rule, codes)
    if raw.empty:
        return raw
    value = raw["value"].astype("string")
    return pd.DataFrame(
        {
            "mdtrt_id": raw["mdtrt_id"],
            "rule_id": rule.id,
            "severity": rule.severity,
            "field": raw["field"],
            "message_zh": rule.message_zh + ("（" + value + "）").fillna(""),
            "message_en": rule.message_en + (" (" + value + ")").fillna(""),
        },
        columns=COLUMNS,
    )


def _messages(rules: list[Rule], raws: list[pd.DataFrame]) -> pd.DataFrame:
    """The findings of all rules at once (as :func:`_findings` of each, concatenated): one text
    concatenation for the messages instead of one per rule."""
    texts = [raw if raw["value"].dtype == "string" else _text_value(raw) for raw in raws]
    found = pd.concat(texts, ignore_index=True)
    which = np.repeat(np.arange(len(rules)), [len(raw) for raw in raws])

    def per_rule(attribute: str) -> pd.Series:
        texts = np.array([getattr(rule, attribute) for rule in rules], dtype=object)
        return pd.Series(texts[which], dtype="string")

    value = found["value"]
    return pd.DataFrame(
        {
            "mdtrt_id": found["mdtrt_id"],
            "rule_id": per_rule("id"),
            "severity": per_rule("severity"),
            "field": found["field"],
            "message_zh": per_rule("message_zh") + ("（" + value + "）").fillna(""),
            "message_en": per_rule("message_en") + (" (" + value + ")").fillna(""),
        },
        columns=COLUMNS,
    )


def _text_value(raw: pd.DataFrame) -> pd.DataFrame:
    return raw[["mdtrt_id", "field"]].assign(value=raw["value"].astype("string"))


def write_findings(findings: pd.DataFrame, path: Path | str) -> Path:
    """Write findings as CSV (UTF-8 with BOM so Excel shows the Chinese, ``\\n`` line ends)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    findings[COLUMNS].to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\n")
    return path
