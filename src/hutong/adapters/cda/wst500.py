"""WS/T 500.52 住院病案首页 documents as the full face sheet: encounter, diagnoses, procedures and
fees, with the national codes as they stand in the document.

Entries are found by their WS 363 data element (``DE05.01.024.00`` ...) inside the section of
their LOINC code, never by position, and values keep the national code of their value set
(性别 ``1``, 离院方式 ``2``, 入院病情 ``1``). The settlement-list fields WS/T 500.52 has no data
element for travel in the fee section, coded in hutong's 4101 code systems (``wst500.toml``).
The 门（急）诊诊断 of section 29548-5 fills the encounter's ``otp_wm_dise``/``otp_wm_dise_code``
(setlinfo), never a diagnosis row.
"""

from __future__ import annotations

from collections.abc import Iterator

from hutong.adapters.cda.document import (
    V3,
    Doc,
    Element,
    attr,
    best_name,
    data,
    find,
    findall,
    identifier,
    number,
    quantity,
    text,
    when,
)
from hutong.adapters.cda.safe import Refused

OUTPATIENT = ("门急诊", "门(急)诊", "门（急）诊")  # qualifier/displayName of 门（急）诊诊断
REQUIRED = {  # face-sheet fields a document must carry, as the table profiles require them
    "mdtrt_id": "recordTarget/patientRole/id[住院号]",
    "adm_time": "componentOf/encompassingEncounter/effectiveTime/low",
    "dscg_time": "componentOf/encompassingEncounter/effectiveTime/high",
    "dscg_way": "section[11535-2]/DE06.00.223.00",
}


def is_facesheet(root: Element) -> bool:
    """Whether the document is a WS/T 500.52 住院病案首页 (by templateId or document code)."""
    doc = data("wst500")["document"]
    if any(attr(t, "root") == doc["template"] for t in findall(root, "v:templateId")):
        return True
    code = find(root, "v:code")
    return attr(code, "code") == doc["code"] and attr(code, "codeSystem") == doc["code_system"]


def is_wst500(root: Element) -> bool:
    """Any WS/T 500 shared document (its header reads with the national identifier roots)."""
    prefix = data("wst500")["document"]["template_root"]
    return any((attr(t, "root") or "").startswith(prefix) for t in findall(root, "v:templateId"))


def convert(doc: Doc, encounter: dict) -> dict[str, list[dict]]:
    """Fill ``encounter`` from the body; diagnosis, procedure and charge rows by table."""
    w = data("wst500")
    handlers = {
        w["sections"]["vital_signs"]: _weights,
        w["sections"]["diagnosis"]: _diagnoses,
        w["sections"]["discharge_diagnosis"]: _diagnoses,
        w["sections"]["procedures"]: _procedures,
        w["sections"]["hospital_course"]: _course,
        w["sections"]["treatment_plan"]: _plan,
        w["sections"]["fees"]: _fees,
    }
    tables: dict[str, list[dict]] = {"diagnosis": [], "procedure": [], "charge": []}
    body = find(doc.root, "v:component/v:structuredBody")
    for section in body.iter(f"{{{V3}}}section") if body is not None else []:
        loinc = attr(find(section, "v:code"), "code") or "-"
        handler = handlers.get(loinc)
        if handler is not None:
            handler(doc, section, f"{doc.name}/section[{loinc}]", encounter, tables)
    if tables["diagnosis"] and not any(r["maindiag_flag"] == "1" for r in tables["diagnosis"]):
        tables["diagnosis"][0]["maindiag_flag"] = "1"  # 出院诊断 lists the main diagnosis first
    for i, row in enumerate(tables["diagnosis"], start=1):
        row["seq"] = i
    missing = [f for f in REQUIRED if encounter.get(f) in (None, "")]
    if missing:
        raise Refused(
            "missing_value",
            f"required face-sheet value missing / 必填值缺失: {', '.join(missing)}",
            REQUIRED[missing[0]],
        )
    mdtrt_id = encounter["mdtrt_id"]
    for rows in tables.values():
        for row in rows:
            row["mdtrt_id"] = mdtrt_id
    return tables


def _elements(el: Element) -> Iterator[tuple[str, Element]]:
    """(data element code, observation) of every observation under ``el``."""
    for obs in el.iter(f"{{{V3}}}observation"):
        code = attr(find(obs, "v:code"), "code")
        if code:
            yield code, obs


def _value_code(obs: Element | None) -> str | None:
    return attr(find(obs, "v:value"), "code")


def _value_text(obs: Element | None) -> str | None:
    value = find(obs, "v:value")
    return attr(value, "value") or text(value)


def _weights(doc: Doc, section: Element, where: str, enc: dict, tables: dict) -> None:
    for code, obs in _elements(section):
        if code != data("wst500")["elements"]["weight"]:
            continue
        label = attr(find(obs, "v:code"), "displayName") or ""
        grams, _ = quantity(find(obs, "v:value"))
        if "出生" in label:
            enc["nwb_bir_wt"] = grams
        elif "入院" in label:
            enc["nwb_adm_wt"] = grams


