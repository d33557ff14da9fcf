"""The URIs hutong writes into FHIR resources, read from ``systems.toml``.

Ids are derived from identifier systems, so every URI lives in one data file and every resource
builder asks this module rather than spelling a URI itself.
"""

from __future__ import annotations

import re
import tomllib
import uuid
from functools import cache, lru_cache
from importlib import resources
from urllib.parse import quote

from hutong.terminologies.valuesets import valueset


@cache
def systems() -> dict:
    """The parsed ``systems.toml``."""
    text = resources.files("hutong.mapping.fhir").joinpath("systems.toml").read_text("utf-8")
    return tomllib.loads(text)


def namespace() -> uuid.UUID:
    """The UUIDv5 namespace under which all hutong resource ids are minted."""
    return uuid.UUID(systems()["ids"]["namespace"])


@lru_cache(maxsize=4096)  # a run names a handful of vendors, once per row
def _urn_part(value: str) -> str:
    # Vendor names may hold spaces or Chinese; FHIR uri forbids whitespace.
    return quote(value, safe="-._~")


def vendor_system(vendor: str, kind: str) -> str:
    """Identifier system of a value the vendor assigns, e.g. its 病案号 (``medcasno``)."""
    return systems()["ids"]["vendor"].format(vendor=_urn_part(vendor), kind=kind)


GB11643 = re.compile(r"\d{17}[\dX]|\d{15}")  # 18-digit 公民身份号码, or the old 15-digit one


def certificate_system(cert_type: str | None, number: str) -> str:
    """Identifier system of an ID document number by its 证件类别 (01 = 居民身份证).

    Without a 证件类别 a number shaped like a 公民身份号码 is taken as one; anything else gets
    the ``unknown`` document type rather than a false claim.
    """
    if cert_type == "01" or (cert_type is None and GB11643.fullmatch(number.upper())):
        return systems()["ids"]["gb11643"]
    return systems()["ids"]["certificate"].format(type=_urn_part(cert_type or "unknown"))


V2_TABLE = re.compile(r"HL7\d{4}")


def code_system(name: str) -> str:
    """System URI of a standard code system named as in the canonical ``code_system`` column
    (as written, else lower-cased: ``LOINC``, ``loinc`` and ``LN`` all give http://loinc.org;
    an HL7 v2 table ``HL7nnnn`` gives http://terminology.hl7.org/CodeSystem/v2-nnnn)."""
    table = systems()["codesystems"]
    for key in (name, name.lower()):
        if key in table["standard"]:
            return table["standard"][key]
    if V2_TABLE.fullmatch(name):
        return table["hl7v2"].format(table=name[3:])
    if name.startswith("urn:oid:"):
        return name  # an OID a document gave for a system nobody named: already a URI
    return table["fallback"].format(name=_urn_part(name))


def local_system(vendor: str, kind: str) -> str:
    """System URI of a vendor's own codes of one kind (``diagnosis``, ``procedure``)."""
    return systems()["codesystems"]["local"].format(vendor=_urn_part(vendor), kind=kind)


def valueset_system(key: str) -> str:
    """System URI of a national value set: its OID when it has one."""
    oid = valueset(key).oid
    if oid:
        return f"urn:oid:{oid}"
    return systems()["codesystems"]["valueset"].format(key=key)


def extension_url(name: str) -> str:
    """URL of a hutong extension (``gend``, ``adm_cond_type``)."""
    return systems()["extensions"][name]


def hl7(name: str) -> str:
    """An HL7 code system URI by short name (``act_code``, ``diagnosis_role``, ...)."""
    return systems()["hl7"][name]


def dicom(name: str) -> str:
    """A DICOM URI by short name (``uid``, ``modality``, ``sop_class``)."""
    return systems()["dicom"][name]
