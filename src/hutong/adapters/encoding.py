"""The one encoding detector: UTF-8 (with or without BOM), GBK/GB18030, then a best guess.

Chinese HIS exports are GBK more often than not, and rarely say so. Bytes that do not decode
are kept as surrogate escapes (``\\udc80``–``\\udcff``) so the reader can reject exactly the
records that hold them instead of failing the whole file.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from charset_normalizer import from_bytes

# Aliases users write in profiles, mapped to the codec Python should use. GB18030 is a
# superset of GBK and GB2312, so decoding with it never loses a GBK character.
ALIASES = {
    "gbk": "gb18030",
    "gb2312": "gb18030",
    "cp936": "gb18030",
    "utf8": "utf-8",
    "utf-8": "utf-8",
    "utf-8-sig": "utf-8",
}


@dataclass(frozen=True)
class Decoded:
    """Text of a file, the encoding used, and how many bytes did not decode."""

    text: str
    encoding: str
    bad_bytes: int
    detected: bool


def canonical(name: str) -> str:
    """Normalise an encoding name (``GBK`` → ``gb18030``; unknown names raise LookupError)."""
    low = name.strip().lower()
    codec = ALIASES.get(low, low)
    codecs.lookup(codec)
    return codec


def _strict(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except UnicodeDecodeError:
        return None


def _lenient(data: bytes, codec: str, detected: bool) -> Decoded:
    text = data.decode(codec, errors="surrogateescape")
    return Decoded(text, codec, _escaped(text), detected)


def _escaped(text: str) -> int:
    """How many bytes did not decode (surrogate escapes); clean text encodes, and says so."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return len(_ESCAPES.findall(text))
    return 0


_ESCAPES = re.compile("[\udc80-\udcff]")


# Latin-1 text (é, ü inside words) often also decodes as GB18030, into Han characters glued to
# Latin letters (Müller → M黮ler); real Chinese text has few Han characters touching letters.
_TOUCHING = re.compile(
    r"(?<=[A-Za-z])[\u3400-\u9fff\uac00-\ud7af]|[\u3400-\u9fff\uac00-\ud7af](?=[A-Za-z])"
)
_CJK = re.compile(r"[\u3400-\u9fff\uac00-\ud7af]")


def looks_latin(text: str) -> bool:
    """True when text decoded as GB18030 is more likely Latin-1/cp1252 read wrongly."""
    cjk = len(_CJK.findall(text))
    return cjk > 0 and len(_TOUCHING.findall(text)) * 2 >= cjk


def decode(data: bytes, declared: str | None = None) -> Decoded:
    """Decode ``data`` with the declared encoding, or detect it when none is given."""
    if data.startswith(codecs.BOM_UTF8):
        return _lenient(data[len(codecs.BOM_UTF8) :], "utf-8", declared is None)
    if declared:
        return _lenient(data, canonical(declared), False)
    for codec in ("utf-8", "gb18030"):
        text = _strict(data, codec)
        if text is not None and codec == "gb18030" and looks_latin(text):
            latin = "cp1252" if _strict(data, "cp1252") is not None else "latin-1"
            return Decoded(data.decode(latin), latin, 0, True)
        if text is not None:
            return Decoded(text, codec, 0, True)
    best = from_bytes(data).best()
    codec = canonical(best.encoding) if best is not None else "gb18030"
    return _lenient(data, codec, True)


def alternatives(data: bytes, used: str) -> list[Decoded]:
    """Other plausible decodings of ``data``, for a file whose header did not match."""
    out = []
    for codec in ("utf-8", "gb18030"):
        if codec != used:
            text = _strict(data.removeprefix(codecs.BOM_UTF8), codec)
            if text is not None:
                out.append(Decoded(text, codec, 0, True))
    return out


def has_bad_bytes(value: str) -> bool:
    """True when a decoded value still holds bytes that did not decode."""
    return any("\udc80" <= ch <= "\udcff" for ch in value)
