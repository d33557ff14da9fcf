"""One spelling for Chinese clinical terms, so that ``Ⅱ型糖尿病`` and ``2型糖尿病`` meet.

Hospitals type the same diagnosis many ways: full-width letters, traditional characters,
``Ⅲ度`` / ``III度`` / ``三度``, ``（…）`` / ``[…]`` / ``【…】``, stray spaces. :func:`normalise`
folds those away and nothing else: it never drops a word. Uncertainty qualifiers (``待查``,
``?``, ``疑似`` …) change what a coder does, so the matcher splits them off as a *flag*
(:func:`split_qualifiers`, words configured in ``data/synonyms.toml``) and matches the rest;
they are not silently removed here.

>>> normalise("Ⅱ型糖尿病（伴 腎病）")
'2型糖尿病(伴肾病)'
>>> normalise("十二指肠溃疡")
'十二指肠溃疡'
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

# Grade/type/stage words: a numeral right before one of these is a number, not part of a word
# (二尖瓣, 十二指肠 and 三叉神经 stay as written).
_GRADE = "型度级期类段区相"
_ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6, "VII": 7, "VIII": 8, "IX": 9}
# Longest first so that III is not read as I; X alone is left out (X型腿, X线).
_ROMAN_RE = "VIII|VII|VI|IV|IX|V|III|II|I"
_RANGE = r"(?:-+|~|至|到)"
# Upper-case letters before a numeral are a word (HIV期 is not H+4期), except grading prefixes.
_AFTER = r"(?:(?<![A-Z])|(?<=CIN)|(?<=VIN)|(?<=AIN)|(?<=PIN))"
_ROMAN_GRADE = re.compile(
    rf"{_AFTER}({_ROMAN_RE})(?=[abc]?(?:{_RANGE}(?:{_ROMAN_RE})[abc]?)?[{_GRADE}°])"
)
_CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_NUMBER = "[一二三四五六七八九十]{1,3}"
_CN_GRADE = re.compile(rf"(?<![单统唯万])({_CN_NUMBER})(?=(?:{_RANGE}{_CN_NUMBER})?[{_GRADE}°])")
_DEGREE = re.compile(r"(\d[abc]?)°")
# Small Roman numerals (ⅰ, ⅱ) become capitals before NFKC so that both spellings meet.
_SMALL_ROMAN = {cp: cp - 0x10 for cp in range(0x2170, 0x217C)}

_OPEN = "([{【〔［｛〈《〖「『"
_CLOSE = ")]}】〕］｝〉》〗」』"
_SEPARATORS = "，、；;：:"
_DASHES = "—–－‐‑―~～"
_QUOTES = "\"'“”‘’`"
_PUNCTUATION = str.maketrans(
    {
        **dict.fromkeys(_OPEN, "("),
        **dict.fromkeys(_CLOSE, ")"),
        **dict.fromkeys(_SEPARATORS, ","),
        **dict.fromkeys(_DASHES, "-"),
        **dict.fromkeys(_QUOTES, ""),
        "。": "",
        "？": "?",
        "！": "",
    }
)
_SPACE = re.compile(r"\s+")
_REPEATS = re.compile(r"([,\-?])\1+")


@lru_cache(maxsize=1)
def _t2s():
    """OpenCC traditional → simplified, and the characters that can make it change anything.

    Converting costs ~30 µs a term; almost all terms have none of those characters and skip it.
    """
    import opencc

    folder = resources.files("opencc").joinpath("dictionary")
    singles = set()
    for line in folder.joinpath("TSCharacters.txt").read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition("\t")
        if len(key) == 1 and key != value:
            singles.add(key)
    trigger = set(singles)
    for line in folder.joinpath("TSPhrases.txt").read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition("\t")
        if key != value and not singles.intersection(key):
            trigger.update(key)
    return opencc.OpenCC("t2s"), frozenset(trigger)


def _cn_number(text: str) -> int:
    """一 → 1, 十 → 10, 十二 → 12, 二十 → 20, 二十三 → 23."""
    if "十" not in text:
        return int("".join(str(_CN_DIGITS[ch]) for ch in text))
    tens, _, ones = text.partition("十")
    return (_CN_DIGITS.get(tens, 1) if tens else 1) * 10 + (_CN_DIGITS.get(ones, 0))


def _numerals(text: str) -> str:
    """Roman and Chinese numerals before 型/度/级/期/类/段/区/相/° become Arabic digits."""
    text = _ROMAN_GRADE.sub(lambda m: str(_ROMAN[m.group(1)]), text)
    text = _CN_GRADE.sub(lambda m: str(_cn_number(m.group(1))), text)
    return _DEGREE.sub(r"\1度", text)


@lru_cache(maxsize=65536)
def normalise(text: str) -> str:
    """The comparable spelling of a clinical term (same meaning, one way of writing it).

    NFKC (full-width → half-width), traditional → simplified, grade numerals → digits, one
    kind of bracket ``()``, one separator ``,``, one dash ``-``, no spaces, Latin lower-cased.
    """
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text.translate(_SMALL_ROMAN))
    if not text.isascii():
        converter, trigger = _t2s()
        if not trigger.isdisjoint(text):
            text = converter.convert(text)
    text = _SPACE.sub("", text).translate(_PUNCTUATION)
    text = _numerals(text)
    text = _REPEATS.sub(r"\1", text).strip(",-")
    return text.lower()


def bare(text: str) -> str:
    """A normalised term without any punctuation: the key two spellings are compared on."""
    return "".join(ch for ch in text if ch.isalnum())


def split_qualifiers(text: str, words: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    """Strip leading/trailing uncertainty ``words`` (``待查``, ``?``) from a normalised term.

    Returns the remaining term and the qualifiers found, in order; a term that is only a
    qualifier is returned unchanged (``待查`` alone is not an empty diagnosis).

    >>> split_qualifiers("发热(待查)", ("待查",))
    ('发热', ('待查',))
    """
    found: list[str] = []
    core = text
    changed = True
    while changed:
        changed = False
        for word in words:
            for form in (f"({word})", word):
                if core.endswith(form) and len(core) > len(form):
                    core = core[: -len(form)].rstrip(",-")
                elif core.startswith(form) and len(core) > len(form):
                    core = core[len(form) :].lstrip(",-")
                else:
                    continue
                found.append(word)
                changed = True
                break
    return core, tuple(found)


def initials(text: str) -> str:
    """Pinyin first letters of a term, for search boxes (``冠心病`` → ``gxb``).

    Digits and Latin letters are kept (``2型糖尿病`` → ``2xtnb``); punctuation is dropped.
    """
    from pypinyin import Style, lazy_pinyin

    letters = lazy_pinyin(bare(normalise(text)), style=Style.FIRST_LETTER, errors="default")
    return "".join(letters).lower()


@lru_cache(maxsize=1)
def _syllables() -> dict[int, str]:
    """Han character → one private-use character per toneless pinyin syllable (first reading)."""
    from pypinyin.pinyin_dict import pinyin_dict

    plain = str.maketrans("āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜńňǹḿ", "aaaaeeeeiiiioooouuuuvvvvnnnm")
    codes: dict[str, str] = {}
    table = {}
    for point, readings in pinyin_dict.items():
        syllable = readings.split(",", 1)[0].translate(plain)
        table[point] = codes.setdefault(syllable, chr(0xE000 + len(codes)))
    return table


def homophone(text: str) -> str:
    """A bare term with each character replaced by its sound: ``冠心并`` and ``冠心病`` agree.

    Typing by pinyin input method produces homophone typos (并 for 病, 疯 for 风); comparing
    sounds catches them. Polyphonic characters use their most common reading.
    """
    return text.translate(_syllables())


DIAGNOSIS, PROCEDURE, ANY = "diagnosis", "procedure", "any"
_LATIN = re.compile(r"[a-z]")
_PINYIN_INITIALS = re.compile(r"[a-z]{2,8}")
_MAX_VARIANTS = 8
# How much less sure a spelling reached by a step is than the name as typed.
EXPANSION, ALTERNATIVE, RULE, SOUND = 0.98, 0.97, 0.98, 0.96


@dataclass(frozen=True)
class Rule:
    """A rewrite of a normalised name (``高血压3级极高危`` → ``高血压3级``), tried beside it."""

    id: str
    pattern: re.Pattern[str]
    replace: str
    source: str
    kinds: tuple[str, ...] = (DIAGNOSIS, PROCEDURE)


@dataclass(frozen=True)
class Spelling:
    """One way to read a local name: the text, why, and how sure (1.0 = as typed)."""

    text: str
    reasons: tuple[str, ...] = ()
    weight: float = 1.0


@dataclass
class Vocabulary:
    """Synonyms, rewrite rules and uncertainty words, as shipped in ``data/synonyms.toml``.

    ``terms[kind]`` maps a bare key to its expansions; ``sources[kind][key]`` says where the
    usage comes from. Kinds are ``diagnosis`` and ``procedure``.
    """

    terms: dict[str, dict[str, tuple[str, ...]]]
    sources: dict[str, dict[str, str]]
    rules: list[Rule]
    uncertain: tuple[str, ...]
    _key_lengths: dict[str, dict[str, list[int]]] = field(default_factory=dict, repr=False)
    _sounds: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)

    def _lengths(self, kind: str) -> dict[str, list[int]]:
        """First character of a key → the lengths of keys starting with it, longest first."""
        if kind not in self._key_lengths:
            lengths: dict[str, set[int]] = {}
            for k in self.terms.get(kind, {}):
                lengths.setdefault(k[0], set()).add(len(k))
            self._key_lengths[kind] = {c: sorted(n, reverse=True) for c, n in lengths.items()}
        return self._key_lengths[kind]

    def _sound(self, kind: str) -> dict[str, str]:
        """Pinyin initials and homophone spellings of the Chinese keys → the key."""
        if kind not in self._sounds:
            found: dict[str, str] = {}
            for key in sorted(self.terms.get(kind, {})):
                if not key.isascii():
                    found.setdefault(initials(key), key)
                    found.setdefault(homophone(key), key)
            self._sounds[kind] = found
        return self._sounds[kind]

    def expand(self, key: str, kind: str) -> list[Spelling]:
        """Spellings worth trying for a bare key: itself first, then expansions and rewrites.

        Each comes with its reasons (``缩写 冠心病→冠状动脉粥样硬化性心脏病``, ``规则 htn-…``).
        """
        bases = [Spelling(key)]
        table, sounds = self.terms.get(kind, {}), self._sound(kind)
        if key not in table:
            heard, how = None, ""
            if _PINYIN_INITIALS.fullmatch(key):
                heard, how = sounds.get(key), "拼音首字母 initials"
            elif not key.isascii():
                heard, how = sounds.get(homophone(key)), "同音 homophone"
            if heard and heard != key:
                bases.append(Spelling(heard, (f"{how} {key}→{heard}",), SOUND))
        variants = list(bases)
        for base in bases:
            expanded = self._synonyms(base, kind)
            # One more round: 剖腹产 → 剖宫产 → 剖宫产术,子宫下段横切口.
            variants += expanded + [v for e in expanded for v in self._synonyms(e, kind)]
        for base in list(variants):
            variants += self._rules(base, kind)
        seen: set[str] = set()
        unique = [v for v in variants if v.text and not (v.text in seen or seen.add(v.text))]
        return unique[:_MAX_VARIANTS]

    def _synonyms(self, base: Spelling, kind: str) -> list[Spelling]:
        table, key = self.terms.get(kind, {}), base.text
        hits = _hits(key, table, self._lengths(kind))
        if not hits:
            return []
        first = [table[word][0] for _, word in hits]
        combos = [(first, EXPANSION)]
        for i, (_, word) in enumerate(hits):
            for alt in table[word][1:]:
                combos.append(([*first[:i], alt, *first[i + 1 :]], ALTERNATIVE))
        out = []
        for combo, weight in combos:
            text, at = [], 0
            for (start, word), expansion in zip(hits, combo, strict=True):
                text += [key[at:start], expansion]
                at = start + len(word)
            reasons = tuple(f"缩写 {w}→{e}" for (_, w), e in zip(hits, combo, strict=True))
            out.append(
                Spelling("".join(text) + key[at:], base.reasons + reasons, base.weight * weight)
            )
        return out

    def _rules(self, base: Spelling, kind: str) -> list[Spelling]:
        """Each rule alone, then all that fired chained in file order."""
        out, fired, chained = [], [], base.text
        for rule in self.rules:
            if kind not in rule.kinds:
                continue
            alone = rule.pattern.sub(rule.replace, base.text)
            if alone != base.text:
                reason = f"规则 {rule.id}"
                out.append(Spelling(alone, (*base.reasons, reason), base.weight * RULE))
                chained = rule.pattern.sub(rule.replace, chained)
                fired.append(reason)
        if len(fired) > 1:
            out.append(Spelling(chained, base.reasons + tuple(fired), base.weight * RULE))
        return out


def _hits(
    key: str, table: dict[str, tuple[str, ...]], lengths: dict[str, list[int]]
) -> list[tuple[int, str]]:
    """Leftmost-longest keys of ``table`` in ``key``, not overlapping: (start, key) pairs.

    Latin keys only match as whole words (dm does not fire inside "admission"), and a key is
    not expanded where its long form is already written (脑梗 inside 脑梗死).
    """
    hits, at = [], 0
    while at < len(key):
        for n in lengths.get(key[at], ()):
            word = key[at : at + n]
            if len(word) == n and word in table and _fits(key, at, word, table[word]):
                hits.append((at, word))
                at += n
                break
        else:
            at += 1
    return hits


def _fits(key: str, start: int, word: str, expansions: tuple[str, ...]) -> bool:
    end = start + len(word)
    if _LATIN.match(word[0]) and start > 0 and _LATIN.match(key[start - 1]):
        return False
    if _LATIN.match(word[-1]) and end < len(key) and _LATIN.match(key[end]):
        return False
    longer = (e for e in expansions if len(e) > len(word) and e.startswith(word))
    return not any(key.startswith(expansion, start) for expansion in longer)


def load_vocabulary(path: Path | None = None) -> Vocabulary:
    """Read a synonyms file (default: the shipped ``data/synonyms.toml``); keys are normalised.

    A block or rule without a ``source`` is an error: every synonym must say where it is from.
    """
    if path is None:
        return _shipped_vocabulary()
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    terms: dict[str, dict[str, tuple[str, ...]]] = {DIAGNOSIS: {}, PROCEDURE: {}}
    sources: dict[str, dict[str, str]] = {DIAGNOSIS: {}, PROCEDURE: {}}
    for number, block in enumerate(data.get("synonyms", []), start=1):
        source = block.get("source")
        if not source:
            raise ValueError(f"{path}: [[synonyms]] block {number} has no source / 缺少来源")
        for key, value in block.get("terms", {}).items():
            values = [value] if isinstance(value, str) else value
            for kind in _kinds(block.get("applies", ANY)):
                terms[kind][bare(normalise(key))] = tuple(bare(normalise(v)) for v in values)
                sources[kind][bare(normalise(key))] = source
    rules = []
    for entry in data.get("rule", []):
        if not entry.get("source"):
            raise ValueError(f"{path}: rule {entry.get('id')!r} has no source / 缺少来源")
        pattern = re.compile(entry["pattern"])
        kinds = _kinds(entry.get("applies", ANY))
        rules.append(Rule(entry["id"], pattern, entry["replace"], entry["source"], kinds))
    uncertain = tuple(normalise(w) for w in data.get("qualifiers", {}).get("uncertain", []))
    return Vocabulary(terms, sources, rules, uncertain)


def _kinds(applies: str) -> tuple[str, ...]:
    if applies not in (DIAGNOSIS, PROCEDURE, ANY):
        raise ValueError(f"applies must be diagnosis, procedure or any, not {applies!r}")
    return (DIAGNOSIS, PROCEDURE) if applies == ANY else (applies,)


@lru_cache(maxsize=1)
def _shipped_vocabulary() -> Vocabulary:
    folder = resources.files("hutong.terminologies").joinpath("data")
    with resources.as_file(folder.joinpath("synonyms.toml")) as path:
        return load_vocabulary(path)
