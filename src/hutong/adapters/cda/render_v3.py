"""HL7 v3 elements for the synthetic WS/T 500 writer: ids, times, codes, values, sections.

Small builders over lxml's ElementMaker, so :mod:`render` and :mod:`render_body` read like the
document they write. Display names come from hutong's national value sets.
"""

from __future__ import annotations

from datetime import date, datetime

from lxml import etree
from lxml.builder import ElementMaker

from hutong.adapters.cda.document import V3, XSI, data
from hutong.terminologies.valuesets import valuesets

E = ElementMaker(namespace=V3, nsmap={None: V3, "xsi": XSI})
TYPE = f"{{{XSI}}}type"


def ident(kind: str, extension: object) -> etree._Element:
    root = data("wst500")["roots"][kind]
    return E.id(root=root, extension=str(extension)) if extension else E.id(nullFlavor="NI")


def ts(value: date | datetime) -> str:
    return value.strftime("%Y%m%d%H%M%S" if isinstance(value, datetime) else "%Y%m%d")


def cd(tag: str, code: object, system: str | None, name: str | None = None, **more):
    """A coded element; a code system hutong cannot cite is left out, its name kept."""
    attrs = {"code": str(code)}
    if system:
        attrs["codeSystem"] = system
    if name:
        attrs["displayName"] = name
    attrs.update(more)
    return getattr(E, tag)(**attrs)


def display(valueset: str, code: object) -> str | None:
    found = valuesets().get(valueset)
    return found.display(str(code)) if found and code is not None else None


def section(loinc: str, title: str, entries: list) -> etree._Element:
    code = E.code(
        code=loinc,
        codeSystem=data("wst500")["code_systems"]["loinc"],
        codeSystemName="LOINC",
        displayName=title,
    )
    return E.component(E.section(code, E.text(), *entries))


def observation(
    element: str, name: str, value: etree._Element, *more, system: str | None = None
) -> etree._Element:
    """An observation of a WS 363 data element, or of a hutong 4101 field (``system``)."""
    cs = data("wst500")["code_systems"]
    label = "医保结算清单字段(hutong)" if system else "卫生信息数据元目录"
    code = E.code(code=element, codeSystem=system or cs["data_element"], codeSystemName=label)
    code.set("displayName", name)
    return E.observation(code, value, *more, classCode="OBS", moodCode="EVN")


def typed(kind: str, text: object = None, **attrs) -> etree._Element:
    value = E.value(str(text)) if text is not None else E.value()
    value.set(TYPE, kind)
    for key, val in attrs.items():
        if val is not None:
            value.set(key, str(val))
    return value


def related(obs: etree._Element, type_code: str = "COMP") -> etree._Element:
    return E.entryRelationship(obs, typeCode=type_code)


def staff(code: str | None, name: str | None) -> etree._Element:
    return E.assignedEntity(ident("staff", code), E.assignedPerson(E.name(name or "")))
