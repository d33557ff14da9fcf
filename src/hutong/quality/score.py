"""A 100-point quality score per case, deducted per finding by scoring item and group.

>>> scores = score_cases(sheet, findings)                   # doctest: +SKIP
>>> write_scores(scores, out / "scores.csv")                 # doctest: +SKIP

The table (``data/score.toml``) is modelled on the 2016 face-sheet scoring table (国卫办医发
〔2016〕24号 附件2): groups with points summing to 100 and items inside them. Each item is
deducted once per case, a group never loses more than its points, so a score is 0..100 and the
same findings always give the same scores.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from hutong.mapping.facesheet import NODES, FaceSheet, layout
from hutong.quality.coding import main_rows
from hutong.quality.kinds import truth
from hutong.quality.pack import builtin_packs, load_pack

MAIN_FIELDS = {"diag_code", "diag_name", "maindiag_flag", "adm_cond_type"}
MAIN_OP_FIELDS = {"oprn_oprt_code", "oprn_oprt_name", "oprn_oprt_type"}


@dataclass(frozen=True)
class Group:
    """A scoring group (患者基本信息 ...) with its points and the default item deduction."""

    id: str
    name_zh: str
    name_en: str
    points: float
    default_points: float


@dataclass(frozen=True)
class Item:
    """A scoring item: the points it costs, the fields and rules that hit it."""

    id: str
    group: str
    points: float
    fields: tuple[str, ...]
    rules: tuple[str, ...]


@dataclass(frozen=True)
class ScoreTable:
    """A validated scoring table: groups (points sum to 100), items, node → default group."""

    groups: tuple[Group, ...]
    items: tuple[Item, ...]
    nodes: Mapping[str, str]
    excellent: float
    source: str

    def group(self, group_id: str) -> Group:
        return next(g for g in self.groups if g.id == group_id)


def load_score_table(path: Path | str | None = None) -> ScoreTable:
    """The built-in table (``data/score.toml``) or a table file; ValueError naming what is wrong."""
    if path is None:
        return _builtin()
    path = Path(path)
    return parse_score_table(path.read_text("utf-8"), str(path))


@cache
def _builtin() -> ScoreTable:
    text = resources.files("hutong.quality").joinpath("data", "score.toml").read_text("utf-8")
    return parse_score_table(text, "score.toml")


def parse_score_table(text: str, origin: str = "<score table>") -> ScoreTable:
    """Validate a scoring table: known groups, points summing to 100, items within groups."""
    doc = tomllib.loads(text)
    source = next((ln[9:].strip() for ln in text.splitlines() if ln.startswith("# source:")), "")
    groups = tuple(
        Group(g["id"], g["name_zh"], g["name_en"], float(g["points"]), float(g["default_points"]))
        for g in doc.get("group", [])
    )
    total = sum(g.points for g in groups)
    if abs(total - 100) > 1e-9:
        raise ValueError(f"{origin}: group points sum to {total:g}, not 100")
    ids = {g.id for g in groups}
    items = []
    for entry in doc.get("item", []):
        item = Item(
            entry["id"],
            entry["group"],
            float(entry["points"]),
            tuple(entry.get("fields", ())),
            tuple(entry.get("rules", ())),
        )
        if item.group not in ids:
            raise ValueError(f"{origin}: item {item.id} names unknown group {item.group!r}")
        if item.points < 0 or item.points > next(g.points for g in groups if g.id == item.group):
            raise ValueError(f"{origin}: item {item.id} points out of range")
        items.append(item)
    nodes = dict(doc.get("nodes", {}))
    for node, group in nodes.items():
        if group not in ids:
            raise ValueError(f"{origin}: [nodes] {node} names unknown group {group!r}")
    excellent = float(doc.get("score", {}).get("excellent", 90))
    return ScoreTable(groups, tuple(items), nodes, excellent, source)


@cache
def _messages() -> dict[str, str]:
    """The Chinese message of every built-in rule, by id."""
    return {r.id: r.message_zh for name in builtin_packs() for r in load_pack(name).rules}


def finding_code(findings: pd.DataFrame) -> pd.Series:
    """The code a finding shows (``…（I25.103）``, ``…（I25.103：名称）``), else NA.

    The engine appends the offending value to the rule's message in full-width brackets. The
    rule's own message is cut off when it is a built-in rule (some have brackets of their own);
    otherwise the value starts at the first bracket.
    """
    messages = _messages()
    codes: list[str | None] = []
    # plain lists: iterating Arrow-backed Series element by element is several times slower
    rule_ids, texts = findings["rule_id"].tolist(), findings["message_zh"].tolist()
    for rule_id, text in zip(rule_ids, texts, strict=True):
        if not isinstance(text, str):
            codes.append(None)
            continue
        base = messages.get(str(rule_id), "")
        rest = text[len(base) :] if base and text.startswith(base) else text[text.find("（") :]
        if "（" not in text or not (rest.startswith("（") and rest.endswith("）")):
            codes.append(None)
            continue
        code = rest[1:-1].split("：")[0].strip().replace("†", "+")
        codes.append(code or None)
    return pd.Series(codes, index=findings.index, dtype="string")


def main_codes(sheet: FaceSheet) -> tuple[pd.Series, pd.Series]:
    """The main diagnosis code and the principal procedure code of each case, by ``mdtrt_id``."""
    dx = main_rows(sheet.diseinfo).set_index("mdtrt_id")["diag_code"]
    ops = sheet.oprninfo
    ops = ops[truth(ops["oprn_oprt_type"].str.strip() == "1").to_numpy()]
    op = ops.drop_duplicates("mdtrt_id").set_index("mdtrt_id")["oprn_oprt_code"]
    clean = lambda s: s.astype("string").str.strip().str.replace("†", "+", regex=False)  # noqa: E731
    return clean(dx), clean(op)


def on_main(sheet: FaceSheet, findings: pd.DataFrame) -> pd.Series:
    """True for findings on the main diagnosis or principal procedure row of their case.

    A finding shows its row's code; when the main row's code is blank, a finding on its code
    field (which then shows no value) is taken to be on the main row.
    """
    dx, op = main_codes(sheet)
    code = finding_code(findings)
    first = findings["field"].astype("string").str.split(",").str[0]
    out = pd.Series(False, index=findings.index)
    for fields, main in ((MAIN_FIELDS, dx), (MAIN_OP_FIELDS, op)):
        mine = first.isin(fields).fillna(False).to_numpy(dtype=bool)
        want = findings["mdtrt_id"].map(main).astype("string")
        same = truth(code == want).to_numpy(dtype=bool)
        blank_main = (want.isna() | (want == "")).fillna(True).to_numpy(dtype=bool)
        out |= mine & (same | (blank_main & code.isna().to_numpy(dtype=bool)))
    return out


def _node_of(field_name: str) -> str | None:
    for node in NODES:
        if field_name in layout().get(node, []):
            return node
    return None


def _item_for(table: ScoreTable, rule_id: str, fields: str, main: bool) -> tuple[str, str, float]:
    """(group, item, points) of one finding: by rule, then by (main.)field, then by node."""
    for item in table.items:
        if any(fnmatchcase(rule_id, pattern) for pattern in item.rules):
            return item.group, item.id, item.points
    names = [f.strip() for f in str(fields).split(",") if f.strip()]
    keys = [f"main.{f}" for f in names] if main else []
    for key in [*keys, *names]:
        for item in table.items:
            if key in item.fields:
                return item.group, item.id, item.points
    node = _node_of(names[0]) if names else None
    group = table.nodes.get(node or "", table.groups[0].id)
    return group, f"field:{names[0] if names else rule_id}", table.group(group).default_points


def deductions(
    sheet: FaceSheet, findings: pd.DataFrame, table: ScoreTable | None = None
) -> pd.DataFrame:
    """One row per (case, item) hit: ``mdtrt_id, group, item, points`` (before group caps)."""
    table = table or load_score_table()
    cols = ["mdtrt_id", "group", "item", "points"]
    if findings.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in cols})
    main = on_main(sheet, findings).to_numpy(dtype=bool)
    cache: dict[tuple[str, str, bool], tuple[str, str, float]] = {}
    rows = []
    columns = (findings[c].tolist() for c in ("mdtrt_id", "rule_id", "field"))
    for mdtrt_id, rule_id, fields, is_main in zip(*columns, main.tolist(), strict=True):
        key = (str(rule_id), str(fields), bool(is_main))
        if key not in cache:
            cache[key] = _item_for(table, *key)
        rows.append((mdtrt_id, *cache[key]))
    hits = pd.DataFrame(rows, columns=cols)
    hits = hits.groupby(["mdtrt_id", "group", "item"], as_index=False, sort=True)["points"].max()
    return hits


def score_cases(
    sheet: FaceSheet, findings: pd.DataFrame, table: ScoreTable | Path | str | None = None
) -> pd.DataFrame:
    """``mdtrt_id, score`` and one column per group (points kept), one row per case, by id."""
    if not isinstance(table, ScoreTable):
        table = load_score_table(table)
    ids = sorted(sheet.setlinfo["mdtrt_id"].dropna().astype(str).unique())
    hits = deductions(sheet, findings, table)
    group_ids = [g.id for g in table.groups]
    lost = (
        hits.astype({"points": float})
        .pivot_table(index="mdtrt_id", columns="group", values="points", aggfunc="sum")
        .reindex(index=ids, columns=group_ids)
        .fillna(0.0)
        if len(hits)
        else pd.DataFrame(0.0, index=ids, columns=group_ids)
    )
    out = pd.DataFrame({"mdtrt_id": ids})
    total = pd.Series(0.0, index=out.index)
    for group in table.groups:
        taken = pd.Series(lost[group.id].to_numpy(dtype=float), index=out.index)
        kept = (group.points - taken.clip(upper=group.points)).round(2)
        out[group.id] = kept
        total += kept
    out.insert(1, "score", total.clip(lower=0).round(2))
    return out


def write_scores(scores: pd.DataFrame, path: Path | str) -> Path:
    """Write ``scores.csv`` (UTF-8 with BOM, ``\\n`` line ends), sorted by case."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ordered = scores.sort_values("mdtrt_id", kind="mergesort")
    ordered.to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\n")
    return path


def groups_summary(table: ScoreTable | None = None) -> list[dict[str, Any]]:
    """The groups as plain data (id, names, points) for reports and manifests."""
    table = table or load_score_table()
    return [
        {"id": g.id, "name_zh": g.name_zh, "name_en": g.name_en, "points": g.points}
        for g in table.groups
    ]
