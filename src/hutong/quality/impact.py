"""What the QC findings cost: each finding's case grouped as it stands and as its fix makes it.

>>> findings = check(sheet, "nhsa-settlement+code-validity", codes=codes)  # doctest: +SKIP
>>> table = impact(sheet, findings, pack, codes, weights, base_rate=12000)  # doctest: +SKIP
>>> write_impact(table, out / "impact.csv")                # doctest: +SKIP

Which rules touch grouping and how their fix is simulated is data (``data/impact.toml``, one
entry per rule id with its source, read and acted on by ``hutong.quality.fixes``); findings of
other rules are left out of the table. Only the cases with such findings are grouped: each case
as it stands once, each changed variant once, all in one ``group_facesheet`` call. A run passes
its own grouping (``groups=``): then the cases as they stand are not grouped again, and a
variant is grouped only when what its DRG depends on (``drg.grouper.drg_key``) is new, which
most are not (an unknown vendor code dropped is a code no DRG table names).

One row per finding: ``mdtrt_id, rule_id, field, fix_zh, fix_en, drg_before, drg_after,
weight_before, weight_after, weight_diff, amount``. ``weight_diff`` is after − before, ``amount``
is ``weight_diff`` × ``base_rate`` (元 per weight point); both are NaN when a weight or the rate
is unknown, and ``drg_after`` is empty when no fix can be simulated (the fix text then says
"needs a coder"). A listed rule whose fix changes nothing shows the same DRG twice and a zero
difference. Rows are sorted by |amount| (largest first, unknown last), then case and rule.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from hutong.gcpause import paused_gc
from hutong.mapping.facesheet import FaceSheet
from hutong.model import is_in
from hutong.quality.drg.grouper import (
    SETL_FIELDS,
    dx_part,
    key_of,
    patient_part,
    px_part,
)
from hutong.quality.drg.sheet import group_facesheet
from hutong.quality.fixes import SIMULATE, Case, Context, Fix, Row, load_fixes
from hutong.quality.kinds import texts
from hutong.quality.weights import weight_of

if TYPE_CHECKING:
    from hutong.quality.drg.pack import DrgPack
    from hutong.terminologies.codesystem import CodeSystem

COLUMNS = [
    "mdtrt_id", "rule_id", "field", "fix_zh", "fix_en", "drg_before", "drg_after",
    "weight_before", "weight_after", "weight_diff", "amount",
]  # fmt: skip
FLOAT_FORMAT = "%.4f"  # weights and amounts as impact.csv writes them
VALUE = re.compile(r"（([^（）]*)）$")  # the value the engine appends to message_zh
KEEP = ["mdtrt_id", "rule_id", "field"]  # a finding's columns the table keeps
SETL_READ = ["adm_time", "dscg_time"]  # setlinfo fields a simulation reads (count_procedure)
NODE_READ = {  # the diseinfo and oprninfo fields the simulations (fixes.py) and grouper read
    "diseinfo": ["maindiag_flag", "diag_type", "diag_code", "diag_name", "adm_cond_type"],
    "oprninfo": ["oprn_oprt_type", "oprn_oprt_code", "oprn_oprt_name", "oprn_oprt_date"],
}


@lru_cache(maxsize=1 << 14)  # messages repeat: a vendor's few unknown codes in many cases
def _value(message: object) -> str | None:
    m = VALUE.search(str(message)) if isinstance(message, str) else None
    return m.group(1) if m else None


def _read(sheet: FaceSheet, node: str) -> pd.DataFrame:
    """The columns of ``node`` that the simulations and the grouper read."""
    frame = sheet.node(node)
    return frame[[c for c in ("mdtrt_id", *NODE_READ[node]) if c in frame.columns]]


def _records(frame: pd.DataFrame, ids: set[str]) -> dict[str, list[dict]]:
    """The rows of the cases ``ids`` as records (with ``_row``, the row label), per case.

    Column by column (``tolist``), missing values as None: ``to_dict("records")`` walks every
    Arrow cell as a Python object, several times slower."""
    part = frame[is_in(frame["mdtrt_id"], ids).fillna(False).to_numpy(dtype=bool)]
    names = [*part.columns, "_row"]
    columns = [_plain_list(part[c]) for c in part.columns]
    columns.append(part.index.tolist())
    keys = [str(k) for k in columns[names.index("mdtrt_id")]]
    out: dict[str, list[dict]] = {}
    for key, values in zip(keys, zip(*columns, strict=True), strict=True):
        if key in out:
            out[key].append(dict(zip(names, values, strict=True)))
        else:
            out[key] = [dict(zip(names, values, strict=True))]
    return out


def _plain_list(column: pd.Series) -> list:
    """A column's values, NA as None (as ``to_dict("records")`` gives them)."""
    if isinstance(column.dtype, pd.StringDtype):
        return texts(column)
    values = column.tolist()
    if column.hasnans:
        values = [None if v is pd.NA else v for v in values]
    return values


