"""Element values as text, decoded with the data set's Specific Character Set (0008,0005).

Values are decoded from the raw bytes, not through pydicom's converters, because pydicom
replaces undecodable bytes with U+FFFD and only warns: here they become an ``encoding``
reject naming the tag. A whole value is decoded before it is split at ``\\``, ``=`` and ``^``:
in GB18030 and GBK those bytes also occur as the second byte of a Han character.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from pydicom.charset import convert_encodings, decode_bytes, python_encoding
from pydicom.datadict import keyword_for_tag
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.valuerep import PersonName

from hutong.adapters import encoding
from hutong.adapters.dicom_header import Refused, quiet

MAX_VALUE = 1024  # bytes; the text VRs read here hold at most 64 characters (PS3.5 6.2)
TEXT_DELIMS = {0x5C, 0x0D, 0x0A, 0x09, 0x0C}  # value separator and control characters
PN_DELIMS = {0x5C, 0x3D, 0x5E}  # \ = ^ reset ISO 2022 code extensions (PS3.5 6.1.2.5.3)
DEFAULT_TERMS = {"", "ISO_IR 6", "ISO 2022 IR 6"}
CHARSET_TAG = 0x00080005
UID = re.compile(r"[0-9]+(\.[0-9]+)*")
# Han, kana and Hangul: names in these scripts are written without a space (王小东, 山田太郎)
CJK = re.compile(r"[\u1100-\u11ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af"
                 r"\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f]")  # fmt: skip


def _squash(term: str) -> str:
    return re.sub(r"[\s_-]", "", term.upper())


# DICOM defined terms by a spelling without separators: "ISO_IR100" and "ISO-IR 100" are seen
SPELLINGS = {_squash(term): term for term in python_encoding if term}


@cache
def label(tag: int) -> str:
    """How a reject names an element: ``(0010,0010) PatientName``."""
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X}) {keyword_for_tag(tag) or 'Unknown'}".rstrip()


@dataclass(frozen=True)
class Charset:
    """The declared character set terms of a data set (or directory record)."""

    terms: tuple[str, ...] = ()

    @classmethod
    def of(cls, ds: Dataset, parent: Charset | None = None) -> Charset:
        """The data set's own (0008,0005), or its parent's when it declares none."""
        raw = raw_value(ds, CHARSET_TAG)
        if raw is None:
            return parent or cls()
        text = raw if isinstance(raw, str) else raw.decode("ascii", errors="replace")
        return cls(tuple(t.strip(" \x00") for t in text.split("\\")))

    def codecs(self) -> list[str] | None:
        """Python codecs for the terms; None for the default repertoire (ASCII)."""
        return _codecs(self.terms)


@cache
def _codecs(declared: tuple[str, ...]) -> list[str] | None:
    if all(t in DEFAULT_TERMS for t in declared):
        return None
    terms = []
    for term in declared:
        official = term if term in python_encoding else SPELLINGS.get(_squash(term))
        if official is None:
            if len(declared) == 1:
                try:  # a codec name where a DICOM term belongs ("GBK", "GB2312", "UTF-8")
                    return [encoding.canonical(term)]
                except LookupError:
                    pass
            raise Refused(
                "encoding", f"unknown character set {term!r} / 未知字符集", label(CHARSET_TAG)
            )
        terms.append(official)
    with quiet():
        return convert_encodings(terms)


def raw_value(ds: Dataset, tag: int) -> bytes | str | None:
    """The undecoded bytes of an element; None when absent or empty.

    pydicom converts a few elements while it reads (the character set, empty values): those
    come back as the text pydicom made of them.
    """
    return raw(ds.get_item(tag, keep_deferred=True), tag)


def raw(elem: RawDataElement | DataElement | None, tag: int) -> bytes | str | None:
    """:func:`raw_value` of an element already looked up (``None`` when it is absent)."""
    if elem is None:
        return None
    if not isinstance(elem, RawDataElement):
        if elem.is_empty:
            return None
        if isinstance(elem.value, str | PersonName):
            return str(elem.value)
        if isinstance(elem.value, MultiValue):
            return "\\".join(str(v) for v in elem.value)
        raise Refused("malformed", "not a text value / 不是文本值", label(tag))
    value = elem.value
    if value is None:
        if elem.length:  # left on disk: far longer than any value read here may be
            raise Refused("hostile", f"value of {elem.length} bytes / 值过长", label(tag))
        return None
    if not isinstance(value, bytes):
        raise Refused("malformed", "not a text value / 不是文本值", label(tag))
    if len(value) > MAX_VALUE:
        raise Refused("hostile", f"value of {len(value)} bytes / 值过长", label(tag))
    return value


def decode(
    value: bytes | str, charset: Charset, tag: int, delims: set[int]
) -> tuple[str, str | None]:
    """Text of ``value`` and, when its encoding had to be guessed, a note saying so."""
    if isinstance(value, str):
        return value, None
    if 0x1B not in value and value.isascii():
        return value.decode("ascii"), None
    codecs = charset.codecs()
    if codecs is None:
        guess = encoding.decode(value)
        if guess.bad_bytes:
            raise Refused("encoding", "bytes not decodable / 无法解码", label(tag))
        note = (
            f"non-ASCII text without (0008,0005) SpecificCharacterSet decoded as "
            f"{guess.encoding} / 未声明字符集，按{guess.encoding}解码"
        )
        return guess.text, note
    if 0x1B not in value:
        try:
            return value.decode(codecs[0]), None
        except UnicodeDecodeError:
            pass
    else:
        with quiet():
            text = decode_bytes(value, codecs, delims)
        if "\ufffd" not in text:
            return text, None
    terms = "\\".join(charset.terms)
    raise Refused("encoding", f"bytes not decodable as {terms} / 按声明字符集无法解码", label(tag))


def text(
    ds: Dataset, tag: int, charset: Charset, notes: list[str], person: bool = False
) -> str | None:
    """The first value of a text element, stripped; person names made readable."""
    return text_of(raw_value(ds, tag), tag, charset, notes, person)


def text_of(
    value: bytes | str | None, tag: int, charset: Charset, notes: list[str], person: bool = False
) -> str | None:
    """:func:`text` of a :func:`raw` value."""
    if value is None:
        return None
    if isinstance(value, bytes) and 0x1B not in value and value.isascii():
        decoded = value.decode("ascii")  # the common case, without :func:`decode`'s checks
    else:
        decoded, note = decode(value, charset, tag, PN_DELIMS if person else TEXT_DELIMS)
        if note:
            notes.append(note)
    first = decoded.split("\\", 1)[0].strip(" \x00")
    if person:
        return readable(first)
    return first or None


def code(ds: Dataset, tag: int) -> str:
    """An ASCII value (code string, UID), padding stripped; "" when absent."""
    return code_of(raw_value(ds, tag))


def code_of(value: bytes | str | None) -> str:
    """:func:`code` of a :func:`raw` value."""
    if isinstance(value, bytes):
        value = value.decode("ascii", errors="replace")
    return value.strip(" \x00") if value else ""


def uid(ds: Dataset, tag: int) -> str | None:
    """A UID value, refused when it is not digits and dots of at most 64 characters."""
    return uid_of(raw_value(ds, tag), tag)


def uid_of(value: bytes | str | None, tag: int) -> str | None:
    """:func:`uid` of a :func:`raw` value."""
    found = code_of(value)
    if not found:
        return None
    if len(found) > 64 or not UID.fullmatch(found):
        raise Refused("malformed", f"not a UID / 不是UID: {found[:80]!r}", label(tag))
    return found


def readable(name: str) -> str | None:
    """A person name as people write it: 王^小东 → 王小东, Buc^Jérôme → Buc Jérôme.

    Of the alphabetic, ideographic and phonetic groups (``=``-separated) the ideographic one is
    taken when present; components (family^given^middle^prefix^suffix) are kept in order.
    """
    groups = [[c.strip() for c in g.split("^") if c.strip()] for g in name.split("=")]
    order = [1, 0, 2] if len(groups) > 1 else [0]
    for i in order:
        if i < len(groups) and groups[i]:
            parts = groups[i]
            joiner = "" if any(CJK.search(p) for p in parts) else " "
            return joiner.join(parts)
    return None
