"""Face-sheet cells as text, column at a time: the exact strings Python's own formatting gives.

``write_facesheet`` writes every number and money amount as text, and the CSV and JSON must keep
the bytes ``f"{x:.2f}"`` and ``f"{x:.0f}"``/``f"{x:g}"`` give. Formatting a cell at a time was a
large part of the writer's cost, so the common cases are done over whole arrays (whole numbers
and whole cents through Arrow's casts) and only the cells where that could differ from Python
(half-cent ties, fractions, huge or non-finite values) go through Python.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# Below 1e9 (< 2**30) cents, x * 100 is within half an ulp (<= 2**-24, about 6e-8) of the exact
# 100x, so unless it lies within 1e-6 of a half cent it rounds the way the exact value does.
_CENTS_EXACT = 1e9
_TIE_MARGIN = 1e-6
_CENT = pa.scalar(Decimal("0.01"))
_INT_EXACT = 2.0**53  # integers a float64 holds exactly


def _floats(v: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The values as float64 (NaN where missing) and the missing mask."""
    return v.to_numpy(dtype="float64", na_value=np.nan), v.isna().to_numpy()


def _texts(
    text: pa.Array, slow: np.ndarray, x: np.ndarray, fmt: Callable[[float], str]
) -> pa.Array:
    """``text`` with ``fmt(x)`` in the ``slow`` cells (the ones the array route may get wrong)."""
    if not slow.any():
        return text
    fixed = pa.array([fmt(float(v)) for v in x[slow].tolist()], type=text.type)
    return pc.replace_with_mask(text, pa.array(slow), fixed)


def money_text(v: pd.Series) -> pa.Array:
    """``f"{x:.2f}"`` of each amount as Arrow text (null where missing): whole cents as Arrow
    decimals."""
    x, missing = _floats(v)
    with np.errstate(invalid="ignore", over="ignore"):
        y = x * 100
        cents = np.rint(y)
        fast = (np.abs(y) < _CENTS_EXACT) & (np.abs(np.abs(y - cents) - 0.5) > _TIE_MARGIN)
    cents = np.where(fast, cents, 0).astype(np.int64)
    fast &= (cents != 0) | ~np.signbit(x)  # "-0.00": a decimal zero has no sign
    amounts = pc.multiply(pa.array(cents, mask=~fast).cast(pa.decimal128(19, 0)), _CENT)
    return _texts(pc.cast(amounts, pa.string()), ~fast & ~missing, x, lambda f: f"{f:.2f}")


def number(x: float) -> str:
    """A count or measure as the interface writes it: no ``.0`` on whole numbers."""
    return f"{x:.0f}" if float(x).is_integer() else f"{x:g}"


def numbers_text(v: pd.Series) -> pa.Array:
    """``number(x)`` of each value as Arrow text (null where missing); whole numbers through
    an int cast."""
    x, missing = _floats(v)
    with np.errstate(invalid="ignore"):
        fast = (np.abs(x) < _INT_EXACT) & (x == np.trunc(x)) & ~((x == 0) & np.signbit(x))
    text = pc.cast(pa.array(np.where(fast, x, 0).astype(np.int64), mask=~fast), pa.string())
    return _texts(text, ~fast & ~missing, x, number)