@paused_gc()  # records, keys and rows by the thousand, none of them cyclic
def impact(
    sheet: FaceSheet,
    findings: pd.DataFrame,
    pack: DrgPack,
    codes: Mapping[str, CodeSystem] | None = None,
    weights: Mapping[str, float] | None = None,
    base_rate: float | None = None,
    fixes: Mapping[str, Fix] | None = None,
    groups: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The payment impact of the findings that touch grouping (see the module docstring).

    ``codes`` is ``{"diagnosis": CodeSystem, "procedure": CodeSystem}`` (gray children and
    candidates for unknown codes come from it); ``weights`` maps DRG → relative weight;
    ``base_rate`` is 元 per weight point; ``fixes`` defaults to :func:`load_fixes`.
    ``groups``, when given, is ``group_facesheet(sheet, pack)`` (as a run has it already):
    the DRGs of the cases as they stand are taken from it instead of grouped again.
    """
    fixes = load_fixes() if fixes is None else fixes
    ctx = Context(pack, dict(codes or {}))
    ids = set(sheet.setlinfo["mdtrt_id"].dropna().astype(str))
    listed = is_in(findings["rule_id"], list(fixes)) & is_in(findings["mdtrt_id"], ids)
    todo = findings[listed.to_numpy(dtype=bool)]
    pairs = zip(texts(todo["rule_id"]), texts(todo["field"]), strict=True)  # Arrow: by Arrow
    priced = [fixes[r].touches(f) for r, f in pairs]
    todo = todo[pd.Series(priced, index=todo.index, dtype=bool)]
    todo = todo.drop_duplicates().reset_index(drop=True)
    if todo.empty:
        return _frame([])
    wanted = set(todo["mdtrt_id"].astype(str))
    stay = sheet.setlinfo[["mdtrt_id", *SETL_READ]]  # what the simulations read
    setl = {k: rows[0] for k, rows in _records(stay, wanted).items()}
    dx, px = (_records(_read(sheet, node), wanted) for node in ("diseinfo", "oprninfo"))
    grouping = _Grouping(sheet, pack, setl, dx, px, groups)

    plans = []
    messages = texts(todo["message_zh"]) if "message_zh" in todo else [None] * len(todo)
    columns = (texts(todo[c].astype(str) if c == "mdtrt_id" else todo[c]) for c in KEEP)
    for mid, rule_id, fld, message in zip(*columns, messages, strict=True):
        fix = fixes[rule_id]
        case = (dx.get(mid, []), px.get(mid, []))
        v = SIMULATE[fix.action](fix, case, _value(message), setl[mid], ctx)
        before = grouping.key(mid, v.before)
        after = grouping.key(mid, v.after) if v.fixed else None
        text = (fix.fix_zh, fix.fix_en) if v.fixed else (fix.nofix_zh, fix.nofix_en)
        shown = [t.format(old=v.old, new=v.new) for t in text]
        plans.append((mid, rule_id, fld, *shown, before, after))

    drg = grouping.drgs()
    rows = []
    for mid, rule_id, fld, zh, en, before, after in plans:
        d0, d1 = drg[before], (drg[after] if after is not None else None)
        w0 = weight_of(d0, weights)
        w1 = weight_of(d1, weights) if d1 else math.nan
        diff = w1 - w0
        money = diff * base_rate if base_rate is not None else math.nan
        rows.append((mid, rule_id, fld, zh, en, d0, d1, w0, w1, diff, money))
    return _frame(rows)


class _Grouping:
    """The DRG of every case variant the simulations make, each grouped at most once.

    With the sheet's groups given (a run has them), a variant is keyed by what its DRG depends
    on (``drg_key``): most findings are unknown vendor codes, whose case without the code, or
    with a candidate the DRG pack does not name either, has the key, and so the DRG, of the
    case as it stands, which the groups have. Only variants with a new key are grouped.
    Without them, each case as it stands and each variant is grouped. Either way, in one
    ``group_facesheet`` call."""

    def __init__(self, sheet: FaceSheet, pack: DrgPack, setl: dict, dx, px, groups) -> None:
        self.sheet, self.pack, self.setl, self.dx, self.px = sheet, pack, setl, dx, px
        self.known: dict[tuple, str] = {}  # key → DRG
        self.todo: dict[tuple, tuple[str, Case]] = {}  # key → (case key, rows) to group
        self.stands: dict[str, tuple] = {}  # case key → the key of the case as it stands
        rows = [setl[mid]["_row"] for mid in setl]
        shares = list(SETL_FIELDS[:4])  # what patient_part reads
        frame = sheet.setlinfo.reindex(columns=shares).loc[rows]
        values = zip(*(_plain_list(frame[c]) for c in shares), strict=True)
        patients = (patient_part(row) for row in values)
        self.values = dict(zip(setl, patients, strict=True))  # case key → its patient share
        self.parts: dict[int, tuple[list[Row], tuple]] = {}  # id(rows) → (rows, their share)
        self.grouped: dict[str, str] | None = None  # case key → its DRG in ``groups``
        if groups is not None:  # (the cases there once)
            self.grouped = {}
        if groups is not None and len(groups):
            mids = groups["mdtrt_id"].astype(str)
            once = (~mids.duplicated(keep=False)).to_numpy()
            drgs = groups["drg"].astype(str)
            self.grouped = dict(zip(texts(mids[once]), texts(drgs[once]), strict=True))

    def key(self, mid: str, case: Case | None) -> tuple:
        """The key of ``mid``'s variant ``case`` (None: the case as it stands)."""
        if self.grouped is None:  # no groups given: every variant in the batch, as it comes
            key = (mid,) if case is None else (mid, len(self.todo))
            self.todo.setdefault(key, (mid, case or (self.dx.get(mid, []), self.px.get(mid, []))))
            return key
        stands = self.stands.get(mid)
        if stands is None:
            rows = (self.dx.get(mid, []), self.px.get(mid, []))
            stands = self.stands[mid] = self._key(mid, rows)
            if mid in self.grouped:  # grouped already: its key's DRG is known
                self.known[stands] = self.grouped[mid]
                self.todo.pop(stands, None)
            elif stands not in self.known:
                self.todo.setdefault(stands, (mid, rows))
        if case is None:
            return stands
        key = self._key(mid, case)
        if key not in self.known and key not in self.todo:
            self.todo[key] = (mid, case)
        return key

    def _key(self, mid: str, case: Case) -> tuple:
        dx, px = self._part(case[0], dx_part), self._part(case[1], px_part)
        return key_of(dx, px, self.values[mid])

    def _part(self, rows: list[Row], part) -> tuple:
        """A node's share of the key; a variant keeps the other node's rows (the same list)."""
        hit = self.parts.get(id(rows))
        if hit is None or hit[0] is not rows:
            hit = self.parts[id(rows)] = (rows, part(rows, self.pack))  # rows held: id stays
        return hit[1]

    def drgs(self) -> dict[tuple, str]:
        if self.todo:
            self.known.update(_group(self.todo, self.setl, self.sheet, self.pack))
        return self.known


def _group(variants: dict, setl, sheet: FaceSheet, pack: DrgPack) -> dict:
    """Group every variant in one call; returns variant key → DRG. The batch has the columns
    the grouper reads (setlinfo ``SETL_FIELDS``, the simulations' ``NODE_READ``), not all 81."""
    read = [c for c in ("mdtrt_id", *SETL_FIELDS) if c in sheet.setlinfo.columns]
    s = sheet.setlinfo[read].loc[[setl[mid]["_row"] for mid, _ in variants.values()]]
    key_type = sheet.setlinfo["mdtrt_id"].dtype
    names = [str(n) for n in range(len(variants))]  # the batch's case ids
    s = s.reset_index(drop=True).assign(mdtrt_id=pd.Series(names, dtype=key_type))
    cases = list(zip(names, (case for _, case in variants.values()), strict=True))
    rows = {
        "diseinfo": [{**r, "mdtrt_id": k} for k, case in cases for r in case[0]],
        "oprninfo": [{**r, "mdtrt_id": k} for k, case in cases for r in case[1]],
    }
    nodes = {}
    for node, records in rows.items():
        like = _read(sheet, node)
        frame = pd.DataFrame.from_records(records, columns=list(like.columns))
        nodes[node] = frame.astype(like.dtypes.to_dict())
    batch = FaceSheet(setlinfo=s, iteminfo=sheet.iteminfo.iloc[:0], **nodes)
    groups = group_facesheet(batch, pack)
    drg = dict(zip(groups["mdtrt_id"].astype(str), groups["drg"].astype(str), strict=True))
    return {key: drg[name] for key, name in zip(variants, names, strict=True)}


def _frame(rows: list[tuple]) -> pd.DataFrame:
    out = pd.DataFrame(rows, columns=COLUMNS)
    for c in COLUMNS[:7]:
        out[c] = out[c].astype("string")
    for c in COLUMNS[7:]:
        out[c] = out[c].astype("float64")
    size = out["amount"].abs().fillna(-1.0)
    out = out.assign(_size=size).sort_values(
        ["_size", "mdtrt_id", "rule_id", "field", "fix_en"],
        ascending=[False, True, True, True, True],
        kind="mergesort",
    )
    return out.drop(columns="_size").reset_index(drop=True)


def write_impact(frame: pd.DataFrame, path: Path | str) -> Path:
    """Write the impact table as CSV (UTF-8 with BOM for Excel, ``\\n`` line ends)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame[COLUMNS].to_csv(
        path, index=False, encoding="utf-8-sig", lineterminator="\n", float_format=FLOAT_FORMAT
    )
    return path
