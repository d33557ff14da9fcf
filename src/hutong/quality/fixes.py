"""The fixes the impact table simulates, one per QC rule that touches DRG grouping.

``load_fixes()`` reads ``data/impact.toml`` (which rules, which action, the texts); each action
below rebuilds one finding's case "as it stands" and "as fixed" for the grouper:

- ``gray_child``: the gray code → its most specific valid child (:func:`best_child`);
- ``unknown_code``: dropped as it stands (the insurer cannot read it) → the candidate the code
  system offers (:func:`candidate`), else no fix ("needs a coder");
- ``swap_main``: the main diagnosis ↔ the first other diagnosis that qualifies;
- ``no_change``: the fix adds a code nobody knows yet, so the case is grouped once;
- ``count_procedure``: the undated or out-of-stay procedure dropped as it stands → counted.

The child and candidate choices are deliberately simple (national name equal to the local name,
else first in code order), which is why the table's fix text names the code chosen.
"""

from __future__ import annotations

import math
import tomllib
import unicodedata
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from hutong.quality.coding import category_ranges

if TYPE_CHECKING:
    from hutong.quality.drg.pack import DrgPack
    from hutong.terminologies.codesystem import CodeSystem

ACTIONS = ("gray_child", "unknown_code", "swap_main", "no_change", "count_procedure")
CODE = {"diseinfo": "diag_code", "oprninfo": "oprn_oprt_code"}
NAME = {"diseinfo": "diag_name", "oprninfo": "oprn_oprt_name"}
SYSTEM = {"diseinfo": "diagnosis", "oprninfo": "procedure"}
TEXTS = ("fix_zh", "fix_en", "nofix_zh", "nofix_en")


class ImpactTableError(ValueError):
    """An impact.toml that cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class Fix:
    """How one rule's finding is fixed for the simulation (an impact.toml entry)."""

    rule: str
    action: str
    node: str
    fix_zh: str
    fix_en: str
    nofix_zh: str
    nofix_en: str
    params: dict[str, Any] = field(default_factory=dict)
    fields: tuple[str, ...] = ()  # only findings on these fields; empty = all

    def touches(self, finding_field: object) -> bool:
        """Whether a finding on ``finding_field`` (``a,b`` for several) is one this fix prices."""
        named = set(str(finding_field).split(",")) if isinstance(finding_field, str) else set()
        return not self.fields or bool(named & set(self.fields))


def load_fixes(path: Path | str | None = None) -> dict[str, Fix]:
    """The fixes by rule id from ``path`` (default: the built-in ``data/impact.toml``)."""
    if path is None:
        where = "builtin:impact.toml"
        data = resources.files("hutong.quality").joinpath("data", "impact.toml").read_bytes()
    else:
        where, data = str(path), Path(path).read_bytes()
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise ImpactTableError(
            f"{where}: not a UTF-8 TOML file ({err}) / 不是 UTF-8 TOML 文件"
        ) from None
    fixes: dict[str, Fix] = {}
    for n, entry in enumerate(doc.get("fix", []), start=1):
        at = f"{where}: [[fix]] #{n} ({entry.get('rule', '?')})"
        missing = [k for k in ("rule", "action", "node", *TEXTS) if not entry.get(k)]
        if missing:
            raise ImpactTableError(f"{at}: missing {', '.join(missing)} / 缺少必填项")
        if entry["action"] not in ACTIONS:
            raise ImpactTableError(
                f"{at}: action must be one of {', '.join(ACTIONS)} / 未知的修正动作"
            )
        if entry["node"] not in CODE:
            raise ImpactTableError(
                f"{at}: node must be diseinfo or oprninfo / 节点须为 diseinfo 或 oprninfo"
            )
        if entry["rule"] in fixes:
            raise ImpactTableError(f"{at}: rule {entry['rule']} listed twice / 规则重复")
        params = dict(entry.get("params", {}))
        try:
            if "other" in params:
                category_ranges(params["other"])
        except ValueError as err:
            raise ImpactTableError(f"{at}: params.other: {err} / 编码范围有误") from None
        fields = entry.get("fields", [])
        if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
            raise ImpactTableError(
                f"{at}: fields must be a list of field codes / fields 须为字段代码列表"
            )
        fixes[entry["rule"]] = Fix(
            entry["rule"],
            entry["action"],
            entry["node"],
            *(entry[k] for k in TEXTS),
            params,
            tuple(fields),
        )
    return fixes


# ---- the simulation of one finding ----------------------------------------------------------

Row = dict[str, Any]  # one diseinfo / oprninfo row of a case, as a record
Case = tuple[list[Row], list[Row]]  # (diseinfo rows, oprninfo rows) of one case, in order


@dataclass
class Variant:
    """A finding's case as it stands and as fixed; None = unchanged, ``fixed=False`` = no fix."""

    before: Case | None = None
    after: Case | None = None
    fixed: bool = True
    old: str = ""
    new: str = ""


