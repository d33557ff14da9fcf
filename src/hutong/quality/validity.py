"""Check kinds that need a loaded code system: code exists, name matches, code is not gray.

The systems come from the caller, not the pack: ``check(sheet, pack, codes={"diagnosis":
icd10_yb, "procedure": icd9cm3_yb})``. A rule names which one it reads with its ``system``
parameter; when that system is not given the engine skips the rule and :func:`skipped` says so.

Sources: 医保办发〔2020〕20号 (diagnoses and procedures are coded, name and code both, with the
医保版 ICD-10 2.0 and ICD-9-CM-3 2.0); hugozhang/easy-widget 规则.sql 2133/2138 (the code must be
in the dictionary); public NHSA-platform SQL "疾病编码或疾病诊断不在疾病表中，或编码与名称不匹配";
gray-code lists (灰码, codes that must not be uploaded in the settlement list).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from hutong.quality.coding import western
from hutong.quality.kinds import REQUIRED, blank, found, kind, per_value, shared

if TYPE_CHECKING:
    from hutong.mapping.facesheet import FaceSheet
    from hutong.quality.pack import Rule
    from hutong.terminologies.codesystem import CodeSystem

# The code systems a rule may name, with what to call them when they are missing.
SYSTEMS = {
    "diagnosis": "ICD-10 医保版",
    "procedure": "ICD-9-CM-3 医保版",
}


def system_of(rule: Rule) -> str | None:
    """The code system key a rule needs (``"diagnosis"``/``"procedure"``), or None."""
    from hutong.quality.kinds import KINDS

    if rule.kind is None or not KINDS[rule.kind].uses_codes:
        return None
    return str(rule.params["system"])


def not_loaded(system: str) -> str:
    """The reason a rule on ``system`` was skipped, in English and Chinese."""
    return f"{SYSTEMS.get(system, system)} system not loaded / 未加载编码体系"


def check_codes(codes: Mapping[str, CodeSystem] | None) -> dict[str, CodeSystem]:
    """``codes`` as a plain dict; ValueError on a key other than the known systems."""
    codes = dict(codes or {})
    unknown = set(codes) - set(SYSTEMS)
    if unknown:
        raise ValueError(f"unknown code system key(s) {sorted(unknown)}; use {', '.join(SYSTEMS)}")
    return codes


def _validate(n_fields: int, *, gray: bool = False):
    def validate(rule: Rule) -> None:
        from hutong.quality.pack import SEVERITIES

        if len(rule.fields) != n_fields:
            raise ValueError(f"kind {rule.kind!r} takes {n_fields} field(s)")
        if rule.params["system"] not in SYSTEMS:
            raise ValueError(
                f"system must be one of {', '.join(SYSTEMS)}, got {rule.params['system']!r}"
            )
        if gray and rule.params["gray_severity"] not in (None, *SEVERITIES):
            raise ValueError(f"gray_severity must be one of {', '.join(SEVERITIES)}")

    return validate


def _rows(sheet: FaceSheet, rule: Rule) -> pd.DataFrame:
    """The rule's node, western-medicine rows only for diagnoses (TCM codes are another system)."""
    frame = sheet.node(rule.node)
    return western(frame) if "diag_type" in frame.columns else frame


def _codes(values: pd.Series) -> pd.Series:
    """Codes as written, trimmed, with a dagger '†' written '+' as the 医保版 lists do."""

    def make() -> pd.Series:
        return values.astype("string").str.strip().str.replace("†", "+", regex=False)

    return shared("codes", (values.array, values.index), make)


def _national_name(system: CodeSystem) -> Callable[[object], str | None]:
    """A code's national name (None for a code not in ``system``), looked up in its concepts:
    ``system.names`` builds a dict of every code (tens of thousands) on each call."""
    concepts = system.concepts

    def name(code: object) -> str | None:
        concept = concepts.get(code)  # type: ignore[call-overload]
        return None if concept is None else concept.display

    return name


def _is_gray(system: CodeSystem) -> Callable[[object], bool]:
    """Whether a code is on ``system``'s gray list (looked up, not collected per call)."""
    concepts = system.concepts

    def gray(code: object) -> bool:
        concept = concepts.get(code)  # type: ignore[call-overload]
        return concept is not None and concept.gray

    return gray


def _looked_up(codes: pd.Series, test: Callable[[object], bool]) -> pd.Series:
    """``test`` of each distinct code, spread over the rows (False where null)."""

    def hit(values: pd.Series) -> np.ndarray:
        return np.fromiter(map(test, values), dtype=bool, count=len(values))

    return pd.Series(per_value(codes, hit, False), index=codes.index)


@kind("code_exists", validate=_validate(1), uses_codes=True, system=REQUIRED)
def code_exists(sheet: FaceSheet, rule: Rule, system: CodeSystem) -> pd.DataFrame:
    """Codes (fields[0]) not in the loaded system. Blank codes pass (that is a required rule)."""
    frame = _rows(sheet, rule)
    code = _codes(frame[rule.fields[0]])
    bad = ~blank(code) & ~_looked_up(code, system.concepts.__contains__)
    return found(frame, bad, rule.fields[0], code)


def _same(name: str | None) -> str | None:
    """A name compared loosely: NFKC (full-width brackets, digits), no blanks."""
    if name is None or name is pd.NA:
        return None
    return "".join(unicodedata.normalize("NFKC", str(name)).split())


def _each(fn: Callable[[object], object]) -> Callable[[pd.Series], np.ndarray]:
    """``fn`` over a Series of distinct values, as an object array (for :func:`per_value`)."""

    def run(values: pd.Series) -> np.ndarray:
        out = np.empty(len(values), dtype=object)
        out[:] = [fn(v) for v in values]
        return out

    return run


@kind("code_name_matches", validate=_validate(2), uses_codes=True, system=REQUIRED)
def code_name_matches(sheet: FaceSheet, rule: Rule, system: CodeSystem) -> pd.DataFrame:
    """Names (fields[0]) that are not the national name of their code (fields[1]).

    Only rows whose code is in the system and whose name is filled in take part: an unknown code
    and a missing name are other rules' findings. Names compare after NFKC and without blanks,
    so ``（原发性）`` and ``(原发性)`` are the same name.
    """
    name_field, code_field = rule.fields
    frame = _rows(sheet, rule)
    code = _codes(frame[code_field])
    national = pd.Series(per_value(code, _each(_national_name(system)), None), index=frame.index)
    national = national.astype("string")
    given = frame[name_field].astype("string")
    differs = per_value(given, _each(_same), None) != per_value(national, _each(_same), None)
    bad = national.notna().to_numpy(dtype=bool) & ~blank(given) & differs
    shown = code + "：" + national.fillna("")
    return found(frame, bad, name_field, shown)


@kind(
    "code_not_gray",
    validate=_validate(1, gray=True),
    uses_codes=True,
    severity_param="gray_severity",
    system=REQUIRED,
    gray_severity=None,
)
def code_not_gray(sheet: FaceSheet, rule: Rule, system: CodeSystem) -> pd.DataFrame:
    """Codes (fields[0]) on the system's gray list (灰码: not to be uploaded)."""
    frame = _rows(sheet, rule)
    code = _codes(frame[rule.fields[0]])
    return found(frame, _looked_up(code, _is_gray(system)), rule.fields[0], code)
