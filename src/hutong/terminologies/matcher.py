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

import bisect
import re
import weakref
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from rapidfuzz import fuzz
from rapidfuzz.process import cdist, extract

from hutong.terminologies.codesystem import CodeSystem, Concept
from hutong.terminologies.coding import normalise_code
from hutong.terminologies.normalise import (
    DIAGNOSIS,
    PROCEDURE,
    SOUND,
    Spelling,
    Vocabulary,
    bare,
    homophone,
    initials,
    load_vocabulary,
    normalise,
    split_qualifiers,
)

TOP_K = 25  # TF-IDF candidates per spelling, reranked with rapidfuzz
CHUNK = 1024  # spellings per sparse product (about 2,500 non-zero cosines each)
FUZZ_WEIGHT = 0.6  # rest is the TF-IDF cosine
ORDER_FREE = 0.5  # share of the fuzzy part compared on sorted characters (word order varies)
MAX_DF = 0.05  # n-grams in over 5 % of a big list's names (性, 病, 术) only slow it down
ALIAS = 0.98  # a bracketed alias ("[心房纤颤]") or the name without a qualifier
HINT_BOOST = 30.0  # points for a candidate under the local code's prefix (a third: same category)
BAND_BOOST = 25.0  # points for a name whose range (1000-1499克, 小于96小时) holds the term's number
GRAY_PENALTY = 5.0
REACH = 20  # gray codes below the 20th best score cannot reach the top 5 after demotion
INACTIVE_PENALTY = 10.0
INITIALS_MAX_LEN = 6  # national names short enough to be typed as pinyin initials
COLUMNS = ["local_code", "local_name", "rank", "code", "display", "score", "why"]

_ICD10_CODE = re.compile(r"[A-Z]\d{2}(?:\.[0-9x]{1,3}(?:x\d{3})?)?")
_ICD10_UNDOTTED = re.compile(r"([A-Z]\d{2})([0-9x]{1,3})")
_ICD9_CODE = re.compile(r"\d{2}\.[0-9x]{1,4}(?:x\d{3})?")
_BRACKETED = re.compile(r"\(([^()]*)\)")
_SQUARE = re.compile(r"[\[［【]([^\]］】]+)[\]］】]")
_ONLY_LATIN = re.compile(r"[a-z][a-z0-9-]+")
# WHO-style trailing qualifiers that only say "nothing more is known" (", 未特指", ", NEC").
_DEFAULT_CLAUSE = re.compile(r",(?:未特指的?|非特指的?|不可归类在他处者?|不伴有[^,]*|未提及[^,]*)$")
_PINYIN = re.compile(r"[a-z]{2,8}")
_UNITS = {"g": "g", "克": "g", "kg": "kg", "周": "w", "整周": "w", "小时": "h", "h": "h", "天": "d"}
_UNIT = "(kg|g|克|整周|周|小时|h|天)"
_AMOUNT = re.compile(rf"(\d+(?:\.\d+)?)(?:\+(\d))?{_UNIT}")
_RANGE = re.compile(rf"(\d+)-(\d+){_UNIT}")
_BELOW = re.compile(rf"(?:小于|少于|<|孕<)(\d+){_UNIT}|(\d+){_UNIT}之前")
_ABOVE = re.compile(rf"(?:等于或大于|大于等于|≥|>=|孕>)(\d+){_UNIT}|(\d+){_UNIT}(?:或以后|以上)")
_WEEK = re.compile(r"^孕(\d+)周$")
_NONE = np.array([], dtype=np.int64)


@dataclass(frozen=True)
class Candidate:
    """One suggested national code: its name, a 0–100 score and a short reason."""

    code: str
    display: str
    score: float
    why: str


def _forms(display: str) -> list[tuple[str, bool]]:
    """Keys a national name can be found by: the name, and (alias=True) shorter spellings.

    ``心房颤动[心房纤颤]`` is also ``心房颤动`` and ``心房纤颤``; ``经尿道前列腺切除术（TURP）``
    is also ``turp``; ``胸腔积液，不可归类在他处者`` is also ``胸腔积液``. Round-bracket words
    (``特发性（原发性）高血压``) are only dropped, never indexed alone: they are qualifiers.
    """
    text = normalise(display)
    forms = [(bare(text), False)]
    for shorter in (_BRACKETED.sub("", text), _DEFAULT_CLAUSE.sub("", text)):
        if bare(shorter) and all(bare(shorter) != key for key, _ in forms):
            forms.append((bare(shorter), True))
    inner = [normalise(s) for s in _SQUARE.findall(display)]
    inner += [s for s in _BRACKETED.findall(text) if _ONLY_LATIN.fullmatch(s)]
    forms += [(bare(s), True) for s in inner if len(bare(s)) >= 2]
    return forms


