"""Suggest national codes for a hospital's local diagnosis or procedure names.

>>> from hutong.terminologies.codesystem import sample_code_system
>>> matcher = Matcher(sample_code_system("icd10-yb-2.0"))
>>> matcher.suggest("冠心病")[0].code
'I25.103'

The pipeline, per name: normalise (:mod:`hutong.terminologies.normalise`), split off uncertainty
words as a flag, expand abbreviations and apply rewrite rules from ``data/synonyms.toml``, find
candidates with a character n-gram TF-IDF index over the national names (the approach of OHDSI
Usagi), rerank them with rapidfuzz blended with the cosine, and adjust with what else we know:
an approved coder mapping (``learned``) wins, a local code that is (a prefix of) a national code
is a strong hint, and a gray code ranks below its best child (gray codes cannot be uploaded).
Every suggestion says why, in Chinese and English, so that a coder can judge it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from rapidfuzz import fuzz
from rapidfuzz.process import cdist, extract

from hutong.terminologies.codesystem import CodeSystem
from hutong.terminologies.coding import normalise_code
from hutong.terminologies.nameindex import (
    NameIndex,
    amounts,
    fit,
    name_index,
)
from hutong.terminologies.normalise import (
    SOUND,
    Spelling,
    Vocabulary,
    bare,
    homophone,
    load_vocabulary,
    normalise,
    split_qualifiers,
)

TOP_K = 25  # TF-IDF candidates per spelling, reranked with rapidfuzz
CHUNK = 1024  # spellings per sparse product (about 2,500 non-zero cosines each)
FUZZ_WEIGHT = 0.6  # rest is the TF-IDF cosine
ORDER_FREE = 0.5  # share of the fuzzy part compared on sorted characters (word order varies)
HINT_BOOST = 30.0  # points for a candidate under the local code's prefix (a third: same category)
BAND_BOOST = 25.0  # points for a name whose range (1000-1499克, 小于96小时) holds the term's number
GRAY_PENALTY = 5.0
REACH = 20  # gray codes below the 20th best score cannot reach the top 5 after demotion
INACTIVE_PENALTY = 10.0
COLUMNS = ["local_code", "local_name", "rank", "code", "display", "score", "why"]

# WHO-style trailing qualifiers that only say "nothing more is known" (", 未特指", ", NEC").
_PINYIN = re.compile(r"[a-z]{2,8}")
_NONE = np.array([], dtype=np.int64)


@dataclass(frozen=True)
class Candidate:
    """One suggested national code: its name, a 0–100 score and a short reason."""

    code: str
    display: str
    score: float
    why: str


@dataclass
class _Query:
    """One local term, prepared: its spellings (with reasons), flags and hints."""

    variants: list[Spelling]
    flags: tuple[str, ...]
    prefix: str | None
    exact_code: int | None
    learned: int | None
    amounts: dict[str, float]


class Matcher:
    """Suggests national codes of one code system for local names (and local codes).

    ``learned`` maps local names (any spelling; they are normalised) to approved codes: the
    coders' decisions, which then win for the same name. Codes not in the system are ignored.
    """

    def __init__(
        self,
        system: CodeSystem,
        learned: Mapping[str, str] | None = None,
        vocabulary: Vocabulary | None = None,
    ):
        self.system = system
        self.index = name_index(system)
        self.vocabulary = vocabulary or load_vocabulary()
        self.vocabulary.expand("", self.index.kind)  # builds its look-up tables now, not mid-batch
        self.learned: dict[str, int] = {}
        for name, code in (learned or {}).items():
            hit = self.index.by_code.get(normalise_code(code)) if code else None
            if name and hit is not None:
                self.learned[bare(normalise(name))] = hit

    def suggest(self, name: str | None, code: str | None = None, top: int = 5) -> list[Candidate]:
        """The ``top`` best national codes for one local name (and optional local code)."""
        return self._rank([self._prepare(name, code)], top)[0]

    def suggest_many(self, terms: pd.DataFrame, top: int = 5) -> pd.DataFrame:
        """Suggestions for a table of ``local_code, local_name``: one row per candidate.

        Columns ``local_code, local_name, rank, code, display, score, why`` plus any other
        input columns (input columns named like an output column are replaced); a term
        without suggestions (no name, no usable code) has no rows. Rows keep the input order.
        """
        codes = terms["local_code"] if "local_code" in terms else [None] * len(terms)
        queries = [self._prepare(n, c) for n, c in zip(terms["local_name"], codes, strict=True)]
        ranked = self._rank(queries, top)
        rows = [
            (i, rank, c.code, c.display, c.score, c.why)
            for i, candidates in enumerate(ranked)
            for rank, c in enumerate(candidates, start=1)
        ]
        found = pd.DataFrame(rows, columns=["_row", "rank", "code", "display", "score", "why"])
        base = terms.reset_index(drop=True).drop(columns=[c for c in COLUMNS[2:] if c in terms])
        if "local_code" not in base:
            base.insert(0, "local_code", None)
        out = base.iloc[found["_row"].to_numpy()].reset_index(drop=True)
        out = pd.concat([out, found.drop(columns="_row")], axis=1)
        return out[COLUMNS + [c for c in out.columns if c not in COLUMNS]]

    def _prepare(self, name: object, code: object) -> _Query:
        name, code = _text(name), _text(code)
        prefix, exact_code = self.index.hint(code)
        text = normalise(name) if name else ""
        core, flags = split_qualifiers(text, self.vocabulary.uncertain)
        key = bare(core)
        variants = self.vocabulary.expand(key, self.index.kind) if key else []
        if _PINYIN.fullmatch(key) and len(variants) == 1:  # gxy: a national name's initials
            for f in self.index.initials.get(key, [])[:3]:
                spelled = self.index.form_keys[f]
                variants.append(Spelling(spelled, (f"拼音首字母 initials {key}→{spelled}",), SOUND))
        learned = self.learned.get(key, self.learned.get(bare(text)))
        return _Query(variants, flags, prefix, exact_code, learned, amounts(core))

    def _rank(self, queries: list[_Query], top: int) -> list[list[Candidate]]:
        """Score queries in chunks of spellings: one sparse product (spellings × names) each."""
        keys = [v.text for q in queries for v in q.variants]
        vectors = self.index.vectorizer.transform(keys) if keys else None
        scratch = np.zeros(self.index.matrix_t.shape[1], np.float32)  # one row of cosines
        out: list[list[Candidate]] = []
        start = row = 0
        while start < len(queries):
            end, rows = start, 0
            while end < len(queries) and (rows == 0 or rows + len(queries[end].variants) <= CHUNK):
                rows += len(queries[end].variants)
                end += 1
            products = vectors[row : row + rows] @ self.index.matrix_t if rows else None
            at = 0
            for query in queries[start:end]:
                n = len(query.variants)
                cosines = [_row(products, r) for r in range(at, at + n)]
                out.append(self._score(query, cosines, scratch, top))
                at += n
            row += rows
            start = end
        return out

    def _pool(self, query: _Query, cosines: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """Forms worth scoring: TF-IDF picks, exact names, hinted codes, children of gray ones."""
        index = self.index
        extra = [i for i in (query.learned, query.exact_code) if i is not None]
        if query.prefix:
            extra += index.under(query.prefix) or _siblings(index, query.prefix)
        pools = [index.concept_forms[i] for i in extra]
        pools += [_best(forms, values) for forms, values in cosines]
        exact = [f for v in query.variants for f in index.exact.get(v.text, ())]
        if query.variants and not exact and not sum(len(p) for p in pools):
            # Nothing shares an informative n-gram (喀血): compare with every name instead.
            found = extract(query.variants[0].text, index.form_keys, scorer=fuzz.ratio, limit=TOP_K)
            exact = [f for _, _, f in found]
        if not pools and not exact:
            return np.array([], dtype=np.int64)
        pool = np.unique(np.concatenate([*pools, np.array(exact, dtype=np.int64)]))
        owners = index.form_concept[pool]
        more = [index.below_gray_forms.get(int(g)) for g in np.unique(owners[index.gray[owners]])]
        more = [forms for forms in more if forms is not None]
        return np.unique(np.concatenate([pool, *more])) if more else pool

    def _score(
        self,
        query: _Query,
        cosines: list[tuple[np.ndarray, np.ndarray]],
        scratch: np.ndarray,
        top: int,
    ) -> list[Candidate]:
        index = self.index
        pool = self._pool(query, cosines)
        if not len(pool):
            return []
        concept = index.form_concept[pool]
        sim, variant = self._similarity(query, [_lookup(*c, pool, scratch) for c in cosines], pool)
        order = np.lexsort((-sim, concept))  # best form per concept
        first = np.ones(len(order), dtype=bool)
        first[1:] = concept[order][1:] != concept[order][:-1]
        best = order[first]
        ids, sims, forms, via = concept[best], sim[best], pool[best], variant[best]
        scores = sims * 100.0
        priority = np.zeros(len(ids))
        notes: dict[int, list[str]] = {}
        if query.prefix:
            boost = self._hint_boost(query.prefix, ids)
            scores = scores + boost
            for j in np.flatnonzero((boost > 0) & (ids != query.exact_code)):
                notes.setdefault(j, []).append(f"编码提示 {query.prefix} code hint")
        if query.amounts:
            for j, i in enumerate(ids):
                fits = fit(index.bands.get(int(i), ()), query.amounts)
                if fits:
                    scores[j] += BAND_BOOST * fits
                    notes.setdefault(j, []).append(
                        "数值在范围内 in range" if fits > 0 else "数值不在范围内 out of range"
                    )
        for hit, level, note in (
            (query.exact_code, 2, "编码完全匹配 exact code"),
            (query.learned, 3, "已审核映射 learned mapping"),
        ):
            for j in np.flatnonzero(ids == hit) if hit is not None else ():
                scores[j], priority[j] = 100.0, level
                notes.setdefault(j, []).insert(0, note)
        scores = self._demote_gray(ids, scores, notes, top)
        scores = np.where(index.inactive[ids], scores - INACTIVE_PENALTY, scores)
        rank = np.lexsort(
            (ids, -index.code_len[ids], index.gray[ids], -np.round(scores, 6), -priority)
        )[:top]
        # Shown scores stay in 0–100; only an exact name, code or learned mapping shows 100.
        sure = (sims >= 0.999) | (priority > 0)
        shown = np.clip(np.where(sure, scores, np.minimum(scores, 99.0)), 0.0, 100.0)
        return [
            Candidate(
                index.codes[ids[j]],
                index.displays[ids[j]],
                round(float(shown[j]), 1),
                self._why(query, notes.get(j, []), float(sims[j]), forms[j], via[j]),
            )
            for j in rank
        ]

    def _hint_boost(self, prefix: str, ids: np.ndarray) -> np.ndarray:
        """Full boost under the hint (or under its longest prefix in the list), a third when
        only the category (``I25``) agrees."""
        codes = [self.index.plain_codes[i] for i in ids]
        known = prefix if self.index.under(prefix, limit=1) else _known_prefix(self.index, prefix)
        full = np.array([c.startswith(known) for c in codes]) if known else np.zeros(len(ids), bool)
        same = np.array([c[:3] == prefix[:3] for c in codes])
        return np.where(full, HINT_BOOST, np.where(same, HINT_BOOST / 3, 0.0))

    def _similarity(
        self, query: _Query, cosines: list[np.ndarray], pool: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Best blended similarity of each pooled form over the query's spellings, and which."""
        index = self.index
        if not query.variants:
            return np.zeros(len(pool), np.float32), np.zeros(len(pool), np.int64)
        keys = [v.text for v in query.variants]

        def ratio(left: list[str], right: np.ndarray) -> np.ndarray:
            return cdist(left, right[pool].tolist(), scorer=fuzz.ratio, dtype=np.float32) / 100

        ordered = ratio(keys, index.form_keys)
        if ordered.max() < 1.0:  # no exact name: try sounds (冠心并 → 冠心病)
            ordered = np.maximum(
                ordered, SOUND * ratio(list(map(homophone, keys)), index.form_sound)
            )
        unordered = ratio(["".join(sorted(k)) for k in keys], index.form_sorted)
        fuzzy = (1 - ORDER_FREE) * ordered + ORDER_FREE * unordered
        sim = FUZZ_WEIGHT * fuzzy + (1 - FUZZ_WEIGHT) * np.vstack(cosines)
        exact = np.array(keys, dtype=object)[:, None] == index.form_keys[pool][None, :]
        sim = np.where(exact, 1.0, np.minimum(sim, 0.995))
        weight = np.array([v.weight for v in query.variants], dtype=np.float32)
        sim = sim * weight[:, None] * index.form_weight[pool][None, :]
        variant = sim.argmax(axis=0)
        return sim[variant, np.arange(len(pool))], variant

    def _demote_gray(
        self, ids: np.ndarray, scores: np.ndarray, notes: dict[int, list[str]], top: int
    ) -> np.ndarray:
        """A gray code ranks below its best non-gray child, which inherits its fit if better."""
        index = self.index
        grays = np.flatnonzero(index.gray[ids])
        if not len(grays):
            return scores
        # Only gray codes that can reach the top matter (a demoted one only goes down).
        k = min(len(scores), max(REACH, top))
        reach = np.partition(scores, -k)[-k] - GRAY_PENALTY
        grays = grays[scores[grays] >= reach]
        scores = scores.copy()
        for j in grays[np.argsort(-scores[grays], kind="stable")]:
            i = int(ids[j])
            notes.setdefault(j, []).append("灰码不可上传 gray code, choose a child")
            demoted = scores[j] - GRAY_PENALTY
            below = index.below_gray.get(i, _NONE)
            at = np.minimum(np.searchsorted(ids, below), len(ids) - 1)  # ids are ascending
            children = at[ids[at] == below]
            if len(children):
                child = children[np.argmax(scores[children])]  # first (lowest id) of the best
                if scores[child] <= demoted:
                    scores[child] = demoted + 0.1
                    notes.setdefault(child, []).append(
                        f"灰码 {index.codes[i]} 的细目 child of gray"
                    )
            scores[j] = demoted
        return scores

    def _why(self, query: _Query, notes: list[str], sim: float, form: int, via: int) -> str:
        parts = list(notes)
        if query.variants:
            spelling = query.variants[int(via)]
            parts += spelling.reasons
            if self.index.form_keys[form] == spelling.text:
                parts.append("名称一致 same name")
            elif sim > 0:
                parts.append(f"名称相似 {sim:.2f} similar name")
        if query.flags:
            parts.append(f"不确定诊断 uncertain: {'/'.join(query.flags)}")
        return "; ".join(parts)


