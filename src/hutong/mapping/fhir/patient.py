"""Patient resources from the canonical ``patient`` table.

A patient is identified by the vendor's 病案号 (``medcasno``), falling back to the vendor's
``patient_id`` when there is none; the 居民身份证 number is a second identifier, never the id
(it is the first thing de-identification removes, and ids must survive that).
"""

from __future__ import annotations

import re

import pandas as pd

from hutong.mapping.fhir.datatypes import (
    column,
    compact,
    dates,
    per_value,
    text,
    texts,
)
from hutong.mapping.fhir.ids import resource_ids
from hutong.mapping.fhir.systems import (
    certificate_system,
    extension_url,
    hl7,
    valueset_system,
    vendor_system,
)
from hutong.terminologies.valuesets import valueset

# GB/T 2261.1 -> FHIR administrative-gender; 0 (未知) and 9 (未说明) both become "unknown", the
# extension keeps which one it was.
GENDER = {"1": "male", "2": "female", "0": "unknown", "9": "unknown"}

# Common two-character surnames (复姓), so 欧阳娜娜 splits as 欧阳 + 娜娜, not 欧 + 阳娜娜.
COMPOUND_SURNAMES_TEXT = (
    "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 令狐 司徒 夏侯 轩辕 端木 宇文 "
    "独孤 南宫 西门 申屠 呼延 万俟 闻人 澹台 公冶 太史 仲孙 钟离 宗政 濮阳 淳于 单于"
)
COMPOUND_SURNAMES = frozenset(COMPOUND_SURNAMES_TEXT.split())
HAN_NAME = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]{2,4}")
# Newborns are often registered under the mother's name: 李娜之女, 李娜女婴, 李娜之子2.
NEWBORN_NAME = re.compile(r".*(之[子女]|[男女]婴|婴儿?)\d*")


def keyed(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with the Patient ``id`` and the identifier it is derived from."""
    vendor = text(frame["vendor"])
    medcasno = text(column(frame, "medcasno"))
    by_medcasno = medcasno.notna()
    system = per_value(vendor, lambda v: vendor_system(v, "medcasno")).where(
        by_medcasno, per_value(vendor, lambda v: vendor_system(v, "patient_id"))
    )
    value = medcasno.where(by_medcasno, text(frame["patient_id"]))
    out = frame.assign(key_system=system, key_value=value)
    out["id"] = resource_ids(out["key_system"], out["key_value"])
    return out


def human_name(name: str | None) -> dict | None:
    """A HumanName: ``text`` always; family/given only for a plain Han name of 2-4 characters,
    where splitting after the surname is reliable (not for 某某之女, Uyghur or Latin names)."""
    if name is None:
        return None
    if not HAN_NAME.fullmatch(name) or NEWBORN_NAME.fullmatch(name):
        return {"text": name}
    cut = 2 if name[:2] in COMPOUND_SURNAMES and len(name) > 2 else 1
    return {"text": name, "family": name[:cut], "given": [name[cut:]]}


def identifiers(
    vendor: str, patient_id: str, medcasno: str | None, cert_type: str | None, certno: str | None
) -> list[dict]:
    """病案号 first (the id comes from it), then patient_id if different, then the ID number."""
    found = []
    if medcasno is not None:
        found.append(
            {
                "type": {"coding": [{"system": hl7("identifier_type"), "code": "MR"}]},
                "system": vendor_system(vendor, "medcasno"),
                "value": medcasno,
            }
        )
    if patient_id != medcasno:
        found.append({"system": vendor_system(vendor, "patient_id"), "value": patient_id})
    if certno is not None:
        system = certificate_system(cert_type, certno)
        if system == certificate_system("01", certno):
            kind = {"coding": [{"system": hl7("identifier_type"), "code": "NI"}]}
        else:
            kind = {"text": valueset("patn_cert_type").display(cert_type) or cert_type}
        found.append(compact({"type": compact(kind), "system": system, "value": certno}))
    return found


def patients(frame: pd.DataFrame) -> list[dict]:
    """One Patient per row of a :func:`keyed` frame, in row order."""
    cols = texts(
        frame,
        "id",
        "vendor",
        "patient_id",
        "medcasno",
        "name",
        "gend",
        "gend_local",
        "patn_cert_type",
        "certno",
        "curr_addr",
        "poscode",
        "tel",
    )
    cols["brdy"] = dates(column(frame, "brdy")).tolist()
    return _build(cols)


def _build(cols: dict[str, list]) -> list[dict]:
    """The Patients of prepared columns, one dict literal per row: the shape ``compact`` of the
    full element gives, pinned to that generic builder by ``tests/test_fhir_patient_fast.py``.
    Every row gets fresh dicts (resources share no sub-elements)."""
    gend_system = valueset_system("gend")
    gend_url = extension_url("gend")
    gend_names = valueset("gend")
    displays: dict[str, str | None] = {}
    out = []
    append = out.append
    for (
        rid, vendor, patient_id, medcasno, name, gend, gend_local, cert_type, certno, addr,
        poscode, tel, brdy,
    ) in zip(
        cols["id"], cols["vendor"], cols["patient_id"], cols["medcasno"], cols["name"],
        cols["gend"], cols["gend_local"], cols["patn_cert_type"], cols["certno"],
        cols["curr_addr"], cols["poscode"], cols["tel"], cols["brdy"], strict=True,
    ):  # fmt: skip
        element: dict = {"resourceType": "Patient"}
        if rid:
            element["id"] = rid
        sex: dict | None = None
        if gend is not None:
            if gend not in displays:
                displays[gend] = gend_names.display(gend)
            said = {"system": gend_system, "code": gend}
            if displays[gend]:
                said["display"] = displays[gend]
            sex = {"coding": [said]}
        if gend_local is not None:
            sex = {**sex, "text": gend_local} if sex else {"text": gend_local}
        if sex:
            element["extension"] = [{"url": gend_url, "valueCodeableConcept": sex}]
        found = identifiers(vendor, patient_id, medcasno, cert_type, certno)
        if found:
            element["identifier"] = found
        if name is not None:
            element["name"] = [human_name(name)]
        if tel:
            element["telecom"] = [{"system": "phone", "value": tel}]
        gender = GENDER.get(gend)
        if gender:
            element["gender"] = gender
        if brdy:
            element["birthDate"] = brdy
        if addr or poscode:
            address = {"text": addr} if addr else {}
            if poscode:
                address["postalCode"] = poscode
            element["address"] = [address]
        append(element)
    return out