class _Index:
    """Everything about one code system that matching needs, built once (see :func:`_index`)."""

    def __init__(self, system: CodeSystem):
        from sklearn.feature_extraction.text import TfidfVectorizer

        concepts = list(system.concepts.values())
        self.kind = PROCEDURE if system.id.startswith("icd9") else DIAGNOSIS
        self.codes = [c.code for c in concepts]
        self.displays = [c.display for c in concepts]
        self.gray = np.array([c.gray for c in concepts], dtype=bool)
        self.inactive = np.array([not c.active for c in concepts], dtype=bool)
        self.code_len = np.array([len(code) for code in self.codes])
        forms = [_forms(c.display) for c in concepts]
        # A shortened name shared by several codes (低出生体重儿 from two weight bands) names
        # none of them: only the full names are indexed then.
        shared: dict[str, int] = {}
        for key, is_alias in (form for found in forms for form in found):
            shared[key] = shared.get(key, 0) + is_alias
        keys, owner, alias = [], [], []
        for i, found in enumerate(forms):
            for key, is_alias in found:
                if not is_alias or shared[key] == 1:
                    keys += [key]
                    owner += [i]
                    alias += [is_alias]
        self.bands = {i: b for i, c in enumerate(concepts) if (b := _bands(normalise(c.display)))}
        self.form_keys = np.array(keys, dtype=object)
        self.form_sorted = np.array(["".join(sorted(k)) for k in keys], dtype=object)
        self.form_sound = np.array([homophone(k) for k in keys], dtype=object)
        self.form_concept = np.array(owner, dtype=np.int32)
        self.form_weight = np.where(np.array(alias), ALIAS, 1.0).astype(np.float32)
        self.concept_forms = np.split(np.arange(len(keys)), np.flatnonzero(np.diff(owner)) + 1)
        self.exact: dict[str, list[int]] = {}
        for f, key in enumerate(keys):
            self.exact.setdefault(key, []).append(f)
        self.initials: dict[str, list[int]] = {}
        for f, key in enumerate(keys):
            if len(key) <= INITIALS_MAX_LEN and not key.isascii():
                self.initials.setdefault(initials(key), []).append(f)
        self._family(concepts)
        self.vectorizer = TfidfVectorizer(
            analyzer="char",
            ngram_range=(1, 2),
            sublinear_tf=True,
            dtype=np.float32,
            max_df=MAX_DF if len(keys) > 5000 else 1.0,  # small lists: every n-gram counts
        )
        self.matrix_t = self.vectorizer.fit_transform(keys).T.tocsr()

    def _family(self, concepts: list[Concept]) -> None:
        """Codes by spelling and prefix, and the non-gray descendants of each gray code."""
        position = {c.code: i for i, c in enumerate(concepts)}
        below: dict[int, list[int]] = {}
        for i, concept in enumerate(concepts):
            parent = concept.parent
            while parent is not None and parent in position:
                p = position[parent]
                if self.gray[p] and not self.gray[i]:
                    below.setdefault(p, []).append(i)
                parent = concepts[p].parent
        self.below_gray = {g: np.array(children) for g, children in below.items()}
        self.below_gray_forms = {
            g: np.concatenate([self.concept_forms[c] for c in children])
            for g, children in below.items()
        }
        self.by_code: dict[str, int] = {}
        for i, code in enumerate(self.codes):
            self.by_code.setdefault(normalise_code(code), i)
            self.by_code.setdefault(normalise_code(code.split("+", 1)[0]), i)
        self.plain_codes = [normalise_code(c.split("+", 1)[0]) for c in self.codes]
        self.sorted_codes = sorted((c, i) for i, c in enumerate(self.plain_codes))

    def under(self, prefix: str, limit: int = 300) -> list[int]:
        """Concepts whose code starts with ``prefix`` (in code order, at most ``limit``)."""
        start = bisect.bisect_left(self.sorted_codes, (prefix, -1))
        found = []
        for code, i in self.sorted_codes[start : start + limit]:
            if not code.startswith(prefix):
                break
            found.append(i)
        return found

    def hint(self, local_code: str | None) -> tuple[str | None, int | None]:
        """A local code read as a national code: (the prefix it gives, the exact concept).

        Hospital-internal codes (``XB0012``) give nothing; ``i25.1``, ``I251`` and ``Ｉ２５．１``
        give ``I25.1``.
        """
        if not local_code:
            return None, None
        code = normalise_code(local_code).split("+", 1)[0].rstrip("*†").rstrip(".")
        if self.kind == DIAGNOSIS:
            undotted = _ICD10_UNDOTTED.fullmatch(code)
            code = f"{undotted.group(1)}.{undotted.group(2)}" if undotted else code
        pattern = _ICD10_CODE if self.kind == DIAGNOSIS else _ICD9_CODE
        if not pattern.fullmatch(code):
            return None, None
        return code, self.by_code.get(code)


