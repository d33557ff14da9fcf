"""Parse untrusted XML without trusting it: no DTD, no entities, no network, bounded sizes.

A CDA document comes from outside the hospital's walls as often as from inside, so the parser
refuses what XML allows but no clinical document needs: a DOCTYPE (the door to entity bombs and
to XXE reading ``/etc/passwd`` or calling a URL), more than :data:`MAX_BYTES` of file, elements
nested deeper than :data:`MAX_DEPTH`, and a text node beyond libxml2's 10 MB limit (kept by
``huge_tree=False``). The file size is checked before a byte is read, and the document is fed to
libxml2 in small chunks, so memory stays bounded by the limits, not by the input.

>>> root = parse(Path("doc.xml"))  # doctest: +SKIP
"""

from __future__ import annotations

import re
from pathlib import Path

from lxml import etree

MAX_BYTES = 50 * 1024 * 1024
MAX_DEPTH = 200
MAX_TEXT = 10_000_000  # libxml2's XML_MAX_TEXT_LENGTH, enforced while huge_tree is off
CHUNK = 64 * 1024

OPTIONS = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,
    "dtd_validation": False,
    "attribute_defaults": False,
    "remove_comments": True,
    "remove_pis": True,
}

# libxml2 messages that mean a limit was hit (hostile), or that the bytes are not text in the
# declared encoding (encoding); any other syntax error is a malformed document.
LIMIT_MESSAGES = ("Resource limit exceeded", "Excessive depth", "huge", "Maximum", "too long")
ENCODING_MESSAGES = (
    "not proper UTF-8",
    "Unsupported encoding",
    "encoding",
    "Document labelled UTF-16",
    "Invalid bytes",
)

# (first bytes, encoding, length of the byte-order mark to skip)
BOMS = (
    (b"\x00\x00\xfe\xff", "utf-32-be", 4),
    (b"\xff\xfe\x00\x00", "utf-32-le", 4),
    (b"\xef\xbb\xbf", "utf-8", 3),
    (b"\xfe\xff", "utf-16-be", 2),
    (b"\xff\xfe", "utf-16-le", 2),
    (b"\x00<\x00?", "utf-16-be", 0),
    (b"<\x00?\x00", "utf-16-le", 0),
)


class Refused(Exception):
    """The document cannot be converted: ``reason`` is a reject reason of :mod:`hutong.model`."""

    def __init__(
        self, reason: str, message: str, field: str | None = None, locator: str | None = None
    ):
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.field = field
        self.locator = locator  # within the document (``file.xml/section[29548-5]``), if known


def head_text(head: bytes) -> str:
    """The first bytes as text good enough to read markup (encoding from the BOM, else Latin-1)."""
    for bom, encoding, skip in BOMS:
        if head.startswith(bom):
            return head[skip:].decode(encoding, errors="replace")
    return head.decode("latin-1")


PROLOG_ITEM = re.compile(r"\s*(<\?.*?\?>|<!--.*?-->)", re.S)
DOCTYPE = re.compile(r"\s*<!DOCTYPE\b", re.S)


def prolog(text: str) -> tuple[bool, str | None]:
    """(whether the prolog declares a DOCTYPE, the text from the root element on or None)."""
    pos = 0
    while True:
        item = PROLOG_ITEM.match(text, pos)
        if item is None:
            break
        pos = item.end()
    if DOCTYPE.match(text, pos):
        end = _doctype_end(text, pos)
        return True, None if end is None else prolog(text[end:])[1]
    rest = text[pos:].lstrip()
    return False, rest if rest.startswith("<") else None


def _doctype_end(text: str, start: int) -> int | None:
    """End of a DOCTYPE declaration (after its internal subset), or None when cut off."""
    bracket = text.find("[", start)
    close = text.find(">", start)
    if close < 0:
        return None
    if 0 <= bracket < close:
        end = text.find("]", bracket)
        close = text.find(">", end) if end >= 0 else -1
    return close + 1 if close >= 0 else None


def parse(path: Path) -> etree._Element:
    """The root element of ``path``; raises :class:`Refused` for hostile or broken input."""
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise Refused(
            "hostile",
            f"document of {size:,} bytes exceeds the {MAX_BYTES:,}-byte limit / 文档过大",
        )
    if size == 0:
        raise Refused("malformed", "empty file / 空文件")
    with path.open("rb") as fh:
        chunk = fh.read(CHUNK)
        doctype, _ = prolog(head_text(chunk))
        if doctype:
            raise Refused("hostile", "DOCTYPE declaration refused (entities, XXE) / 拒绝DTD声明")
        parser = etree.XMLPullParser(events=("start", "end"), **OPTIONS)
        depth = 0
        while chunk:
            try:
                parser.feed(chunk)
                events = list(parser.read_events())
            except etree.XMLSyntaxError as err:
                raise _refusal(err) from None
            for event, _ in events:
                depth += 1 if event == "start" else -1
                if depth > MAX_DEPTH:
                    raise Refused(
                        "hostile", f"elements nested deeper than {MAX_DEPTH} / 嵌套层级过深"
                    )
            chunk = fh.read(CHUNK)
        try:
            root = parser.close()
        except etree.XMLSyntaxError as err:
            raise _refusal(err) from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise Refused("hostile", "DOCTYPE declaration refused (entities, XXE) / 拒绝DTD声明")
    return root


def _refusal(err: etree.XMLSyntaxError) -> Refused:
    text = str(err.msg or err)
    where = f" (line {err.lineno})" if err.lineno else ""
    if any(m in text for m in LIMIT_MESSAGES):
        return Refused("hostile", f"refused by parser limits: {text}{where} / 超出解析限制")
    if any(m in text for m in ENCODING_MESSAGES):
        return Refused("encoding", f"bytes not decodable: {text}{where} / 编码错误")
    return Refused("malformed", f"not well-formed XML: {text}{where} / XML格式错误")
