"""Attach standard codes to the local diagnosis and procedure codes of a run.

This is the run-time side of the terminology service. Each distinct local term (code + name)
is decided once, then joined back onto the rows:

1. a coder's decision in the store (``approved``, or ``auto`` accepted earlier) wins;
2. a local code that is a code of the national list, exactly or after harmless normalisation
   (full-width characters, the case of the ``x`` extension, a dagger code written without its
   star partner) is taken (``exact`` / ``normalised``); with no local code, a name that is
   exactly one national name is taken (``name``);
3. with ``auto_map``, the matcher's best candidate at or above that score is taken (``auto``);
4. the rest stay ``unmapped`` and go to the coders' queue with the matcher's best candidate.

A wrong code with a right name is never silently fixed: it is a coder's question.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from hutong.terminologies.codesystem import CodeSystem

EXACT, NORMALISED, BY_NAME, APPROVED, AUTO, UNMAPPED = (
    "exact",
    "normalised",
    "name",
    "approved",
    "auto",
    "unmapped",
)
TERM = ["local_code", "local_name"]
KEY = ["local_system", *TERM]  # a coder's decision is about one hospital system's term


def normalise_code(code: str) -> str:
    """Full-width → half-width, no spaces, upper-case letters but a lower-case ``x``."""
    text = unicodedata.normalize("NFKC", code).replace(" ", "").upper()
    if not text:
        return text
    head, tail = text[:1], text[1:].replace("X", "x")
    return head + tail


class CodeIndex:
    """Look-ups of one code system by code, by normalised code and by name."""

    def __init__(self, system: CodeSystem):
        self.system = system
        self.names = system.names
        self.by_norm: dict[str, str] = {}
        for code in self.names:
            self.by_norm.setdefault(normalise_code(code), code)
            dagger = code.split("+", 1)[0]
            if dagger != code:
                self.by_norm.setdefault(normalise_code(dagger), code)
        counts: dict[str, int] = {}
        for name in self.names.values():
            counts[name] = counts.get(name, 0) + 1
        self.by_name = {n: c for c, n in self.names.items() if counts[n] == 1}

    @cached_property
    def name_series(self) -> pd.Series:
        """:attr:`names` as the Series ``Series.map`` makes of the dict on every call (tens
        of thousands of codes), made once."""
        return pd.Series(self.names)

    def lookup(self, local_code: str | None, local_name: str | None) -> tuple[str | None, str]:
        if local_code:
            if local_code in self.names:
                return local_code, EXACT
            hit = self.by_norm.get(normalise_code(local_code))
            if hit is not None:
                return hit, NORMALISED
        elif local_name and local_name in self.by_name:
            return self.by_name[local_name], BY_NAME
        return None, UNMAPPED


@dataclass
class Coder:
    """Codes the local terms of one table against one target system."""

    system: CodeSystem
    approved: pd.DataFrame | None = None  # store.approved(): local_code, local_name, code, status
    auto_map: float | None = None
    _index: CodeIndex | None = field(default=None, repr=False)
    _matcher: object | None = field(default=None, repr=False)

    @property
    def index(self) -> CodeIndex:
        if self._index is None:
            self._index = CodeIndex(self.system)
        return self._index

    @property
    def matcher(self):
        """The fuzzy matcher, built on first use (its index costs a few seconds on 33k codes)."""
        if self._matcher is None:
            from hutong.terminologies.matcher import Matcher

            learned = None
            if self.approved is not None and len(self.approved):
                rows = self.approved[self.approved["local_name"] != ""]
                learned = dict(zip(rows["local_name"], rows["code"], strict=True))
            self._matcher = Matcher(self.system, learned=learned)
        return self._matcher

    def decide(self, terms: pd.DataFrame) -> pd.DataFrame:
        """Code and status of each distinct term (columns local_system, local_code, local_name,
        as text; local_system names the hospital system, e.g. ``vendor-a:diagnosis``)."""
        out = terms[KEY].copy()
        out["code"], out["map_status"] = None, UNMAPPED
        if self.approved is not None and len(self.approved):
            known = self.approved.drop_duplicates(KEY).set_index(KEY)
            keys = pd.MultiIndex.from_frame(out[KEY])
            hit = keys.isin(known.index)
            out.loc[hit, "code"] = known.loc[keys[hit], "code"].to_numpy()
            out.loc[hit, "map_status"] = known.loc[keys[hit], "status"].to_numpy()
        todo = out["map_status"] == UNMAPPED
        looked = [
            self.index.lookup(c or None, n or None)
            for c, n in zip(out.loc[todo, "local_code"], out.loc[todo, "local_name"], strict=True)
        ]
        out.loc[todo, "code"] = [code for code, _ in looked]
        out.loc[todo, "map_status"] = [status for _, status in looked]
        if self.auto_map is not None:
            best = self.best(out[out["map_status"] == UNMAPPED])
            take = best["score"] >= self.auto_map
            out.loc[best.index[take], "code"] = best.loc[take, "code"]
            out.loc[best.index[take], "map_status"] = AUTO
        return out

    def best(self, terms: pd.DataFrame) -> pd.DataFrame:
        """The matcher's top candidate per term: code, display, score, why (same index)."""
        columns = ["code", "display", "score", "why"]
        if terms.empty:
            return pd.DataFrame(columns=columns, index=terms.index)
        query = terms[TERM].replace("", None).reset_index(names="_row")
        top = self.matcher.suggest_many(query, top=1)
        top = top[top["rank"] == 1].set_index("_row")[columns]
        return top.reindex(terms.index).astype({"score": "float64"}).fillna({"score": 0.0})


