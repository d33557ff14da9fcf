"""The registry of named check kinds a rule pack may use (``kind = "required"``, ...).

A kind is a small vectorized function ``(sheet, rule) -> findings`` plus the parameters it
accepts, with defaults. The pack loader refuses a rule whose kind or parameters are unknown, so
the registry is also the list of what a pack author can write.

Findings of one rule are a frame with columns ``mdtrt_id``, ``field`` and ``value`` (the
offending value when showing it helps a coder and is not identifying; otherwise NA).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.arrays import ArrowStringArray

from hutong.quality.expression import compile_expression

if TYPE_CHECKING:
    from hutong.mapping.facesheet import FaceSheet
    from hutong.quality.pack import Rule

REQUIRED = object()  # marks a parameter without a default
FOUND = ["mdtrt_id", "field", "value"]
T = TypeVar("T")
_RUN: ContextVar[dict | None] = ContextVar("hutong_qc_run", default=None)


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


@contextmanager
def one_run() -> Iterator[None]:
    """Within ``with one_run():`` kinds share what they derive from the same sheet (western
    rows, case keys, factorized codes): a check run does not change its sheet meanwhile."""
    token = _RUN.set({})
    try:
        yield
    finally:
        _RUN.reset(token)


def shared(name: str, of: tuple, make: Callable[[], T]) -> T:
    """``make()`` once per :func:`one_run` for the same objects ``of`` (by identity, held so an
    id cannot be reused); outside a run, every time. Callers must not change the result."""
    store = _RUN.get()
    if store is None:
        return make()
    key = (name, *map(id, of))
    hit = store.get(key)
    if hit is not None and all(a is b for a, b in zip(hit[0], of, strict=True)):
        return hit[1]
    value = make()
    store[key] = (of, value)
    return value


def truth(values: pd.Series) -> pd.Series:
    """A plain bool Series from any boolean-ish one (NA counts as false)."""
    dtype = values.dtype
    if isinstance(dtype, np.dtype) and dtype.kind == "b":
        return values.astype(bool)
    if isinstance(dtype, pd.BooleanDtype) or (
        isinstance(dtype, pd.ArrowDtype) and pa.types.is_boolean(dtype.pyarrow_dtype)
    ):  # the masked/Arrow booleans of comparisons: straight to numpy, NA as false
        flags = values.to_numpy(dtype=bool, na_value=False)
        return pd.Series(flags, index=values.index, name=values.name)
    return values.astype("boolean").fillna(False).astype(bool)


def isin(values: pd.Series, other: object) -> np.ndarray:
    """``values.isin(other)`` as a bool array, without pandas turning a long Arrow-string
    ``other`` (case ids) into a Python list first; same answers, NA matching NA."""
    left, right = values.array, getattr(other, "array", None)
    if isinstance(left, ArrowStringArray) and isinstance(right, ArrowStringArray):
        data, value_set = pa.array(left), pa.array(right)
        if not len(value_set):
            return np.zeros(len(values), dtype=bool)
        hit = pc.is_in(data, value_set=value_set.cast(data.type))
        return hit.to_numpy(zero_copy_only=False).astype(bool)
    return values.isin(other).to_numpy(dtype=bool)


def stripped(values: pd.Series) -> pd.Series:
    """``values.str.strip()`` of a text column, once per run: rules strip the same flags and
    codes (diagnosis flags, fee categories) again and again."""
    return shared("stripped", (values.array, values.index), lambda: values.str.strip())


def row_counts(keys: pd.Series, of: pd.Series) -> np.ndarray:
    """Per value of ``keys``, how many values of ``of`` equal it (a null key: 0), as
    ``keys.map(of.value_counts())`` would say, by Arrow hashing instead of a text index."""
    left, right = keys.array, of.array
    if not (isinstance(left, ArrowStringArray) and isinstance(right, ArrowStringArray)):
        counts = keys.map(of.value_counts()).fillna(0)
        return counts.to_numpy(dtype=np.int64)
    data = pa.array(left)
    known = pc.drop_null(pc.unique(data))
    at = pc.index_in(data, value_set=known)
    hits = pc.drop_null(pc.index_in(pa.array(right).cast(data.type), value_set=known))
    per = np.bincount(hits.to_numpy(), minlength=len(known)).astype(np.int64)
    out = np.zeros(len(data), dtype=np.int64)
    valid = pc.is_valid(at).to_numpy(zero_copy_only=False)
    out[valid] = per[pc.drop_null(at).to_numpy()]
    return out


def lookup(keys: pd.Series, ids: pd.Series | pd.Index, values: pd.Series) -> pd.Series:
    """The value at the position of each key in ``ids`` (unique; NA when absent), as
    ``keys.map(pd.Series(values.array, index=ids))`` says, by Arrow hashing of the text."""
    if not (isinstance(keys.array, ArrowStringArray) and isinstance(ids.array, ArrowStringArray)):
        return keys.map(pd.Series(values.array, index=ids))
    data = pa.array(keys.array)
    at = pc.index_in(data, value_set=pa.array(ids.array).cast(data.type))
    taken = values.array.take(pc.fill_null(at, -1).to_numpy(), allow_fill=True)
    return pd.Series(taken, index=keys.index)


def case_sums(frame: pd.DataFrame, column: str) -> pd.Series:
    """``frame.groupby("mdtrt_id")[column].sum(min_count=1)``, once per run (fee rules)."""
    make = lambda: frame.groupby("mdtrt_id")[column].sum(min_count=1)  # noqa: E731
    return shared(f"case_sums:{column}", (frame,), make)


def texts(values: pd.Series) -> list:
    """A text column as a plain list, missing values as None: Arrow text by Arrow (pandas'
    ``tolist`` walks it element by element, several times slower)."""
    if isinstance(values.array, ArrowStringArray):
        return pa.array(values.array).to_pylist()
    return [None if v is pd.NA else v for v in values.tolist()]


def per_value(values: pd.Series, fn: Callable[[pd.Series], np.ndarray], na: object) -> np.ndarray:
    """``fn`` over the distinct non-null values only, spread back over the rows (``na`` where
    null): codes and names repeat thousands of times in a batch."""
    rows, uniques = shared("factorize", (values.array,), lambda: pd.factorize(values))
    done = np.asarray(fn(pd.Series(uniques)))
    return np.append(done, np.array([na], dtype=done.dtype))[rows]


def blank(values: pd.Series) -> np.ndarray:
    """Missing: null, or text that is empty after stripping ('-' counts as filled in)."""
    if isinstance(values.array, ArrowStringArray):  # rules ask about the same fields: once
        return shared("blank", (values.array,), lambda: _blank_text(values.array)).copy()
    missing = values.isna()
    if isinstance(values.dtype, pd.StringDtype):
        missing |= truth(values.str.strip() == "")
    return missing.to_numpy(dtype=bool)


def _blank_text(array: ArrowStringArray) -> np.ndarray:
    """``blank`` of Arrow text in Arrow compute: empty, or all whitespace by the same Unicode
    set as ``str.strip`` (utf8_trim_whitespace), without building the stripped strings."""
    data = pa.array(array)
    empty = pc.or_(pc.equal(data, ""), pc.utf8_is_space(data))
    return pc.or_kleene(pc.is_null(data), empty).to_numpy(zero_copy_only=False).astype(bool)


def applies(frame: pd.DataFrame, rule: Rule) -> pd.Series:
    """Rows the rule's ``when`` condition selects (all rows when it has none)."""
    when = rule.params.get("when")
    if when is None:
        return pd.Series(True, index=frame.index)
    expression = compile_expression(when, rule.node)  # rules share conditions: once per run
    return shared("holds", (expression, frame), lambda: expression.holds(frame)).copy()


