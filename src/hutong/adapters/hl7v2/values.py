"""v2 data types → canonical values: TS/DT, NM, ranges, XPN names, XAD addresses, XTN phones,
CWE codes and GB 11643 ID numbers. Pure functions over decoded strings, so they can be tested
(and reused) without a message around them.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from hutong.adapters.hl7v2.tables import table

_TS = re.compile(
    r"(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.\d{1,4}|(?<=\d{14})\d{1,4})?\s*(?P<tz>[+-]\d{4})?\Z"
)
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z")
_RANGE = re.compile(
    r"\s*([+-]?\d+(?:\.\d+)?)\s*(?:-|–|~|_|&|\.\.|to|TO|至)\s*([+-]?\d+(?:\.\d+)?)\s*\Z"
)
_BOUND = re.compile(r"\s*(<=|>=|<|>|≤|≥)\s*([+-]?\d+(?:\.\d+)?)\s*\Z")
_CJK = re.compile(r"[\u3400-\u9fff]")
_MASKED = re.compile(r"\*{3,}\Z")


class Unreadable(ValueError):
    """A value that is present but not readable as its data type."""


def masked(text: str) -> bool:
    """``***``: a value blanked by de-identification, not a value."""
    return bool(_MASKED.match(text))


def timestamp(text: str, formats: tuple[str, ...] = ()) -> tuple[dt.datetime, str | None]:
    """An HL7 TS/DTM as the local wall time written (offset returned apart, not applied).

    ``formats`` are strptime formats tried when the text is not TS (a vendor profile's).
    """
    text = text.strip()
    m = _TS.match(text)
    if m is not None:
        year, month, day, hour, minute, second = (int(g) if g else None for g in m.groups()[:6])
        try:
            value = dt.datetime(year, month or 1, day or 1, hour or 0, minute or 0, second or 0)
        except ValueError as exc:
            raise Unreadable(f"{text!r} is not a date/time: {exc}") from None
        return value, m.group("tz")
    for fmt in formats:
        try:
            return dt.datetime.strptime(text, fmt), None
        except ValueError:
            continue
    raise Unreadable(f"{text!r} is not an HL7 date/time")


def number(text: str) -> float:
    """An NM value; raise :class:`Unreadable` for anything else (units, commas, ranges)."""
    text = text.strip()
    if not _NUMBER.match(text):
        raise Unreadable(f"{text!r} is not a number")
    return float(text)


def maybe_number(text: str) -> float | None:
    try:
        return number(text)
    except Unreadable:
        return None


def ref_range(text: str) -> tuple[float | None, float | None]:
    """Low and high of a reference range (``3.5-5.0``, ``<7800``, ``>=60``); None if not numeric.

    Each test has its few ranges, so each distinct text is read once."""
    found = _RANGES.get(text)
    if found is None:
        if len(_RANGES) >= CACHE_SIZE:
            _RANGES.clear()
        found = _RANGES[text] = _range(text)
    return found


def _range(text: str) -> tuple[float | None, float | None]:
    m = _RANGE.match(text)
    if m is not None:
        return float(m.group(1)), float(m.group(2))
    m = _BOUND.match(text)
    if m is not None:
        bound = float(m.group(2))
        return (None, bound) if m.group(1) in ("<", "<=", "≤") else (bound, None)
    return None, None


def person_name(parts: list[str]) -> str | None:
    """XPN (family, given, middle, suffix, prefix) as one string: 王小明, or ADAM A EVERYMAN."""
    family, given, middle, suffix = (p.strip() for p in (parts + [""] * 4)[:4])
    if _CJK.search(family + given):
        return (family + given + middle).replace(" ", "") or None
    return " ".join(p for p in (given, middle, family, suffix) if p) or None


def address(parts: list[str]) -> str | None:
    """XAD as one line: large to small for Chinese (湖南岳阳华容…), street first otherwise."""
    street, other, city, state, zip_code, country = (parts + [""] * 6)[:6]
    if _CJK.search(street + other + city + state):
        return "".join(p for p in (state, city, other, street) if p) or None
    tail = " ".join(p for p in (state, zip_code) if p)
    return ", ".join(p for p in (street, other, city, tail, country) if p) or None


def phone(reps: list[list[str]]) -> str | None:
    """The first telephone number of an XTN field (e-mail and internet repetitions skipped)."""
    for parts in reps:
        parts = (parts + [""] * 8)[:8]
        if parts[2].upper() in ("INTERNET", "X.400", "NET") or parts[1].upper() == "NET":
            continue
        number_ = parts[0] or "".join(p for p in (parts[5], parts[6]) if p)
        if number_:
            return number_ + (f" ext {parts[7]}" if parts[7] else "")
    return None


@dataclass(frozen=True)
class Coded:
    """A CWE/CE value split into the sender's own code and a standard one (LOINC, SNOMED ...)."""

    local_code: str | None
    local_name: str | None
    code: str | None
    code_system: str | None
    text: str | None


def coded(parts: list[str]) -> Coded:
    """Read identifier/text/system and the alternate triple of a CWE/CE (plus original text).

    A feed repeats the same few thousand test and drug codes, so each distinct value is read
    once (``Coded`` is immutable) and looked up after that.
    """
    key = tuple(parts[:9])  # the components read; shorter ones are padded alike
    found = _CODED.get(key)
    if found is None:
        if len(_CODED) >= CACHE_SIZE:
            _CODED.clear()
        found = _CODED[key] = _coded(list(key))
    return found


CACHE_SIZE = 20_000  # distinct values remembered per cache, then it starts again
_CODED: dict[tuple[str, ...], Coded] = {}
_RANGES: dict[str, tuple[float | None, float | None]] = {}


def _coded(parts: list[str]) -> Coded:
    parts = (parts + [""] * 9)[:9]
    standard_names = table("coding_systems", "standard")
    triples = [parts[0:3], parts[3:6]]
    standard = local = None
    for ident, text, system in triples:
        name = standard_names.get(system.upper()) if system else None
        if name and ident and standard is None:
            standard = (ident, text, name)
        elif (ident or text) and local is None and not name:
            local = (ident, text)
    text = (local[1] if local else "") or (standard[1] if standard else "") or parts[8]
    return Coded(
        local[0] or None if local else None,
        (local[1] or parts[8] or None) if local else None,
        standard[0] if standard else None,
        standard[2] if standard else None,
        text or None,
    )


def unit(parts: list[str]) -> str | None:
    """A unit (CWE): its code (``mg``, ``mmol/L``), or its text when the code is a bare number."""
    code_, text = [*parts, "", ""][:2]
    code_, text = code_.strip(), text.strip()
    return (text if code_.isdigit() and text else code_ or text) or None


def gb11643(value: str) -> bool:
    """True for an 18-character 公民身份号码 whose check character (GB 11643-1999) is right."""
    if len(value) != 18 or not value[:17].isdigit():
        return False
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(c) * w for c, w in zip(value[:17], weights, strict=True))
    return "10X98765432"[total % 11] == value[17].upper()


def integer(text: str) -> int | None:
    """A set id (``0001``) as an int; None when not a plain number."""
    text = text.strip()
    return int(text) if text.isdigit() and len(text) < 10 else None