def blank(value: object) -> bool:
    return (
        value is None
        or value is pd.NA
        or value is pd.NaT
        or (isinstance(value, float) and math.isnan(value))
    )


def _plain(text: object) -> str:
    """A code or name compared loosely: NFKC, no blanks, a dagger written '+'."""
    if isinstance(text, str):
        return _plain_text(text)
    if blank(text):
        return ""
    return _plain_text(str(text))


@lru_cache(maxsize=1 << 17)
def _plain_text(text: str) -> str:  # codes and names repeat across findings and partitions
    return "".join(unicodedata.normalize("NFKC", text).split()).replace("†", "+")


@dataclass
class Context:
    """What the simulations read: the DRG pack and the code systems, look-ups built once."""

    pack: DrgPack
    codes: Mapping[str, CodeSystem]
    _index: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    _chosen: dict[tuple, str | None] = field(default_factory=dict)

    def system(self, node: str) -> CodeSystem | None:
        return self.codes.get(SYSTEM[node])

    def _built(self, node: str, what: str) -> dict[str, Any]:
        if (node, what) not in self._index:
            self._index[node, what] = _look_up(self.system(node), what)
        return self._index[node, what]

    def chosen(self, choose, node: str, code: str, name: object) -> str | None:
        """``choose(self, node, code, name)`` (:func:`best_child`, :func:`candidate`), once per
        code and name: a vendor's few unknown codes recur in thousands of findings."""
        key = (choose.__name__, node, code, _plain(name))
        if key not in self._chosen:
            self._chosen[key] = choose(self, node, code, name)
        return self._chosen[key]

    def by_upper(self, node: str) -> dict[str, str]:
        """Upper-cased code → code."""
        return self._built(node, "upper")

    def by_name(self, node: str) -> dict[str, list[str]]:
        """National name (compared loosely) → codes."""
        return self._built(node, "name")

    def children(self, node: str) -> dict[str, list[str]]:
        """Parent code → child codes in code order."""
        return self._built(node, "children")


# (id of a code system, what) → (weak reference to it, its size, the look-up): a run's
# partitions share the code systems, so each look-up is built once per process
_LOOK_UPS: dict[tuple[int, str], tuple[Any, int, dict[str, Any]]] = {}


def _look_up(system: CodeSystem | None, what: str) -> dict[str, Any]:
    """Upper-cased code → code, national name → codes, or parent → children of ``system``."""
    if system is None:
        return {}
    hit = _LOOK_UPS.get((id(system), what))
    if hit is not None and hit[0]() is system and hit[1] == len(system.concepts):
        return hit[2]
    index: dict[str, Any] = {}
    for c in system.concepts.values():
        if what == "upper":  # 医保版 codes mix cases: I10.x00x002
            index[c.code.upper()] = c.code
        elif what == "name":
            index.setdefault(_plain(c.display), []).append(c.code)
        elif c.parent:
            index.setdefault(c.parent, []).append(c.code)
    if what == "children":
        index = {p: sorted(kids) for p, kids in index.items()}
    key = (id(system), what)
    gone = lambda _: _LOOK_UPS.pop(key, None)  # noqa: E731  (a dead system's entry goes)
    _LOOK_UPS[key] = (weakref.ref(system, gone), len(system.concepts), index)
    return index


def best_child(ctx: Context, node: str, code: str, name: object = None) -> str | None:
    """The valid (active, not gray) descendant of ``code`` whose national name is ``name``,
    else the first valid one in code order, depth first; None when it has none."""
    system, children = ctx.system(node), ctx.children(node)
    if system is None:
        return None
    order: list[str] = []
    stack = list(reversed(children.get(code, [])))
    while stack:
        c = stack.pop()
        order.append(c)
        stack.extend(reversed(children.get(c, [])))
    valid = [c for c in order if system.concepts[c].active and not system.concepts[c].gray]
    wanted = _plain(name)
    named = [c for c in valid if wanted and _plain(system.concepts[c].display) == wanted]
    return (named or valid or [None])[0]


def candidate(ctx: Context, node: str, code: str, name: object = None) -> str | None:
    """A valid code for an unknown one: the same code written loosely, else the one code
    whose national name is the local name (a gray hit goes on to its best child)."""
    system = ctx.system(node)
    if system is None:
        return None
    loose = _plain(code)
    found = loose if loose in system.concepts else ctx.by_upper(node).get(loose.upper())
    if found is None and _plain(name):
        named = ctx.by_name(node).get(_plain(name), [])
        found = named[0] if len(named) == 1 else None
    if found is not None and system.concepts[found].gray:
        return best_child(ctx, node, found, name)
    return found


def _rows(case: Case, node: str) -> list[Row]:
    return case[0] if node == "diseinfo" else case[1]


def _target(rows: list[Row], node: str, value: str | None, wrong) -> list[int]:
    """Rows of the case holding the finding's code, else (no value) the rows ``wrong`` picks."""
    codes = [_plain(r[CODE[node]]) for r in rows]
    if value and (hit := [i for i, c in enumerate(codes) if c == _plain(value)]):
        return hit
    return [i for i, c in enumerate(codes) if c and wrong(c)]


