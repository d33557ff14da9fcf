"""The run outputs the QC worklist reads: a folder of ``hutong run -o`` results, one per child.

>>> runs = list_runs(folder)                           # doctest: +SKIP
>>> table = findings(run_folder(folder, "vendor-a"))   # doctest: +SKIP
>>> detail = case_detail(run_folder(folder, "vendor-a"), "2024123330")  # doctest: +SKIP

Nothing here writes: the run's files are what the QC job wrote (``qc/findings.csv``,
``impact.csv``, ``groups.csv``, ``trace.ndjson``, ``facesheet/``). A run is named by its
folder's name and must be a direct child of the runs folder (no ``..``, no symlink leading
out), else :class:`UnknownRun`. The findings table is cached per run while its files are
unchanged; one case's rows are read in chunks, so a large run's case page does not load the
whole face sheet. Any file may be missing (a run without a DRG pack, or without its face
sheet): the detail then says so instead of failing.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import OrderedDict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from hutong.mapping.facesheet import NODES, FaceSheet, columns, typed
from hutong.quality.engine import COLUMNS as FINDING_COLUMNS
from hutong.quality.impact import _value as finding_value
from hutong.quality.priced import read_part as read_impact
from hutong.quality.worklist import SEVERITY_RANK, known_rules

NAME = re.compile(r"^[^/\\\x00]{1,200}$")
CHUNK = 200_000
CACHED_RUNS = 4  # findings tables kept in memory (a large run's is big)
SETL_KEYS = [
    "medcasno", "gend", "age", "adm_time", "dscg_time", "act_ipt_days", "dscg_caty",
    "dscg_way", "ipt_med_type", "adm_way",
]  # fmt: skip
IMPACT_FIELDS = ["fix_zh", "fix_en", "drg_before", "drg_after", "weight_before",
                 "weight_after", "weight_diff", "amount"]  # fmt: skip
AFTER_FIELDS = ("key", "rule_id", *IMPACT_FIELDS[2:], "fix_zh", "fix_en")


class UnknownRun(LookupError):
    """A run name that is not a run folder directly under the runs folder."""


def run_folder(runs: Path | None, name: str) -> Path:
    """The run called ``name`` under ``runs``, or :class:`UnknownRun` (never a path outside)."""
    if runs is None or not NAME.match(name) or name in (".", "..") or name.startswith("."):
        raise UnknownRun(name)
    root = runs.resolve()
    folder = runs / name
    if not folder.is_dir() or folder.resolve().parent != root:
        raise UnknownRun(name)
    if not (folder / "qc" / "findings.csv").is_file():
        raise UnknownRun(name)
    return folder


def list_runs(runs: Path | None) -> list[dict[str, Any]]:
    """Every run under ``runs``: name, date, cases, findings and money at stake; newest first."""
    if runs is None or not runs.is_dir():
        return []
    out = []
    for child in runs.iterdir():
        try:
            folder = run_folder(runs, child.name)
        except UnknownRun:
            continue
        manifest = _manifest(folder)
        qc = manifest.get("qc") or {}
        impact = ((manifest.get("drg") or {}).get("impact")) or {}
        out.append(
            {
                "name": child.name,
                "date": _date(folder, manifest),
                "cases": (qc.get("score") or {}).get("cases")
                or (manifest.get("facesheet") or {}).get("setlinfo"),
                "findings": qc.get("findings"),
                "by_severity": qc.get("by_severity") or {},
                "amount": impact.get("amount"),
                "profile": (manifest.get("profile") or {}).get("name", ""),
            }
        )
    return sorted(out, key=lambda r: (r["date"], r["name"]), reverse=True)


def _manifest(folder: Path) -> dict[str, Any]:
    try:
        doc = json.loads((folder / "manifest.json").read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _date(folder: Path, manifest: dict[str, Any]) -> str:
    """The manifest's own date when it has one, else when it was written (runs are
    byte-identical, so the manifest itself carries no timestamp)."""
    for key in ("finished", "date", "created"):
        if isinstance(manifest.get(key), str):
            return manifest[key]
    path = folder / "manifest.json"
    source = path if path.exists() else folder / "qc" / "findings.csv"
    return datetime.fromtimestamp(source.stat().st_mtime, UTC).isoformat(timespec="seconds")


# ---- findings --------------------------------------------------------------------------------


def finding_key(mdtrt_id: str, rule_id: str, field: str, message: str, seq: int = 0) -> str:
    """A finding's stable key within its run: case, rule, field and message (which carries the
    offending value), plus the occurrence number when the same finding appears again."""
    text = "\x1f".join((mdtrt_id, rule_id, field, message))
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]
    return digest if seq == 0 else f"{digest}-{seq}"


_CACHE: OrderedDict[tuple, pd.DataFrame] = OrderedDict()
_LOCK = threading.Lock()


def findings(folder: Path) -> pd.DataFrame:
    """The run's findings, each with its key, case department and record number, the rule's
    fix and (with a DRG pack) its priced fix: DRG before/after, weights and amount. Sorted by
    money at stake (|amount|, unknown last), then severity, case, rule and field."""
    qc = folder / "qc"
    stamp = tuple(
        (p.name, p.stat().st_mtime_ns, p.stat().st_size)
        for p in (qc / "findings.csv", qc / "impact.csv", folder / "facesheet" / "setlinfo.csv")
        if p.exists()
    )
    key = (str(folder.resolve()), stamp)
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    table = _load_findings(folder)
    with _LOCK:
        _CACHE[key] = table
        while len(_CACHE) > CACHED_RUNS:
            _CACHE.popitem(last=False)
    return table


def _load_findings(folder: Path) -> pd.DataFrame:
    qc = folder / "qc"
    frame = pd.read_csv(qc / "findings.csv", encoding="utf-8-sig", dtype=str,
                        keep_default_na=False)  # fmt: skip
    frame = frame.reindex(columns=FINDING_COLUMNS).fillna("")
    seq = frame.groupby(FINDING_COLUMNS, sort=False).cumcount()
    frame["key"] = [
        finding_key(m, r, f, z, int(n))
        for m, r, f, z, n in zip(
            frame["mdtrt_id"], frame["rule_id"], frame["field"], frame["message_zh"], seq,
            strict=True,
        )
    ]  # fmt: skip
    rules = known_rules()
    frame["fix_zh"] = [getattr(rules.get(r), "fix_zh", "") or "" for r in frame["rule_id"]]
    frame["fix_en"] = [getattr(rules.get(r), "fix_en", "") or "" for r in frame["rule_id"]]
    frame = _with_impact(frame, qc / "impact.csv")
    setl = _setl_columns(folder / "facesheet" / "setlinfo.csv", ["medcasno", "dscg_caty"])
    for column, source in (("department", "dscg_caty"), ("medcasno", "medcasno")):
        # object first: without a face sheet the looked-up column is all missing (float)
        frame[column] = frame["mdtrt_id"].map(setl[source]).astype("object").fillna("")
    rank = frame["severity"].map(SEVERITY_RANK).fillna(9).astype(int)
    money = frame["amount"].abs()
    frame = frame.assign(money=money, _m=-money.fillna(-1.0), _rank=rank)
    frame = frame.sort_values(["_m", "_rank", "mdtrt_id", "rule_id", "field"], kind="mergesort")
    return frame.drop(columns=["_m"]).reset_index(drop=True)


def _with_impact(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Each finding's priced row of impact.csv: same case, rule and field, and among several,
    the one whose fix text names the finding's value (the value in its message)."""
    for col in IMPACT_FIELDS[2:4]:
        frame[col] = ""
    for col in IMPACT_FIELDS[4:]:
        frame[col] = float("nan")
    frame["priced"] = False
    if not path.exists():
        return frame
    impact = read_impact(path)
    if impact.empty:
        return frame
    impact = impact.fillna({c: "" for c in ("field", "fix_zh", "fix_en", "drg_before",
                                            "drg_after")})  # fmt: skip
    pool: dict[tuple, list[dict]] = {}
    for row in impact.to_dict("records"):
        pool.setdefault((str(row["mdtrt_id"]), row["rule_id"], row["field"]), []).append(row)
    idx = {col: frame.columns.get_loc(col) for col in [*IMPACT_FIELDS, "priced"]}
    values = frame.to_numpy(dtype=object, copy=True)
    for i, (m, r, f, msg) in enumerate(
        zip(frame["mdtrt_id"], frame["rule_id"], frame["field"], frame["message_zh"], strict=True)
    ):
        rows = pool.get((m, r, f))
        if not rows:
            continue
        row = rows.pop(_best(rows, finding_value(msg)))
        for col in IMPACT_FIELDS:
            if col in ("fix_zh", "fix_en") and not row[col]:
                continue
            values[i, idx[col]] = row[col]
        values[i, idx["priced"]] = True
    out = pd.DataFrame(values, columns=frame.columns)
    for col in IMPACT_FIELDS[4:]:
        out[col] = pd.to_numeric(out[col], errors="coerce").astype("float64")
    out["priced"] = out["priced"].astype(bool)
    return out


