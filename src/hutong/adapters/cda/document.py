"""One parsed CDA document and the HL7 v3 data types its rows are read from (II, TS, CD, PQ,
PN, AD, TEL), written once for C-CDA and WS/T 500 alike.

Readers are forgiving: a value that is absent, null-flavoured or not in its data type's format
reads as None, because one odd element should cost that value, not the document.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from importlib import resources

from lxml import etree

V3 = "urn:hl7-org:v3"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
NS = {"v": V3, "xsi": XSI}
TS_FORMAT = re.compile(r"^(\d{4})(\d{2})(\d{2})(\d{2})?(\d{2})?(\d{2})?(?:\.\d+)?(?:[+-]\d{4})?$")
CJK = re.compile(r"[\u3400-\u9fff]")

Element = etree._Element


@cache
def data(name: str) -> dict:
    """A TOML data file of this package (``ccda`` or ``wst500``)."""
    text = resources.files("hutong.adapters.cda").joinpath(f"{name}.toml").read_text("utf-8")
    return tomllib.loads(text)


@dataclass
class Doc:
    """A document being converted: its root, its name for locators and the notes it earns."""

    root: Element
    name: str
    notes: list[str] = field(default_factory=list)
    _ids: dict[str, Element] | None = field(default=None, repr=False)

    def narrative(self, ref: str | None) -> str | None:
        """Text of the narrative element a ``<reference value="#id"/>`` points at."""
        if not ref or not ref.startswith("#"):
            return None
        if self._ids is None:
            self._ids = {el.get("ID"): el for el in self.root.iter() if el.get("ID")}
        target = self._ids.get(ref[1:])
        return text(target)

    def display(self, el: Element | None) -> str | None:
        """A code's human name: displayName, else its originalText (inline or referenced)."""
        if el is None:
            return None
        name = attr(el, "displayName")
        if name:
            return name
        original = el.find("v:originalText", NS)
        if original is None:
            return None
        ref = original.find("v:reference", NS)
        return text(original) or self.narrative(attr(ref, "value") if ref is not None else None)


def find(el: Element | None, path: str) -> Element | None:
    return None if el is None else el.find(path, NS)


def findall(el: Element | None, path: str) -> list[Element]:
    return [] if el is None else el.findall(path, NS)


def attr(el: Element | None, name: str) -> str | None:
    """An attribute's value, stripped; None when absent or blank."""
    if el is None:
        return None
    value = el.get(name)
    value = value.strip() if value else None
    return value or None


def text(el: Element | None) -> str | None:
    """All text of an element, whitespace collapsed; None when blank."""
    if el is None:
        return None
    joined = " ".join("".join(el.itertext()).split())
    return joined or None


def xsi_type(el: Element | None) -> str | None:
    """The local name of ``xsi:type`` (``PQ``, ``CD``, ...)."""
    value = attr(el, f"{{{XSI}}}type")
    return value.rsplit(":", 1)[-1] if value else None


def local(el: Element) -> str:
    """An element's tag without its namespace."""
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def identifier(el: Element | None) -> str | None:
    """An II as one stable string: ``root|extension`` (or the root), the extension alone under
    the Chinese national identifier root (``ccda.toml`` [ids])."""
    if el is None or attr(el, "nullFlavor"):
        return None
    root, ext = attr(el, "root"), attr(el, "extension")
    if not ext:
        return root
    if not root or root.startswith(data("ccda")["ids"]["national_prefix"]):
        return ext
    return f"{root}|{ext}"


def timestamp(value: str | None) -> datetime | None:
    """An HL7 TS (``YYYYMMDD[HH[MM[SS]]][.f][±ZZZZ]``) as local wall time, to the second.

    The offset is dropped: canonical times are naive and hospitals report local time. A value
    with less than a day's precision is no time for a row, so it reads as None.
    """
    match = TS_FORMAT.match(value or "")
    if match is None:
        return None
    parts = [int(p) if p else 0 for p in match.groups()]
    try:
        return datetime(*parts)
    except ValueError:
        return None


