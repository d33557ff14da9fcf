"""The CDA header as canonical ``patient`` and ``encounter`` rows, for C-CDA and WS/T 500.

Both realms share CDA R2's header (recordTarget, custodian, componentOf/encompassingEncounter);
they differ in identifier roots and code systems, which ``ccda.toml`` and ``wst500.toml`` hold.
A document without a patient identifier cannot be linked to anything, so it is refused; a
document without an encompassingEncounter simply has no encounter row.
"""

from __future__ import annotations

from hutong.adapters.cda.document import (
    V3,
    Doc,
    Element,
    address,
    attr,
    best_name,
    data,
    day,
    find,
    findall,
    home_address,
    identifier,
    number,
    phone,
    text,
    when,
)
from hutong.adapters.cda.safe import Refused

PATIENT_ID = "recordTarget/patientRole/id"


def patient(doc: Doc) -> dict:
    """The patient row of the document's recordTarget; refused without an identifier."""
    ccda, cs = data("ccda"), data("wst500")["code_systems"]
    role = find(doc.root, "v:recordTarget/v:patientRole")
    person = find(role, "v:patient")
    ids = findall(role, "v:id") + findall(person, "v:id")
    key = _patient_key(ids)
    if key is None:
        raise Refused("missing_value", "no patient identifier / 缺少患者标识", PATIENT_ID)
    row: dict = {"patient_id": identifier(key)}
    if attr(key, "root") not in ccda["ids"]["person_roots"]:
        row["medcasno"] = attr(key, "extension") or row["patient_id"]
    for el in ids:
        if attr(el, "root") == ccda["ids"]["resident_id_root"] and attr(el, "extension"):
            row.update(certno=attr(el, "extension"), patn_cert_type="01")
    gender = find(person, "v:administrativeGenderCode")
    local = attr(gender, "code")
    row["gend_local"] = local
    row["gend"] = ccda["gend"].get(local) if local else ("0" if gender is not None else None)
    row["name"] = best_name(person)
    row["brdy"] = day(attr(find(person, "v:birthTime"), "value"))
    row["marry"] = _coded(find(person, "v:maritalStatusCode"), cs["marry"], ccda["marry"])
    row["naty"] = _coded(find(person, "v:ethnicGroupCode"), cs["ethnicity"])
    row["ntly"] = attr(find(person, "v:nationality"), "code")
    row["prfs"] = _coded(find(person, "v:occupation/v:occupationCode"), cs["occupation"])
    row["curr_addr"], row["poscode"] = home_address(role)
    row["tel"] = phone(role)
    row.update(_employer(find(person, "v:employerOrganization")))
    row.update(_contact(doc.root, person, cs["relation"]))
    return row


def _employer(org: Element | None) -> dict:
    """工作单位 name, phone and address (WS/T 500's patient/employerOrganization).

    A part null-flavoured NA (not applicable: the patient has no employer) reads as the face
    sheet's '-' (无内容填"-"); any other null flavour, or no such element, as None.
    """
    if org is None:
        return {}
    addrs = findall(org, "v:addr")
    addrs.sort(key=lambda a: 0 if "WP" in (attr(a, "use") or "").split() else 1)  # 单位地址
    place = addrs[0] if addrs else None
    return {
        "emp_name": _or_none(find(org, "v:name"), best_name(org)),
        "emp_tel": _or_none(find(org, "v:telecom"), phone(org)),
        "emp_addr": _or_none(place, address(place)[0]),
    }


def _or_none(el: Element | None, value: str | None) -> str | None:
    """``value``, or '-' when ``el`` is null-flavoured NA (not applicable)."""
    return value if value is not None else ("-" if attr(el, "nullFlavor") == "NA" else None)


def _patient_key(ids: list[Element]) -> Element | None:
    """A record number first, then any local id, then a national person id; never a visit."""
    rules = data("ccda")["ids"]
    usable = [el for el in ids if identifier(el)]
    usable = [el for el in usable if attr(el, "root") not in rules["visit_roots"]]

    def rank(el: Element) -> int:
        root = attr(el, "root")
        if root in rules["record_roots"]:
            return 0
        return 2 if root in rules["person_roots"] else 1

    ranked = sorted(usable, key=rank)
    return ranked[0] if ranked else None


def _coded(el: Element | None, national: str, hl7: dict | None = None) -> str | None:
    """A national code as written, or an HL7 code mapped onto it; else None."""
    code = attr(el, "code")
    if code is None:
        return None
    if attr(el, "codeSystem") == national:
        return code
    return (hl7 or {}).get(code)


def _contact(root: Element, person: Element | None, relation_system: str) -> dict:
    """联系人: the emergency contact participant, else the patient's guardian."""
    for part in findall(root, "v:participant"):
        entity = find(part, "v:associatedEntity")
        if attr(part, "typeCode") == "NOT" or attr(entity, "classCode") in ("ECON", "NOK"):
            return {
                "coner_name": best_name(find(entity, "v:associatedPerson")),
                "patn_rlts": _coded(find(entity, "v:code"), relation_system),
                "coner_addr": home_address(entity)[0],
                "coner_tel": phone(entity),
            }
    guardian = find(person, "v:guardian")
    if guardian is None:
        return {}
    return {
        "coner_name": best_name(find(guardian, "v:guardianPerson")),
        "patn_rlts": _coded(find(guardian, "v:code"), relation_system),
        "coner_addr": home_address(guardian)[0],
        "coner_tel": phone(guardian),
    }