def _best(rows: list[dict], value: str | None) -> int:
    """The row whose fix text names ``value`` as a word, else contains it, else the first."""
    if value:
        for i, row in enumerate(rows):
            if value in re.split(r"[\s,，;；+]+", f"{row['fix_zh']} {row['fix_en']}"):
                return i
        for i, row in enumerate(rows):
            if value in f"{row['fix_zh']} {row['fix_en']}":
                return i
    return 0


def _setl_columns(path: Path, wanted: list[str]) -> pd.DataFrame:
    """A few setlinfo columns of every case, by case (empty when the face sheet is missing)."""
    if not path.exists():
        return pd.DataFrame(columns=wanted, index=pd.Index([], name="mdtrt_id"))
    head = pd.read_csv(path, encoding="utf-8-sig", dtype=str, nrows=0).columns
    use = ["mdtrt_id", *[c for c in wanted if c in head]]
    parts = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False,
                        usecols=use, chunksize=CHUNK)  # fmt: skip
    frame = pd.concat(list(parts), ignore_index=True).reindex(columns=["mdtrt_id", *wanted])
    return frame.drop_duplicates("mdtrt_id").set_index("mdtrt_id")


# ---- one case ----------------------------------------------------------------------------


def case_sheet(folder: Path, mdtrt_id: str) -> FaceSheet | None:
    """One case's face-sheet rows, typed as ``read_facesheet`` types them, read in chunks (a
    run's face sheet may hold millions of cases); None when the run has no face sheet."""
    base = folder / "facesheet"
    if not (base / "setlinfo.csv").exists():
        return None
    frames = {}
    for node in NODES:
        path = base / f"{node}.csv"
        if not path.exists():
            frames[node] = pd.DataFrame(columns=columns(node))
            continue
        chunks = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig",
                             chunksize=CHUNK)  # fmt: skip
        parts = [c[c["mdtrt_id"] == mdtrt_id] for c in chunks]
        frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
        frames[node] = frame.replace("", None).reindex(columns=columns(node))
    return typed(FaceSheet(**frames))