def day(value: str | None) -> date | None:
    found = timestamp(value)
    return found.date() if found else None


def when(el: Element | None) -> tuple[datetime | None, datetime | None]:
    """(start, end) of a TS or IVL_TS element: ``value`` is both, ``low``/``high`` bound it."""
    if el is None:
        return None, None
    if attr(el, "value"):
        at = timestamp(attr(el, "value"))
        return at, at
    low = timestamp(attr(find(el, "v:low"), "value"))
    high = timestamp(attr(find(el, "v:high"), "value"))
    center = timestamp(attr(find(el, "v:center"), "value"))
    return low or center, high


def number(value: str | None) -> float | None:
    try:
        found = float(value) if value is not None else None
    except ValueError:
        return None
    return found if found is not None and found == found and abs(found) != float("inf") else None


def quantity(el: Element | None) -> tuple[float | None, str | None]:
    """A PQ's (value, unit); unit ``1`` (dimensionless) reads as None."""
    unit = attr(el, "unit")
    return number(attr(el, "value")), None if unit in (None, "1") else unit


def person_name(el: Element | None) -> str | None:
    """A PN as one string: family + given without a space for Chinese, else given family."""
    if el is None:
        return None
    family = " ".join(t for t in (text(p) for p in findall(el, "v:family")) if t)
    given = " ".join(t for t in (text(p) for p in findall(el, "v:given")) if t)
    if not (family or given):
        return text(el)
    if CJK.search(family + given):
        return (family + given).replace(" ", "")
    return " ".join(p for p in (given, family) if p)


def best_name(parent: Element | None, path: str = "v:name") -> str | None:
    """The legal name (``use="L"``) of several, else the first that reads."""
    names = findall(parent, path)
    names.sort(key=lambda n: 0 if "L" in (attr(n, "use") or "").split() else 1)
    for name in names:
        found = person_name(name)
        if found:
            return found
    return None


ADDRESS_PARTS = (
    "country",
    "state",
    "city",
    "county",
    "township",
    "precinct",
    "streetName",
    "houseNumber",
    "streetAddressLine",
    "additionalLocator",
    "unitID",
)


def address(el: Element | None) -> tuple[str | None, str | None]:
    """An AD as (one line, postal code): Chinese parts joined large to small without spaces."""
    if el is None:
        return None, None
    found = sorted(
        (p for p in el if local(p) in ADDRESS_PARTS and text(p)),
        key=lambda p: ADDRESS_PARTS.index(local(p)),
    )
    parts = [text(p) for p in found]
    postal = text(find(el, "v:postalCode"))
    if not parts:
        return text(el) if not len(el) else None, postal
    if CJK.search("".join(parts)):  # 省市区县乡镇街道门牌, large to small
        return "".join(parts), postal
    lines = [text(p) for p in findall(el, "v:streetAddressLine")]
    rest = [text(find(el, f"v:{k}")) for k in ("city", "state", "country")]
    return ", ".join(p for p in (*lines, *rest) if p) or "".join(parts), postal


def home_address(parent: Element | None) -> tuple[str | None, str | None]:
    """The home address (use H/HP) of an entity, else its first address."""
    addrs = findall(parent, "v:addr")
    addrs.sort(key=lambda a: 0 if {"H", "HP"} & set((attr(a, "use") or "").split()) else 1)
    return address(addrs[0]) if addrs else (None, None)


def phone(parent: Element | None) -> str | None:
    """The first telephone number of an entity, without its ``tel:`` scheme."""
    for tel in findall(parent, "v:telecom"):
        value = attr(tel, "value")
        if value and not value.lower().startswith(("mailto:", "http:", "https:", "fax:")):
            return value.split(":", 1)[1] if value.lower().startswith("tel:") else value
    return None
