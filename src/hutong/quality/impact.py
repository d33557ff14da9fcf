"""What the QC findings cost: each finding's case grouped as it stands and as its fix makes it.

>>> findings = check(sheet, "nhsa-settlement+code-validity", codes=codes)  # doctest: +SKIP
>>> table = impact(sheet, findings, pack, codes, weights, base_rate=12000)  # doctest: +SKIP
>>> write_impact(table, out / "impact.csv")                # doctest: +SKIP

Which rules touch grouping and how their fix is simulated is data (``data/impact.toml``, one
entry per rule id with its source, read and acted on by ``hutong.quality.fixes``); findings of
other rules are left out of the table. Only the cases with such findings are grouped: each case
as it stands once, each changed variant once, all in one ``group_facesheet`` call.

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
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from hutong.mapping.facesheet import FaceSheet
from hutong.quality.drg.grouper import group_facesheet
from hutong.quality.fixes import SIMULATE, Case, Context, Fix, load_fixes
from hutong.quality.weights import weight_of

if TYPE_CHECKING:
    from hutong.quality.drg.pack import DrgPack
    from hutong.terminologies.codesystem import CodeSystem

COLUMNS = [
    "mdtrt_id", "rule_id", "field", "fix_zh", "fix_en", "drg_before", "drg_after",
    "weight_before", "weight_after", "weight_diff", "amount",
]  # fmt: skip
VALUE = re.compile(r"（([^（）]*)）$")  # the value the engine appends to message_zh
SETL_READ = ["adm_time", "dscg_time"]  # setlinfo fields a simulation reads (count_procedure)
KEY_SEP = "\x1f"  # joins a case key and a variant number; not in real mdtrt_id values


def _value(message: object) -> str | None:
    m = VALUE.search(str(message)) if isinstance(message, str) else None
    return m.group(1) if m else None


def _records(frame: pd.DataFrame, ids: set[str]) -> dict[str, list[dict]]:
    """The rows of the cases ``ids`` as records (with ``_row``, the row label), per case."""
    part = frame[frame["mdtrt_id"].isin(ids).fillna(False).to_numpy(dtype=bool)]
    out: dict[str, list[dict]] = {}
    for row in part.assign(_row=part.index).to_dict("records"):
        out.setdefault(str(row["mdtrt_id"]), []).append(row)
    return out


def impact(
    sheet: FaceSheet,
    findings: pd.DataFrame,
    pack: DrgPack,
    codes: Mapping[str, CodeSystem] | None = None,
    weights: Mapping[str, float] | None = None,
    base_rate: float | None = None,
    fixes: Mapping[str, Fix] | None = None,
) -> pd.DataFrame:
    """The payment impact of the findings that touch grouping (see the module docstring).

    ``codes`` is ``{"diagnosis": CodeSystem, "procedure": CodeSystem}`` (gray children and
    candidates for unknown codes come from it); ``weights`` maps DRG → relative weight;
    ``base_rate`` is 元 per weight point; ``fixes`` defaults to :func:`load_fixes`.
    """
    fixes = load_fixes() if fixes is None else fixes
    ctx = Context(pack, dict(codes or {}))
    ids = set(sheet.setlinfo["mdtrt_id"].dropna().astype(str))
    todo = findings[findings["rule_id"].isin(list(fixes)) & findings["mdtrt_id"].isin(ids)]
    priced = [fixes[r].touches(f) for r, f in zip(todo["rule_id"], todo["field"], strict=True)]
    todo = todo[pd.Series(priced, index=todo.index, dtype=bool)]
    todo = todo.drop_duplicates().reset_index(drop=True)
    if todo.empty:
        return _frame([])
    wanted = set(todo["mdtrt_id"].astype(str))
    stay = sheet.setlinfo[["mdtrt_id", *SETL_READ]]  # what the simulations read
    setl = {k: rows[0] for k, rows in _records(stay, wanted).items()}
    dx, px = _records(sheet.diseinfo, wanted), _records(sheet.oprninfo, wanted)

    variants: dict[str, tuple[str, Case]] = {}  # grouping key → (case key, rows)

    def keyed(mid: str, case: Case | None) -> str:
        if case is None:  # the case as it stands: grouped once for all its findings
            variants.setdefault(mid, (mid, (dx.get(mid, []), px.get(mid, []))))
            return mid
        key = f"{mid}{KEY_SEP}{len(variants)}"
        variants[key] = (mid, case)
        return key

    plans = []
    for f in todo.itertuples(index=False):
        mid, fix = str(f.mdtrt_id), fixes[f.rule_id]
        case = (dx.get(mid, []), px.get(mid, []))
        value = _value(getattr(f, "message_zh", None))
        v = SIMULATE[fix.action](fix, case, value, setl[mid], ctx)
        before = keyed(mid, v.before)
        after = keyed(mid, v.after) if v.fixed else None
        text = (fix.fix_zh, fix.fix_en) if v.fixed else (fix.nofix_zh, fix.nofix_en)
        texts = [t.format(old=v.old, new=v.new) for t in text]
        plans.append((mid, f.rule_id, f.field, *texts, before, after))

    drg = _group(variants, setl, sheet, pack)
    rows = []
    for mid, rule_id, fld, zh, en, before, after in plans:
        d0, d1 = drg[before], (drg[after] if after else None)
        w0 = weight_of(d0, weights)
        w1 = weight_of(d1, weights) if d1 else math.nan
        diff = w1 - w0
        money = diff * base_rate if base_rate is not None else math.nan
        rows.append((mid, rule_id, fld, zh, en, d0, d1, w0, w1, diff, money))
    return _frame(rows)


def _group(variants, setl, sheet: FaceSheet, pack: DrgPack) -> dict[str, str]:
    """Group every variant in one call; returns grouping key → DRG."""
    s = sheet.setlinfo.loc[[setl[mid]["_row"] for mid, _ in variants.values()]]
    key_type = sheet.setlinfo["mdtrt_id"].dtype
    s = s.reset_index(drop=True).assign(mdtrt_id=pd.Series(list(variants), dtype=key_type))
    rows = {
        "diseinfo": [{**r, "mdtrt_id": k} for k, (_, case) in variants.items() for r in case[0]],
        "oprninfo": [{**r, "mdtrt_id": k} for k, (_, case) in variants.items() for r in case[1]],
    }
    nodes = {}
    for node, records in rows.items():
        like = sheet.node(node)
        frame = pd.DataFrame.from_records(records, columns=list(like.columns))
        nodes[node] = frame.astype(like.dtypes.to_dict())
    batch = FaceSheet(setlinfo=s, iteminfo=sheet.iteminfo.iloc[:0], **nodes)
    groups = group_facesheet(batch, pack)
    return dict(zip(groups["mdtrt_id"].astype(str), groups["drg"].astype(str), strict=True))


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
        path, index=False, encoding="utf-8-sig", lineterminator="\n", float_format="%.4f"
    )
    return path