def found(
    frame: pd.DataFrame,
    mask: pd.Series,
    field_name: str,
    value: pd.Series | Callable[[pd.Series], pd.Series] | None = None,
) -> pd.DataFrame:
    """Findings for the rows of ``frame`` where ``mask`` is true, on ``field_name``.

    ``value`` is the shown value per row, or a function of the (bool Series) mask giving it
    for the masked rows only, so a message text is formatted for failing rows, not all rows.
    """
    mask = truth(pd.Series(mask, index=frame.index))
    if not mask.any():
        return nothing()
    ids = frame["mdtrt_id"][mask].astype("string")
    if callable(value):
        shown = _aligned(value(mask).astype("string"), ids.index)
    elif value is not None:
        shown = _aligned(value[mask].astype("string"), ids.index)
    else:
        shown = pd.Series(pd.NA, index=ids.index, dtype="string")
    # typed columns at once: a frame built column by column and then cast costs ~1 ms a rule
    field = pd.array([field_name] * len(ids), dtype="string")
    return pd.DataFrame({"mdtrt_id": ids.array, "field": field, "value": shown.array})


def _aligned(shown: pd.Series, index: pd.Index) -> pd.Series:
    """``shown`` in the order of ``index`` (as assigning it to a frame on ``index`` would)."""
    return shown if shown.index.equals(index) else shown.reindex(index)


def nothing() -> pd.DataFrame:
    """No findings."""
    return _NOTHING.copy()


_NOTHING = pd.DataFrame({c: pd.Series(dtype="string") for c in FOUND})


def cases(sheet: FaceSheet) -> pd.Series:
    """The case keys of a sheet: setlinfo's mdtrt_id values, once each."""

    def make() -> pd.Series:
        ids = sheet.setlinfo["mdtrt_id"].dropna().drop_duplicates()
        return ids.astype("string").reset_index(drop=True)

    return shared("cases", (sheet.setlinfo,), make)


def unique_cases(setlinfo: pd.DataFrame) -> pd.DataFrame:
    """setlinfo with each ``mdtrt_id`` once (its first row)."""
    return shared("unique_cases", (setlinfo,), lambda: setlinfo.drop_duplicates("mdtrt_id"))


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