def _row(products, row: int) -> tuple[np.ndarray, np.ndarray]:  # a scipy CSR matrix
    """The names with a non-zero cosine in one row of the product, and the cosines."""
    start, end = products.indptr[row], products.indptr[row + 1]
    return products.indices[start:end], products.data[start:end]


def _best(forms: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The ``TOP_K`` names with the highest cosines."""
    if len(forms) <= TOP_K:
        return forms
    return forms[np.argpartition(-values, TOP_K)[:TOP_K]]


def _lookup(
    forms: np.ndarray, values: np.ndarray, pool: np.ndarray, scratch: np.ndarray
) -> np.ndarray:
    """Cosines of the ``pool`` names in one row (0 where none), through a zeroed scratch row."""
    scratch[forms] = values
    found = scratch[pool]
    scratch[forms] = 0.0
    return found


def _known_prefix(index: NameIndex, prefix: str) -> str | None:
    """The longest prefix of an unknown hint that the list has (``I25.199`` → ``I25.1``)."""
    for end in range(len(prefix) - 1, 2, -1):
        if index.under(prefix[:end].rstrip("."), limit=1):
            return prefix[:end].rstrip(".")
    return None


def _siblings(index: NameIndex, prefix: str) -> list[int]:
    """Codes under the longest existing prefix of an unknown hint."""
    known = _known_prefix(index, prefix)
    return index.under(known) if known else []


def _text(value: object) -> str | None:
    """A cell as text; NaN/None/blank → None."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value).strip()
    return text or None