def _replace(case: Case, node: str, rows: list[Row]) -> Case:
    return (rows, case[1]) if node == "diseinfo" else (case[0], rows)


def _recode(case: Case, node: str, at: list[int], code: str, ctx: Context) -> Case:
    system = ctx.system(node)
    name = system.concepts[code].display if system and code in system.concepts else None
    rows = list(_rows(case, node))
    for i in at:
        rows[i] = {**rows[i], CODE[node]: code} | ({NAME[node]: name} if name else {})
    return _replace(case, node, rows)


def _without(case: Case, node: str, at: list[int]) -> Case:
    rows = [r for i, r in enumerate(_rows(case, node)) if i not in set(at)]
    return _replace(case, node, rows)


def gray_child(fix: Fix, case: Case, value, setl: Row, ctx: Context) -> Variant:
    rows = _rows(case, fix.node)
    system = ctx.system(fix.node)
    concepts = system.concepts if system is not None else {}
    # a look-up per code, not the system's whole gray set built for every finding
    at = _target(rows, fix.node, value, lambda c: c in concepts and concepts[c].gray)
    if not at:
        return Variant(fixed=False, old=value or "")
    old = _plain(rows[at[0]][CODE[fix.node]])
    new = ctx.chosen(best_child, fix.node, old, rows[at[0]][NAME[fix.node]])
    if new is None:
        return Variant(fixed=False, old=old)
    return Variant(after=_recode(case, fix.node, at, new, ctx), old=old, new=new)


def unknown_code(fix: Fix, case: Case, value, setl: Row, ctx: Context) -> Variant:
    rows = _rows(case, fix.node)
    system = ctx.system(fix.node)
    at = _target(rows, fix.node, value, lambda c: system is not None and c not in system)
    if not at:
        return Variant(fixed=False, old=value or "")
    before = _without(case, fix.node, at)
    old = _plain(rows[at[0]][CODE[fix.node]])
    new = ctx.chosen(candidate, fix.node, old, rows[at[0]][NAME[fix.node]])
    if new is None:
        return Variant(before=before, fixed=False, old=old)
    return Variant(before=before, after=_recode(case, fix.node, at, new, ctx), old=old, new=new)


def _western(row: Row) -> bool:
    """A western-medicine diagnosis (diag_type 1 or not given), as hutong.quality.coding."""
    return blank(row.get("diag_type")) or str(row["diag_type"]).strip() == "1"


def _in(code: str, ranges: list[tuple[str, str]]) -> bool:
    category = code.upper()[:3]
    return any(low <= category <= high for low, high in ranges)


def swap_main(fix: Fix, case: Case, value, setl: Row, ctx: Context) -> Variant:
    dx, px = case
    western = [i for i, r in enumerate(dx) if _western(r)]
    mains = [i for i in western if _plain(dx[i]["maindiag_flag"]) == "1"]
    if not mains:
        return Variant(fixed=False)
    main, old = mains[0], _plain(dx[mains[0]]["diag_code"])
    skip = set(fix.params.get("skip_adm_cond", []))
    ranges = category_ranges(fix.params["other"]) if fix.params.get("other") else None
    invalid = ctx.pack.zd_invalid  # a code that cannot be a principal does not qualify

    def qualifies(row: Row) -> bool:
        code = _plain(row["diag_code"])
        return (
            bool(code)
            and code not in invalid
            and _plain(row.get("adm_cond_type")) not in skip
            and (ranges is None or _in(code, ranges))
        )

    other = next((i for i in western if i not in mains and qualifies(dx[i])), None)
    if other is None:
        return Variant(fixed=False, old=old)
    after = list(dx)  # the two rows change places and flags
    after[main] = {**dx[other], "maindiag_flag": "1"}
    after[other] = {**dx[main], "maindiag_flag": "0"}
    return Variant(after=(after, px), old=old, new=_plain(dx[other]["diag_code"]))


def no_change(fix: Fix, case: Case, value, setl: Row, ctx: Context) -> Variant:
    return Variant()


def _day(value: object) -> pd.Timestamp | None:
    return None if blank(value) else pd.Timestamp(value).normalize()


def count_procedure(fix: Fix, case: Case, value, setl: Row, ctx: Context) -> Variant:
    px = case[1]
    adm, dscg = _day(setl.get("adm_time")), _day(setl.get("dscg_time"))

    def dropped(row: Row) -> bool:  # undated, or dated outside the stay
        day = _day(row.get("oprn_oprt_date"))
        return day is None or (adm is not None and day < adm) or (dscg is not None and day > dscg)

    at = [i for i, r in enumerate(px) if dropped(r)]
    if not at:
        return Variant(fixed=False)
    old = "、".join(_plain(px[i]["oprn_oprt_code"]) for i in at)
    return Variant(before=_without(case, "oprninfo", at), old=old)


SIMULATE = {
    f.__name__: f for f in (gray_child, unknown_code, swap_main, no_change, count_procedure)
}
