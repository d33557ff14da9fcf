"""The search index over one code system's names: what the matcher looks candidates up in.

Built once per :class:`~hutong.terminologies.codesystem.CodeSystem` (cached while the system
lives): every national name with its shorter spellings (bracketed aliases, the name without a
"未特指" clause), a character n-gram TF-IDF matrix, exact and pinyin-initials look-ups, codes by
prefix (for code hints), the non-gray children of each gray code, and the numeric bands some
names carry (1000-1499克, 小于96小时) so a term's number can pick the right band.
"""

from __future__ import annotations

import bisect
import re
import weakref

import numpy as np

from hutong.terminologies.codesystem import CodeSystem, Concept
from hutong.terminologies.coding import normalise_code
from hutong.terminologies.normalise import (
    DIAGNOSIS,
    PROCEDURE,
    bare,
    homophone,
    initials,
    normalise,
)

MAX_DF = 0.05  # n-grams in over 5 % of a big list's names (性, 病, 术) only slow it down
ALIAS = 0.98  # a bracketed alias ("[心房纤颤]") or the name without a qualifier
INITIALS_MAX_LEN = 6  # national names short enough to be typed as pinyin initials
_ICD10_CODE = re.compile(r"[A-Z]\d{2}(?:\.[0-9x]{1,3}(?:x\d{3})?)?")
_ICD10_UNDOTTED = re.compile(r"([A-Z]\d{2})([0-9x]{1,3})")
_ICD9_CODE = re.compile(r"\d{2}\.[0-9x]{1,4}(?:x\d{3})?")
_BRACKETED = re.compile(r"\(([^()]*)\)")
_SQUARE = re.compile(r"[\[［【]([^\]］】]+)[\]］】]")
_ONLY_LATIN = re.compile(r"[a-z][a-z0-9-]+")
_DEFAULT_CLAUSE = re.compile(r",(?:未特指的?|非特指的?|不可归类在他处者?|不伴有[^,]*|未提及[^,]*)$")
_UNITS = {"g": "g", "克": "g", "kg": "kg", "周": "w", "整周": "w", "小时": "h", "h": "h", "天": "d"}
_UNIT = "(kg|g|克|整周|周|小时|h|天)"
_AMOUNT = re.compile(rf"(\d+(?:\.\d+)?)(?:\+(\d))?{_UNIT}")
_RANGE = re.compile(rf"(\d+)-(\d+){_UNIT}")
_BELOW = re.compile(rf"(?:小于|少于|<|孕<)(\d+){_UNIT}|(\d+){_UNIT}之前")
_ABOVE = re.compile(rf"(?:等于或大于|大于等于|≥|>=|孕>)(\d+){_UNIT}|(\d+){_UNIT}(?:或以后|以上)")
_WEEK = re.compile(r"^孕(\d+)周$")


def name_forms(display: str) -> list[tuple[str, bool]]:
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


class NameIndex:
    """Everything about one code system that matching needs, built once (see :func:`name_index`)."""

    def __init__(self, system: CodeSystem):
        from sklearn.feature_extraction.text import TfidfVectorizer

        concepts = list(system.concepts.values())
        self.kind = PROCEDURE if system.id.startswith("icd9") else DIAGNOSIS
        self.codes = [c.code for c in concepts]
        self.displays = [c.display for c in concepts]
        self.gray = np.array([c.gray for c in concepts], dtype=bool)
        self.inactive = np.array([not c.active for c in concepts], dtype=bool)
        self.code_len = np.array([len(code) for code in self.codes])
        forms = [name_forms(c.display) for c in concepts]
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
        self.bands = {i: b for i, c in enumerate(concepts) if (b := bands(normalise(c.display)))}
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


_INDEXES: dict[int, tuple[weakref.ref[CodeSystem], tuple[int, int], NameIndex]] = {}


def name_index(system: CodeSystem) -> NameIndex:
    """The index of ``system``, built on first use and kept while the system lives."""
    stamp = (len(system), int(sum(c.gray for c in system.concepts.values())))
    cached = _INDEXES.get(id(system))
    if cached and cached[0]() is system and cached[1] == stamp:
        return cached[2]
    index = NameIndex(system)
    _INDEXES[id(system)] = (weakref.ref(system), stamp, index)
    weakref.finalize(system, _INDEXES.pop, id(system), None)  # drop the index with the system
    return index


def amounts(text: str) -> dict[str, float]:
    """Numbers with units in a term: ``胎龄32+3周`` → {w: 32.43}, ``1.2kg`` → {g: 1200}."""
    found = {}
    for number, days, unit in _AMOUNT.findall(text):
        value = float(number) + (int(days) / 7 if days else 0)
        unit = _UNITS[unit]
        if unit == "kg":
            value, unit = value * 1000, "g"
        found[unit] = value
    return found


def bands(text: str) -> list[tuple[str, float, float]]:
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


def fit(bands: list | tuple, amounts: dict[str, float]) -> int:
    """+1 when a stated number falls in a name's range, -1 when outside, 0 when unrelated."""
    verdicts = [lo <= amounts[unit] < hi for unit, lo, hi in bands if unit in amounts]
    return 0 if not verdicts else (1 if all(verdicts) else -1)
