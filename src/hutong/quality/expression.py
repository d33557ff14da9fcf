"""The small expression language of ``check = "..."`` in a rule pack, evaluated per column.

A rule's check reads like Python (``adm_time <= dscg_time``, ``dscg_way in ['2', '3']``), but
it is parsed into an AST and only a whitelist of nodes is accepted: field names, constants,
comparisons, ``and``/``or``/``not``, arithmetic and a few named functions. A pack is data an
integrator writes, so it must never be able to run arbitrary code, and a typo must fail when the
pack is loaded, not on the first batch.

Null handling: :meth:`Expression.fails` is true only on rows where every referenced field has a
value and the expression is false, so a missing value never fires a comparison rule (missing
values are the ``required`` rules' job). :meth:`Expression.holds` is the mirror image, used for
``when`` conditions.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, reduce
from itertools import pairwise

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from hutong.mapping.facesheet import DATE_FIELDS, DATETIME_FIELDS, NUMBER_FIELDS, columns
from hutong.model import is_in

FUNCTIONS: dict[str, tuple[int, Callable]] = {
    # name: (number of arguments, vectorized implementation)
    "date": (1, lambda x: x.dt.normalize()),
    "days": (1, lambda x: x.dt.days.astype("Float64")),
    "length": (1, lambda x: x.str.len().astype("Float64")),
    "startswith": (2, lambda x, s: x.str.startswith(s)),
    "endswith": (2, lambda x, s: x.str.endswith(s)),
    "contains": (2, lambda x, s: x.str.contains(s, regex=False)),
}

COMPARE = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
ARITHMETIC = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
ALLOWED = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.Compare,
    ast.In,
    ast.NotIn,
    ast.BinOp,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.Call,
    ast.List,
    ast.Tuple,
    *COMPARE,
    *ARITHMETIC,
)


@dataclass(frozen=True)
class Expression:
    """A compiled, validated check expression over the columns of one node table."""

    text: str
    names: tuple[str, ...]
    tree: ast.Expression

    def evaluate(self, frame: pd.DataFrame) -> pd.Series:
        """The expression per row as a nullable boolean Series (NA where undecidable)."""
        value = _eval(self.tree.body, frame)
        if not isinstance(value, pd.Series):
            value = pd.Series(value, index=frame.index)
        return _boolean(value)

    def _present(self, frame: pd.DataFrame) -> pd.Series:
        present = pd.Series(True, index=frame.index)
        for name in self.names:
            present &= frame[name].notna().to_numpy(dtype=bool)
        return present

    def fails(self, frame: pd.DataFrame) -> pd.Series:
        """True where every referenced field is present and the expression is false."""
        value = self.evaluate(frame)
        return self._present(frame) & value.eq(False).fillna(False).astype(bool)

    def holds(self, frame: pd.DataFrame) -> pd.Series:
        """True where every referenced field is present and the expression is true."""
        value = self.evaluate(frame)
        return self._present(frame) & value.fillna(False).astype(bool)


def _as_bool(value: object) -> object:
    return _boolean(value) if isinstance(value, pd.Series) else bool(value)


def _boolean(values: pd.Series) -> pd.Series:
    """``values.astype("boolean")``: the Arrow booleans of text comparisons straight from Arrow
    (pandas converts them through Python objects, ~2 ms a column)."""
    dtype = values.dtype
    if isinstance(dtype, pd.ArrowDtype) and pa.types.is_boolean(dtype.pyarrow_dtype):
        data = pa.array(values.array)
        flags = pc.fill_null(data, False).to_numpy(zero_copy_only=False).astype(bool)
        missing = pc.is_null(data).to_numpy(zero_copy_only=False).astype(bool)
        array = pd.arrays.BooleanArray(flags, missing)
        return pd.Series(array, index=values.index, name=values.name)
    return values.astype("boolean")


def _eval(node: ast.AST, frame: pd.DataFrame) -> object:
    match node:
        case ast.BoolOp(op=ast.And(), values=values):
            return reduce(operator.and_, (_as_bool(_eval(v, frame)) for v in values))
        case ast.BoolOp(op=ast.Or(), values=values):
            return reduce(operator.or_, (_as_bool(_eval(v, frame)) for v in values))
        case ast.UnaryOp(op=ast.Not(), operand=operand):
            value = _as_bool(_eval(operand, frame))
            return ~value if isinstance(value, pd.Series) else not value
        case ast.UnaryOp(op=ast.USub(), operand=operand):
            return -_eval(operand, frame)
        case ast.Compare(left=left, ops=ops, comparators=comparators):
            return _compare(left, ops, comparators, frame)
        case ast.BinOp(left=left, op=op, right=right):
            return ARITHMETIC[type(op)](_eval(left, frame), _eval(right, frame))
        case ast.Name(id=name):
            return frame[name]
        case ast.Constant(value=value):
            return value
        case ast.Call(func=ast.Name(id=name), args=args):
            return FUNCTIONS[name][1](*(_eval(a, frame) for a in args))
    raise AssertionError(f"unvalidated node {ast.dump(node)}")  # validate() rules this out


def _compare(left: ast.AST, ops: list, comparators: list, frame: pd.DataFrame) -> object:
    results = []
    lhs = _eval(left, frame)
    for op, right in zip(ops, comparators, strict=True):
        if isinstance(op, ast.In | ast.NotIn):
            values = [elt.value for elt in right.elts]
            hit = is_in(lhs, values).astype("boolean").mask(lhs.isna())
            results.append(~hit if isinstance(op, ast.NotIn) else hit)
            continue
        rhs = _eval(right, frame)
        results.append(_as_bool(COMPARE[type(op)](lhs, rhs)))
        lhs = rhs
    return reduce(operator.and_, results)


def _check_types(node: ast.Compare) -> None:
    """Refuse comparing a code with a number (``dscg_way == 5`` would never be true)."""
    operands = [node.left, *node.comparators]
    for a, b in pairwise(operands):
        for name, other in ((a, b), (b, a)):
            if not isinstance(name, ast.Name):
                continue
            constants = other.elts if isinstance(other, ast.List | ast.Tuple) else [other]
            for c in constants:
                if not isinstance(c, ast.Constant):
                    continue
                if _is_text(name.id) and not isinstance(c.value, str):
                    raise ValueError(f"{name.id} is text: quote the value ('{c.value}')")
                if name.id in NUMBER_FIELDS and isinstance(c.value, str):
                    raise ValueError(f"{name.id} is a number: write {c.value} without quotes")


def _is_text(name: str) -> bool:
    return name not in NUMBER_FIELDS and name not in DATETIME_FIELDS and name not in DATE_FIELDS


def _validate(tree: ast.Expression, fields: frozenset[str]) -> tuple[str, ...]:
    """Refuse anything outside the whitelist; return the field names the expression reads."""
    names: list[str] = []
    called: set[int] = set()
    listed: set[int] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ALLOWED):
            raise ValueError(f"{type(node).__name__} is not allowed")
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                raise ValueError(f"unknown function; known: {', '.join(sorted(FUNCTIONS))}")
            if node.keywords or len(node.args) != FUNCTIONS[node.func.id][0]:
                raise ValueError(f"{node.func.id}() takes {FUNCTIONS[node.func.id][0]} argument(s)")
            text_args = node.args[1:]
            if not all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in text_args):
                raise ValueError(f"the second argument of {node.func.id}() must be quoted text")
            called.add(id(node.func))
        if isinstance(node, ast.Compare):
            _check_types(node)
            for op, right in zip(node.ops, node.comparators, strict=True):
                if isinstance(op, ast.In | ast.NotIn):
                    if not isinstance(right, ast.List | ast.Tuple):
                        raise ValueError("'in' needs a literal list, e.g. x in ['1', '2']")
                    listed.add(id(right))
        if isinstance(node, ast.List | ast.Tuple):
            if id(node) not in listed:
                raise ValueError("a list may only follow 'in'")
            if not all(isinstance(e, ast.Constant) for e in node.elts):
                raise ValueError("an 'in' list holds constants only")
        if isinstance(node, ast.Constant) and not isinstance(node.value, str | int | float):
            raise ValueError(f"constant {node.value!r} is not text or a number")
        if isinstance(node, ast.Name) and id(node) not in called:
            if node.id not in fields:
                raise ValueError(f"unknown field {node.id!r}")
            names.append(node.id)
    return tuple(dict.fromkeys(names))


def empty_node(node: str) -> pd.DataFrame:
    """An empty frame of a node with the face sheet's dtypes, for dry runs at load time."""
    return _empty_node(node).copy()


@cache
def _empty_node(node: str) -> pd.DataFrame:
    """:func:`empty_node`, made once per node: a pack's expressions each made one (81 columns
    set one at a time, ~25 ms each), before a run could start."""
    return pd.DataFrame({c: pd.Series(dtype=_empty_dtype(c)) for c in columns(node)})


def _empty_dtype(col: str) -> str:
    if col in DATETIME_FIELDS or col in DATE_FIELDS:
        return "datetime64[ns]"
    return "Float64" if col in NUMBER_FIELDS else "string"


@cache
def compile_expression(text: str, node: str) -> Expression:
    """Parse and validate ``text`` against the fields of ``node``; ValueError says why not."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as err:
        raise ValueError(f"cannot parse {text!r}: {err.msg}") from None
    fields = frozenset(columns(node))
    try:
        names = _validate(tree, fields)
    except ValueError as err:
        raise ValueError(f"{text!r}: {err}") from None
    expression = Expression(text=text, names=names, tree=tree)
    try:  # types: comparing a date with a number, calling date() on text, ...
        expression.fails(empty_node(node))
    except (TypeError, AttributeError, ValueError) as err:
        raise ValueError(f"{text!r} does not evaluate on {node}: {err}") from None
    return expression
