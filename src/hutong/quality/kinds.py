"""The registry of named check kinds a rule pack may use (``kind = "required"``, ...).

A kind is a small vectorized function ``(sheet, rule) -> findings`` plus the parameters it
accepts, with defaults. The pack loader refuses a rule whose kind or parameters are unknown, so
the registry is also the list of what a pack author can write.

Findings of one rule are a frame with columns ``mdtrt_id``, ``field`` and ``value`` (the
offending value when showing it helps a coder and is not identifying; otherwise NA).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from hutong.quality.expression import compile_expression

if TYPE_CHECKING:
    from hutong.mapping.facesheet import FaceSheet
    from hutong.quality.pack import Rule

REQUIRED = object()  # marks a parameter without a default
FOUND = ["mdtrt_id", "field", "value"]


@dataclass(frozen=True)
class Kind:
    """A check kind: its function, its parameters with defaults, and a load-time validator."""

    name: str
    run: Callable[..., pd.DataFrame]  # (sheet, rule), or (sheet, rule, code_system)
    params: Mapping[str, object] = field(default_factory=dict)
    expressions: tuple[str, ...] = ()  # parameters that hold an expression (compiled at load)
    validate: Callable[[Rule], None] | None = None
    multinode: bool = False  # may read several nodes (``node = [...]`` in the pack)
    uses_codes: bool = False  # needs the code system named by its ``system`` parameter
    severity_param: str | None = None  # a parameter that, when set, overrides the severity


KINDS: dict[str, Kind] = {}


def kind(
    name: str,
    *,
    expressions: tuple[str, ...] = (),
    validate: Callable[[Rule], None] | None = None,
    multinode: bool = False,
    uses_codes: bool = False,
    severity_param: str | None = None,
    **params: object,
) -> Callable:
    """Register the decorated function as check kind ``name`` with the given parameters."""

    def register(run: Callable[..., pd.DataFrame]) -> Callable:
        if name in KINDS:
            raise ValueError(f"check kind {name!r} registered twice")
        KINDS[name] = Kind(
            name, run, params, expressions, validate, multinode, uses_codes, severity_param
        )
        return run

    return register


def truth(values: pd.Series) -> pd.Series:
    """A plain bool Series from any boolean-ish one (NA counts as false)."""
    return values.astype("boolean").fillna(False).astype(bool)


def blank(values: pd.Series) -> np.ndarray:
    """Missing: null, or text that is empty after stripping ('-' counts as filled in)."""
    missing = values.isna()
    if isinstance(values.dtype, pd.StringDtype):
        missing |= truth(values.str.strip() == "")
    return missing.to_numpy(dtype=bool)


def applies(frame: pd.DataFrame, rule: Rule) -> pd.Series:
    """Rows the rule's ``when`` condition selects (all rows when it has none)."""
    when = rule.params.get("when")
    if when is None:
        return pd.Series(True, index=frame.index)
    return compile_expression(when, rule.node).holds(frame)


def found(
    frame: pd.DataFrame,
    mask: pd.Series,
    field_name: str,
    value: pd.Series | None = None,
) -> pd.DataFrame:
    """Findings for the rows of ``frame`` where ``mask`` is true, on ``field_name``."""
    mask = truth(pd.Series(mask, index=frame.index))
    if not mask.any():
        return nothing()
    out = pd.DataFrame({"mdtrt_id": frame.loc[mask, "mdtrt_id"].astype("string")})
    out["field"] = field_name
    out["value"] = value[mask].astype("string") if value is not None else pd.NA
    return out.astype("string").reset_index(drop=True)


def nothing() -> pd.DataFrame:
    """No findings."""
    return pd.DataFrame({c: pd.Series(dtype="string") for c in FOUND})


def cases(sheet: FaceSheet) -> pd.Series:
    """The case keys of a sheet: setlinfo's mdtrt_id values, once each."""
    ids = sheet.setlinfo["mdtrt_id"].dropna().drop_duplicates()
    return ids.astype("string").reset_index(drop=True)


def _formatted(values: pd.Series, pattern: str) -> pd.Series:
    numbers = values.astype("Float64")
    text = np.char.mod(pattern, numbers.fillna(0).to_numpy(dtype=float))
    return pd.Series(text, index=values.index, dtype="string").mask(numbers.isna())


def number(values: pd.Series) -> pd.Series:
    """Numbers as short text for messages: 5, 3.5, 120.25."""
    return _formatted(values, "%.10g")


def money(values: pd.Series) -> pd.Series:
    """Amounts as text with two decimals, for messages."""
    return _formatted(values, "%.2f")