_INDEXES: dict[int, tuple[weakref.ref[CodeSystem], tuple[int, int], _Index]] = {}


def _index(system: CodeSystem) -> _Index:
    """The index of ``system``, built on first use and kept while the system lives."""
    stamp = (len(system), int(sum(c.gray for c in system.concepts.values())))
    cached = _INDEXES.get(id(system))
    if cached and cached[0]() is system and cached[1] == stamp:
        return cached[2]
    index = _Index(system)
    _INDEXES[id(system)] = (weakref.ref(system), stamp, index)
    weakref.finalize(system, _INDEXES.pop, id(system), None)  # drop the index with the system
    return index


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
        self.index = _index(system)
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
        return _Query(variants, flags, prefix, exact_code, learned, _amounts(core))

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
                fit = _fit(index.bands.get(int(i), ()), query.amounts)
                if fit:
                    scores[j] += BAND_BOOST * fit
                    notes.setdefault(j, []).append(
                        "数值在范围内 in range" if fit > 0 else "数值不在范围内 out of range"
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


def _known_prefix(index: _Index, prefix: str) -> str | None:
    """The longest prefix of an unknown hint that the list has (``I25.199`` → ``I25.1``)."""
    for end in range(len(prefix) - 1, 2, -1):
        if index.under(prefix[:end].rstrip("."), limit=1):
            return prefix[:end].rstrip(".")
    return None


def _siblings(index: _Index, prefix: str) -> list[int]:
    """Codes under the longest existing prefix of an unknown hint."""
    known = _known_prefix(index, prefix)
    return index.under(known) if known else []


def _amounts(text: str) -> dict[str, float]:
    """Numbers with units in a term: ``胎龄32+3周`` → {w: 32.43}, ``1.2kg`` → {g: 1200}."""
    found = {}
    for number, days, unit in _AMOUNT.findall(text):
        value = float(number) + (int(days) / 7 if days else 0)
        unit = _UNITS[unit]
        if unit == "kg":
            value, unit = value * 1000, "g"
        found[unit] = value
    return found


def _bands(text: str) -> list[tuple[str, float, float]]:
    """Ranges a national name states: ``(1000-1499克)`` → [(g, 1000, 1500)], ``孕12周``."""
    bands: dict[str, list[float]] = {}
    for lo, hi, unit in _RANGE.findall(text):
        bands[_UNITS[unit]] = [float(lo), float(hi) + 1]
    for a, ua, b, ub in _BELOW.findall(text):
        bands.setdefault(_UNITS[ua or ub], [-np.inf, np.inf])[1] = float(a or b)
    for a, ua, b, ub in _ABOVE.findall(text):
        bands.setdefault(_UNITS[ua or ub], [-np.inf, np.inf])[0] = float(a or b)
    if week := _WEEK.match(text):
        bands["w"] = [float(week.group(1)), float(week.group(1)) + 1]
    return [(unit, lo, hi) for unit, (lo, hi) in bands.items()]


def _fit(bands: list | tuple, amounts: dict[str, float]) -> int:
    """+1 when a stated number falls in a name's range, -1 when outside, 0 when unrelated."""
    verdicts = [lo <= amounts[unit] < hi for unit, lo, hi in bands if unit in amounts]
    return 0 if not verdicts else (1 if all(verdicts) else -1)


def _text(value: object) -> str | None:
    """A cell as text; NaN/None/blank → None."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value).strip()
    return text or None