def case_group(folder: Path, mdtrt_id: str) -> dict[str, Any] | None:
    """The case's DRG as grouped (groups.csv) with its trace steps (trace.ndjson), or None."""
    path = folder / "qc" / "groups.csv"
    if not path.exists():
        return None
    row = None
    for chunk in pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False,
                             chunksize=CHUNK):  # fmt: skip
        hit = chunk[chunk["mdtrt_id"] == mdtrt_id]
        if len(hit):
            row = hit.iloc[0].to_dict()
            break
    if row is None:
        return None
    weight = pd.to_numeric(row.get("weight", ""), errors="coerce")
    group = {k: row.get(k, "") for k in ("mdc", "adrg", "drg", "cc_status", "reason")}
    group["weight"] = None if pd.isna(weight) else float(weight)
    group["trace"] = case_trace(folder, mdtrt_id)
    return group


def case_trace(folder: Path, mdtrt_id: str) -> list[str]:
    """The DRG grouper's steps for the case (empty when the run has no trace)."""
    path = folder / "qc" / "trace.ndjson"
    if not path.exists():
        return []
    needle = json.dumps(mdtrt_id, ensure_ascii=False)
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if needle not in line:
                continue
            doc = json.loads(line)
            if doc.get("mdtrt_id") == mdtrt_id:
                return [str(step) for step in doc.get("trace") or []]
    return []


# ---- a case's page: its rows, its findings and what each highlights ----------------------


