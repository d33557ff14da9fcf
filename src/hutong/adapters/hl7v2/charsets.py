"""Decode one message's bytes: MSH-18 says the character set, the bytes may disagree.

Chinese feeds often send GBK/GB18030 with MSH-18 empty or claiming ASCII/UTF-8, and European
ones Latin-1 with no MSH-18. The declared set is tried strictly first; when it does not fit, the
project's one detector (:mod:`hutong.adapters.encoding`) decides, and the batch notes say so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hutong.adapters.encoding import decode
from hutong.adapters.hl7v2.tables import table

# A CJK character between two Latin letters ("pati雗t") is what Latin-1 accents look like when
# read as GB18030; real Chinese text has runs of CJK characters instead.
# Lone surrogates are bytes the detector could not decode (kept as surrogate escapes); checked on
# the final text, whichever way it was decoded, so none reaches a row.
_SURROGATE = re.compile(r"[\ud800-\udfff]")


@dataclass(frozen=True)
class Text:
    """A message decoded: its text, the codec used, and what the notes should say."""

    text: str
    codec: str
    note: str | None = None  # why the codec differs from MSH-18, when it does
    bad_bytes: int = 0


def declared(msh: bytes) -> str:
    """MSH-18 (first repetition, first component) read from the raw MSH line, or ``""``."""
    if len(msh) < 8:
        return ""
    sep = msh[3:4]
    fields = msh.split(sep, 18)
    if len(fields) < 18:
        return ""
    enc = fields[1]
    value = fields[17]
    for delim in enc[:2]:  # component, repetition
        value = value.split(bytes([delim]), 1)[0]
    return value.decode("latin-1").strip()


def codec_of(name: str) -> str | None:
    """The Python codec for an MSH-18 value (table 0211 or a common spelling), None if unknown."""
    key = " ".join(name.upper().split())
    return table("charsets", "codecs").get(key)


def decode_message(data: bytes, msh18: str) -> Text:
    """Decode a message's bytes, trusting MSH-18 only as far as the bytes agree; ``bad_bytes``
    counts what could not be decoded."""
    text = _decode(data, msh18)
    if text.text.isascii():  # O(1) for a str: no surrogate to look for
        return text
    bad = len(_SURROGATE.findall(text.text))
    return Text(text.text, text.codec, text.note, bad) if bad else text


def _decode(data: bytes, msh18: str) -> Text:
    codec = codec_of(msh18) if msh18 else None
    if codec is not None:
        text = _strict(data, codec)
        if text is not None and not (codec in ("latin-1", "cp1252") and _is_utf8(data)):
            return Text(text, codec)
    found = decode(data)  # the project's one detector (it also tells Latin-1 from GB18030)
    text, used = found.text, found.encoding
    if used == "ascii" or (msh18 and codec == used):
        return Text(text, used)
    if msh18:
        said = f"MSH-18 {msh18!r}" + ("" if codec else " (unknown character set)")
        note = f"{said} does not fit the bytes; read as {used}"
    else:
        note = f"no MSH-18; bytes read as {used}" if not data.isascii() else None
    return Text(text, used, note)


def _strict(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _is_utf8(data: bytes) -> bool:
    """Non-ASCII bytes that are valid UTF-8: a strong sign a Latin-1 label is wrong."""
    return not data.isascii() and _strict(data, "utf-8") is not None