def encounter(doc: Doc, patient_row: dict, wst500: bool) -> dict | None:
    """The encounter row of componentOf/encompassingEncounter (WS/T 500: the stay), or None."""
    ccda, w = data("ccda"), data("wst500")
    ee = find(doc.root, "v:componentOf/v:encompassingEncounter")
    role = find(doc.root, "v:recordTarget/v:patientRole")
    visit = [el for el in findall(role, "v:id") if attr(el, "root") in ccda["ids"]["visit_roots"]]
    ids = [i for i in (identifier(el) for el in findall(ee, "v:id") + visit) if i]
    if ee is None and not ids:
        return None
    doc_id = identifier(find(doc.root, "v:id"))
    # A C-CDA encounter without an id is the document's own visit; a face sheet needs its 住院号.
    mdtrt_id = ids[0] if ids else (f"{doc_id}#encounter" if doc_id and not wst500 else None)
    if mdtrt_id is None:
        if not wst500:
            doc.notes.append("encounter without any identifier not converted / 就诊无标识")
        return None
    row: dict = {
        "mdtrt_id": mdtrt_id,
        "patient_id": patient_row["patient_id"],
        "medcasno": patient_row.get("medcasno"),
    }
    period = find(ee, "v:effectiveTime")
    row["adm_time"], row["dscg_time"] = when(period)
    if attr(period, "value"):  # a point in time: when the visit began, not that it ended
        row["dscg_time"] = None
    code = find(ee, "v:code")
    if attr(code, "codeSystem") == w["code_systems"]["adm_way"]:
        row["adm_way"] = attr(code, "code")
    row["enc_class"] = "IMP" if wst500 else _enc_class(doc, ee)
    disposition = find(ee, "v:dischargeDispositionCode")
    if attr(disposition, "code"):
        local = attr(disposition, "code")
        row["dscg_way_local"] = local
        own = attr(disposition, "codeSystem") == w["code_systems"]["dscg_way"]
        row["dscg_way"] = local if own else ccda["dscg_way"].get(local, "9")
    row["adm_caty"] = _department(find(ee, "v:location/v:healthCareFacility"))
    org = find(doc.root, "v:custodian/v:assignedCustodian/v:representedCustodianOrganization")
    row["fixmedins_code"] = identifier(find(org, "v:id"))
    row["fixmedins_name"] = text(find(org, "v:name"))
    row.update(_responsible(ee))
    for auth in findall(doc.root, "v:authenticator/v:assignedEntity"):
        field = w["roles"].get(attr(find(auth, "v:code"), "displayName") or "")
        if field:
            row[field] = best_name(find(auth, "v:assignedPerson"))
    row.update(_age(find(role, "v:patient/v:age")))
    return row


def _enc_class(doc: Doc, ee: Element | None) -> str:
    """IMP/AMB/EMER from the encounter code, a discharge disposition or the document type."""
    rules = data("ccda")["enc_class"]
    code = attr(find(ee, "v:code"), "code") or ""
    if code in rules["codes"]:
        return rules["codes"][code]
    if code[:4] in rules["cpt_prefix"]:
        return rules["cpt_prefix"][code[:4]]
    if find(ee, "v:dischargeDispositionCode") is not None:
        return "IMP"
    if attr(find(doc.root, "v:code"), "code") in rules["inpatient_documents"]:
        return "IMP"
    return rules["default"]


def _department(facility: Element | None) -> str | None:
    """科室: the id under the department root (WS/T 500), else the location's or org's name."""
    if facility is None:
        return None
    root = data("wst500")["roots"]["department"]
    for el in facility.iter(f"{{{V3}}}id"):
        if attr(el, "root") == root:
            return attr(el, "extension")
    return text(find(facility, "v:location/v:name")) or text(
        find(facility, "v:serviceProviderOrganization/v:name")
    )


def _responsible(ee: Element | None) -> dict:
    """主诊医师: the responsible party, else the attending encounter participant."""
    entity = find(ee, "v:responsibleParty/v:assignedEntity")
    if entity is None:
        for part in findall(ee, "v:encounterParticipant"):
            if attr(part, "typeCode") == "ATND":
                entity = find(part, "v:assignedEntity")
                break
    if entity is None:
        return {}
    return {
        "chfpdr_code": identifier(find(entity, "v:id")),
        "chfpdr_name": best_name(find(entity, "v:assignedPerson")),
    }


def _age(el: Element | None) -> dict:
    """WS/T 500 年龄: in years (岁), or in days (天) under one year."""
    value = number(attr(el, "value"))
    if value is None:
        return {}
    unit = attr(el, "unit") or "岁"
    if unit in ("天", "d"):
        return {"age": 0, "nwb_age": int(value)}
    if unit in ("月", "mo"):
        return {"age": 0}
    return {"age": int(value)}