def case_detail(folder: Path, mdtrt_id: str) -> dict[str, Any] | None:
    """One case: setlinfo key fields, diagnoses, procedures and fee rows with the cells its
    findings name marked (``hl``), the findings (fix, priced DRG change), the DRG as grouped
    with its trace and after each priced fix. None when the run knows nothing of the case."""
    table = findings(folder)
    mine = table[table["mdtrt_id"] == mdtrt_id]
    sheet = case_sheet(folder, mdtrt_id)
    if mine.empty and (sheet is None or sheet.setlinfo.empty):
        return None
    rules = known_rules()
    found = [_finding(r, rules) for r in mine.to_dict("records")]
    nodes: dict[str, list[dict[str, Any]]] = {}
    if sheet is not None:
        for node in ("diseinfo", "oprninfo", "iteminfo"):
            nodes[node] = _rows(sheet.node(node), node, found)
    setl = sheet.setlinfo.iloc[0].to_dict() if sheet is not None and len(sheet.setlinfo) else {}
    named = [f for x in found for f, n in x["targets"].items() if n == "setlinfo"]
    keys = list(dict.fromkeys([*SETL_KEYS, *named]))
    return {
        "mdtrt_id": mdtrt_id,
        "facesheet": bool(setl),
        "setlinfo": [
            {
                "field": k,
                "value": _text(setl.get(k)),
                "hl": k in named,
                "findings": [x["key"] for x in found if x["targets"].get(k) == "setlinfo"],
            }
            for k in keys
        ],
        "diagnoses": nodes.get("diseinfo", []),
        "procedures": nodes.get("oprninfo", []),
        "items": nodes.get("iteminfo", []),
        "findings": found,
        "group": case_group(folder, mdtrt_id),
        "after": [{k: x[k] for k in AFTER_FIELDS} for x in found if x["priced"]],
    }


def _finding(row: dict[str, Any], rules: dict) -> dict[str, Any]:
    """A finding as the case page shows it, with the node of each field it names."""
    fields = [f.strip() for f in str(row["field"]).split(",") if f.strip()]
    rule = rules.get(row["rule_id"])
    out = {k: row[k] for k in ("key", "mdtrt_id", "rule_id", "severity", "field", "message_zh",
                               "message_en", "fix_zh", "fix_en", "drg_before", "drg_after",
                               "priced")}  # fmt: skip
    for k in ("weight_before", "weight_after", "weight_diff", "amount"):
        out[k] = None if pd.isna(row[k]) else float(row[k])
    out["fields"] = fields or list(getattr(rule, "fields", ()))
    out["value"] = finding_value(row["message_zh"])
    out["targets"] = {f: _node_of(f, getattr(rule, "nodes", ())) for f in out["fields"]}
    return out


def _node_of(field: str, nodes: tuple[str, ...]) -> str:
    for node in (*nodes, "setlinfo", "diseinfo", "oprninfo", "iteminfo"):
        if field in columns(node):
            return node
    return ""


def _rows(frame: pd.DataFrame, node: str, found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The node's rows as text cells; a finding on this node marks the rows whose cell holds
    its value (the code in its message), else the named column on every row."""
    rows = [
        {"cells": {c: _text(v) for c, v in r.items() if c != "mdtrt_id"}, "hl": False,
         "hl_fields": [], "findings": []}
        for r in frame.to_dict("records")
    ]  # fmt: skip
    for f in found:
        mine = [k for k, n in f["targets"].items() if n == node]
        if not mine:
            continue
        wanted = _candidates(f["value"])
        hits = [r for r in rows if wanted and any(r["cells"].get(k) in wanted for k in mine)]
        for r in hits or rows:
            r["hl"] = r["hl"] or bool(hits)
            r["hl_fields"] = sorted({*r["hl_fields"], *mine})
            r["findings"].append(f["key"])
    return rows


def _candidates(value: str | None) -> set[str]:
    if not value:
        return set()
    return {value, *(p for p in re.split(r"\s*(?:≠|,|，|/)\s*|\s+", value) if p)}


def _text(value: Any) -> str:
    """A cell as the page shows it: '' when missing, times to the minute, numbers plain."""
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, pd.Timestamp):
        if pd.isna(value):
            return ""
        return value.strftime("%Y-%m-%d" if value == value.normalize() else "%Y-%m-%d %H:%M")
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return str(value)