def distinct_terms(frame: pd.DataFrame, columns: list[str] = TERM) -> pd.DataFrame:
    """Distinct terms of a frame (``columns``), absent values as ``""``."""
    return frame[columns].astype("object").fillna("").drop_duplicates().reset_index(drop=True)


def local_systems(frame: pd.DataFrame, table: str) -> pd.Series:
    """The hospital system of each row's local code: ``<vendor>:<table>``."""
    return frame["vendor"].astype("object").fillna("") + f":{table}"


def apply_codes(frame: pd.DataFrame, coder: Coder | CodeSystem, table: str = "") -> pd.DataFrame:
    """Fill ``code``, ``code_system``, ``name`` and ``map_status`` of diagnosis/procedure rows."""
    if isinstance(coder, CodeSystem):
        coder = Coder(coder)
    out = frame.copy()
    keys = out[TERM].astype("object").fillna("")
    keys.insert(0, "local_system", local_systems(out, table) if "vendor" in out else "")
    which, firsts = _distinct(keys)
    decided = coder.decide(keys.iloc[firsts].reset_index(drop=True))  # row i: key i
    for column, values in (("code", decided["code"]), ("map_status", decided["map_status"])):
        out[column] = values.to_numpy(dtype=object)[which]
    mapped = out["code"].notna()
    out["code_system"] = mapped.map({True: coder.system.id, False: None})
    out["name"] = out["code"].map(coder.index.name_series)
    return out


def _distinct(keys: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each row's key number and the first row of each key, numbered in order of first
    appearance (the rows ``drop_duplicates`` keeps, in its order). The columns (text) are
    joined length-prefixed, so two rows share a joined key only when every column agrees:
    one dictionary encoding instead of a merge on three object columns."""
    parts: list = []
    for column in keys.columns:
        values = pa.array(keys[column].to_numpy(dtype=object), type=pa.string())
        parts += [pc.cast(pc.utf8_length(values), pa.string()), ":", values]
    joined = pc.binary_join_element_wise(*parts, "")
    which = np.asarray(joined.dictionary_encode().indices, dtype=np.int64)
    return which, np.unique(which, return_index=True)[1]


QUEUE_COLUMNS = [
    "table", "target_system", "local_code", "local_name", "count", "example", "vendor",
    "best_code", "best_display", "best_score", "why",
]  # fmt: skip


def unmapped(
    frames: dict[str, pd.DataFrame], coders: dict[str, Coder] | None = None, best: bool = True
) -> pd.DataFrame:
    """The coders' queue: each unmapped local term, its frequency, an example and the best
    candidate the matcher proposes (when a coder is given for its table, unless ``best`` is
    false: a partition leaves that to the run, which matches each distinct term once)."""
    columns = QUEUE_COLUMNS
    parts = []
    for table, target in (("diagnosis", "icd10-yb-2.0"), ("procedure", "icd9cm3-yb-2.0")):
        frame = frames.get(table)
        if frame is None or frame.empty:
            continue
        rows = frame[frame["map_status"] == UNMAPPED]
        if rows.empty:
            continue
        rows = rows.assign(**{c: rows[c].astype("object").fillna("") for c in TERM})
        grouped = rows.groupby(TERM, sort=True).agg(
            count=("mdtrt_id", "size"), example=("locator", "min"), vendor=("vendor", "min")
        )
        grouped = grouped.reset_index()
        coder = (coders or {}).get(table)
        if coder is not None:
            target = coder.system.id
            if best:
                _fill_best(grouped, coder)
        grouped.insert(0, "table", table)
        grouped.insert(1, "target_system", target)
        parts.append(grouped)
    if not parts:
        return pd.DataFrame(columns=columns)
    out = pd.concat(parts, ignore_index=True).reindex(columns=columns)
    return out.sort_values(
        ["table", "count", "local_code", "local_name"],
        ascending=[True, False, True, True],
        kind="mergesort",
    ).reset_index(drop=True)


def with_best(queue: pd.DataFrame, coders: dict[str, Coder]) -> pd.DataFrame:
    """The queue (:func:`unmapped` with ``best=False``, or several merged) with each term's
    best candidate filled in by its table's coder."""
    best = ["best_code", "best_display", "best_score", "why"]
    out = queue.astype({c: "object" for c in best})
    for table, coder in coders.items():
        rows = out["table"] == table
        if rows.any():
            found = pd.DataFrame(index=out.index[rows])
            _fill_best(found, coder, out.loc[rows, TERM])
            out.loc[rows, best] = found[best].astype("object")
    return out


def _fill_best(frame: pd.DataFrame, coder: Coder, terms: pd.DataFrame | None = None) -> None:
    best = coder.best(frame if terms is None else terms)
    frame["best_code"] = best["code"]
    frame["best_display"] = best["display"]
    frame["best_score"] = best["score"].round(1)
    frame["why"] = best["why"]
