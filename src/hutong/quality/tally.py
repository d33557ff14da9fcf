"""Counts of a run's findings that add up over its parts, so a huge run never reads them whole.

>>> every = tally(part_one) + tally(part_two)      # doctest: +SKIP
>>> every.by_rule["SL-TIME-02"], every.cases_with_errors      # doctest: +SKIP

What the report's totals, rule table and charts and the manifest's counts need from every
finding (``mdtrt_id, rule_id, severity``). Case counts add up because a partitioned run keeps
each case whole in one part. The parts' other sums add up here too: indicator numerators and
denominators (:func:`combine_indicators`), DRG and DIP summaries (:func:`sum_counts`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pandas as pd


@dataclass
class Tally:
    """Findings, per severity and per rule (findings, distinct cases, first severity)."""

    findings: int = 0
    by_severity: Counter = field(default_factory=Counter)  # str(severity) → findings
    by_rule: Counter = field(default_factory=Counter)  # rule → findings (rules that fired)
    rule_cases: Counter = field(default_factory=Counter)  # rule → distinct cases
    rule_severity: dict = field(default_factory=dict)  # rule → severity of its first finding
    cases_with_findings: int = 0
    cases_with_errors: int = 0

    def __add__(self, other: Tally) -> Tally:
        """The counts of two parts with no case in common (``self`` comes first)."""
        return Tally(
            self.findings + other.findings,
            self.by_severity + other.by_severity,
            self.by_rule + other.by_rule,
            self.rule_cases + other.rule_cases,
            {**other.rule_severity, **self.rule_severity},
            self.cases_with_findings + other.cases_with_findings,
            self.cases_with_errors + other.cases_with_errors,
        )

    def to_dict(self) -> dict:
        """The counts as JSON data (a part keeps them in its counts file)."""
        return {
            "findings": self.findings,
            "by_severity": dict(self.by_severity),
            "by_rule": dict(self.by_rule),
            "rule_cases": dict(self.rule_cases),
            "rule_severity": self.rule_severity,
            "cases_with_findings": self.cases_with_findings,
            "cases_with_errors": self.cases_with_errors,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Tally:
        """The counts :meth:`to_dict` gave."""
        return cls(
            data["findings"],
            Counter(data["by_severity"]),
            Counter(data["by_rule"]),
            Counter(data["rule_cases"]),
            dict(data["rule_severity"]),
            data["cases_with_findings"],
            data["cases_with_errors"],
        )

    def rule_ranking(self) -> list[tuple[str, int]]:
        """(rule, findings), most first; ties in rule order."""
        return sorted(sorted(self.by_rule.items()), key=lambda kv: -kv[1])


def tally(findings: pd.DataFrame) -> Tally:
    """The counts of a findings frame (``mdtrt_id, rule_id, severity``)."""
    rule, case, severity = findings["rule_id"], findings["mdtrt_id"], findings["severity"]
    fired = findings[rule.notna().to_numpy(dtype=bool)]
    firsts = fired.drop_duplicates("rule_id")
    errors = case[(severity == "error").to_numpy(dtype=bool)]
    return Tally(
        findings=len(findings),
        by_severity=Counter({str(k): int(v) for k, v in _counts(severity.astype(str)).items()}),
        by_rule=Counter({str(k): int(v) for k, v in _counts(fired["rule_id"]).items()}),
        rule_cases=Counter(
            {
                str(k): int(v)
                for k, v in fired.groupby("rule_id", observed=True)["mdtrt_id"].nunique().items()
                if v
            }
        ),
        rule_severity=dict(zip(firsts["rule_id"].astype(str), firsts["severity"], strict=True)),
        cases_with_findings=int(case.dropna().nunique()),
        cases_with_errors=int(errors.dropna().nunique()),
    )


def combine_indicators(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """One indicator table from the parts': numerators and denominators add up."""
    first = parts[0].copy()
    num = sum(pd.to_numeric(p["numerator"]).fillna(0) for p in parts)
    den = sum(pd.to_numeric(p["denominator"]).fillna(0) for p in parts)
    known = pd.to_numeric(first["denominator"]).notna() | (den > 0)
    first["numerator"] = num.where(known).astype("Float64")
    first["denominator"] = den.where(known).astype("Float64")
    first["rate"] = (first["numerator"] / first["denominator"].where(den > 0)).round(6)
    return first


def sum_counts(parts: list[dict]) -> dict:
    """The parts' summaries added up: numbers summed (to the cent), anything else as the
    first part has it."""
    out: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                out[key] = round(out.get(key, 0) + value, 2)
            elif value is None:
                out.setdefault(key, None)
            else:
                out.setdefault(key, value)
    return out


def _counts(values: pd.Series) -> pd.Series:
    counts = values.value_counts()
    return counts[counts > 0]