def _diagnoses(doc: Doc, section: Element, where: str, enc: dict, tables: dict) -> None:
    de = data("wst500")["elements"]
    for i, entry in enumerate(findall(section, "v:entry"), start=1):
        organizer = find(entry, "v:organizer")
        if organizer is None:
            for code, obs in _elements(entry):
                if code == de["dscg_way"]:
                    enc["dscg_way"] = _value_code(obs)
                    enc["dscg_way_local"] = enc["dscg_way"]
                elif code == de["acp_medins_name"]:
                    enc["acp_medins_name"] = _value_text(obs)
            continue
        codes = findall(organizer, "v:component/v:observation/v:code")
        codes += findall(organizer, "v:component/v:observation/v:code/v:qualifier/v:name")
        labels = " ".join(attr(el, "displayName") or "" for el in codes)
        parts = dict(_elements(organizer))
        if any(word in labels for word in OUTPATIENT):
            _outpatient(parts, enc)  # 门（急）诊诊断: setlinfo otp_wm_dise, not a diseinfo row
            continue
        if "病理" in labels:
            continue  # 病理诊断: no 4101 diseinfo row
        coded = find(parts.get(de["diag_code"]), "v:value")
        name = _value_text(parts.get(de["diag_name"]))
        row = {
            "local_code": attr(coded, "code"),
            "local_name": name or attr(coded, "displayName"),
            "maindiag_flag": "1" if "主要诊断" in labels else "0",
            "diag_type": "1",
            "adm_cond_type": _value_code(parts.get(de["adm_cond"])),
            "locator": f"{where}/entry[{i}]",
        }
        if row["local_code"] or row["local_name"]:
            tables["diagnosis"].append(row)


def _outpatient(parts: dict[str, Element], enc: dict) -> None:
    """门（急）诊诊断 name and code; the name under WS 363's 诊断名称 or template32's code."""
    if enc.get("otp_wm_dise") or enc.get("otp_wm_dise_code"):
        return  # the first one is the face sheet's; a second is a further clinic diagnosis
    de = data("wst500")["elements"]
    coded = find(parts.get(de["diag_code"]), "v:value")
    named = _value_text(parts.get(de["diag_name"])) or _value_text(parts.get(de["otp_diag_name"]))
    enc["otp_wm_dise"] = named or attr(coded, "displayName")
    enc["otp_wm_dise_code"] = attr(coded, "code")


def _procedures(doc: Doc, section: Element, where: str, enc: dict, tables: dict) -> None:
    de = data("wst500")["elements"]
    for i, entry in enumerate(findall(section, "v:entry"), start=1):
        proc = find(entry, "v:procedure")
        if proc is None:
            continue
        code = find(proc, "v:code")
        parts = dict(_elements(proc))
        surgeon = find(proc, "v:performer/v:assignedEntity")
        anaesthesia = parts.get(de["anst_way"])
        anaesthetist = find(anaesthesia, "v:performer/v:assignedEntity")
        row = {
            "seq": len(tables["procedure"]) + 1,
            "local_code": attr(code, "code"),
            "local_name": _value_text(parts.get(de["oprn_name"])) or attr(code, "displayName"),
            "oprn_oprt_date": when(find(proc, "v:effectiveTime"))[0],
            "oprn_lv": _value_code(parts.get(de["oprn_lv"])),
            "anst_way": _value_code(anaesthesia),
            "oper_dr_code": identifier(find(surgeon, "v:id")),
            "oper_dr_name": best_name(find(surgeon, "v:assignedPerson")),
            "anst_dr_code": identifier(find(anaesthetist, "v:id")),
            "anst_dr_name": best_name(find(anaesthetist, "v:assignedPerson")),
            "locator": f"{where}/entry[{i}]",
        }
        if row["local_code"] or row["local_name"]:
            tables["procedure"].append(row)


def _course(doc: Doc, section: Element, where: str, enc: dict, tables: dict) -> None:
    for code, obs in _elements(section):
        if code == data("wst500")["elements"]["ipt_days"]:
            days = number(attr(find(obs, "v:value"), "value"))
            enc["act_ipt_days"] = int(days) if days is not None else None
    department = data("wst500")["roots"]["department"]
    for el in section.iter(f"{{{V3}}}id"):
        if attr(el, "root") == department and attr(el, "extension"):
            enc["dscg_caty"] = attr(el, "extension")


def _plan(doc: Doc, section: Element, where: str, enc: dict, tables: dict) -> None:
    de = data("wst500")["elements"]
    for code, obs in _elements(section):
        if code == de["readmit"]:
            planned = attr(find(obs, "v:value"), "value")
            enc["days_rinp_flag_31"] = {"true": "2", "false": "1"}.get(planned or "")
        elif code == de["readmit_purpose"]:
            enc["days_rinp_pup_31"] = _value_text(obs)


def _fees(doc: Doc, section: Element, where: str, enc: dict, tables: dict) -> None:
    """Settlement fields, 医疗付费方式 and one charge row per fee-category organizer."""
    w = data("wst500")
    field_system, fee_system = w["code_systems"]["nhsa_field"], w["code_systems"]["nhsa_fee"]
    payment = None
    for i, entry in enumerate(findall(section, "v:entry"), start=1):
        organizer = find(entry, "v:organizer")
        category = find(organizer, "v:code")
        if organizer is not None and attr(category, "codeSystem") == fee_system:
            row = {
                "med_chrgitm": attr(category, "code"),
                "item_local_name": attr(category, "displayName"),
                "locator": f"{where}/entry[{i}]",
            }
            for obs in findall(organizer, "v:component/v:observation"):
                code = find(obs, "v:code")
                if (
                    attr(code, "codeSystem") == field_system
                    and attr(code, "code") in w["fee_parts"]
                ):
                    row[attr(code, "code")] = number(attr(find(obs, "v:value"), "value"))
            tables["charge"].append(row)
            continue
        for code, obs in _elements(entry):
            system = attr(find(obs, "v:code"), "codeSystem")
            if system == field_system and code in w["nhsa_fields"]:
                enc[code] = _value_code(obs) or _value_text(obs)
            elif code == w["elements"]["payment"]:
                payment = _value_code(obs)
    if enc.get("hi_type") is None and payment:
        enc["hi_type"] = w["payment_to_hi_type"].get(payment, "9")
