"""The body of a synthetic WS/T 500.52 document: one section per part of the face sheet."""

from __future__ import annotations

from decimal import Decimal

from lxml import etree

from hutong.adapters.cda.document import data
from hutong.adapters.cda.render_v3 import (
    E,
    display,
    ident,
    observation,
    related,
    section,
    staff,
    ts,
    typed,
)


def sections(case: dict) -> list[etree._Element]:
    w = data("wst500")
    enc, de, loinc = case["encounter"], w["elements"], w["sections"]
    out = []
    weights = [
        E.entry(observation(de["weight"], label, typed("PQ", value=enc[key], unit="g")))
        for key, label in (("nwb_adm_wt", "新生儿入院体重(g)"), ("nwb_bir_wt", "新生儿出生体重(g)"))
        if enc.get(key) is not None
    ]
    if weights:
        out.append(section(loinc["vital_signs"], "VITAL SIGNS", weights))
    if enc.get("otp_wm_dise") or enc.get("otp_wm_dise_code"):
        out.append(section(loinc["diagnosis"], "Diagnosis", [_outpatient(enc)]))
    diagnoses = [_diagnosis(d) for d in case["diagnoses"]]
    out.append(
        section(loinc["discharge_diagnosis"], "Discharge Diagnosis", [*diagnoses, _discharge(enc)])
    )
    if case["procedures"]:
        procedures = [_procedure(p) for p in case["procedures"]]
        out.append(section(loinc["procedures"], "HISTORY OF PROCEDURES", procedures))
    out.append(section(loinc["hospital_course"], "Hospital Course", _course(enc)))
    out.append(section(loinc["treatment_plan"], "TREATMENT PLAN", _plan(enc)))
    out.append(section(loinc["fees"], "PAYMENT SOURCES", _fees(case)))
    return out


def _diagnosis(dx: dict) -> etree._Element:
    w = data("wst500")
    de, cs = w["elements"], w["code_systems"]
    which = "主要诊断" if dx["maindiag_flag"] == "1" else "其他诊断"

    def part(element: str, name: str, value: etree._Element) -> etree._Element:
        found = observation(element, f"出院诊断-{which}{name}", value)
        found[0].append(E.qualifier(E.name(displayName=f"{which}{name}")))
        return E.component(found)

    cond = dx["adm_cond_type"]
    return E.entry(
        E.organizer(
            E.statusCode(code="completed"),
            part(de["diag_name"], "名称", typed("ST", dx["local_name"])),
            part(
                de["diag_code"],
                "疾病编码",
                typed(
                    "CD",
                    code=dx["local_code"],
                    displayName=dx["local_name"],
                    codeSystem=cs["icd10"],
                    codeSystemName="疾病代码表(ICD-10)",
                ),
            ),
            part(
                de["adm_cond"],
                "入院病情代码",
                typed(
                    "CD",
                    code=cond,
                    codeSystem=cs["adm_cond_type"],
                    displayName=display("adm_cond_type", cond),
                    codeSystemName="入院病情代码表",
                ),
            ),
            classCode="CLUSTER",
            moodCode="EVN",
        )
    )


def _outpatient(enc: dict) -> etree._Element:
    """门（急）诊诊断 as template32 writes it in 29548-5: a name and a code, qualified 门急诊诊断.

    template32 codes the name DE05.10.025.00 and the code's value in 2.16.156.10011.2.3.3.14;
    here the name keeps WS 363's 诊断名称 DE05.01.025.00 and the code the ICD-10 system of the
    discharge diagnoses, as cited in ``wst500.toml`` (the reader takes either name code).
    """
    w = data("wst500")
    de, cs = w["elements"], w["code_systems"]

    def part(element: str, name: str, value: etree._Element) -> etree._Element:
        found = observation(element, name, value)
        found[0].append(E.qualifier(E.name(displayName="门急诊诊断")))
        return E.component(found)

    name, code = enc.get("otp_wm_dise"), enc.get("otp_wm_dise_code")
    parts = [part(de["diag_name"], "门急诊诊断名称", typed("ST", name))] if name else []
    if code:
        coded = typed(
            "CD",
            code=code,
            displayName=name,
            codeSystem=cs["icd10"],
            codeSystemName="疾病代码表(ICD-10)",
        )
        parts.append(part(de["diag_code"], "门急诊诊断疾病编码", coded))
    return E.entry(
        E.organizer(E.statusCode(code="completed"), *parts, classCode="CLUSTER", moodCode="EVN")
    )


def _discharge(enc: dict) -> etree._Element:
    de = data("wst500")["elements"]
    way = typed(
        "CD",
        code=enc["dscg_way"],
        displayName=display("dscg_way", enc["dscg_way"]),
        codeSystemName="离院方式代码表",
    )
    receiver = enc.get("acp_medins_name")
    more = [
        related(observation(de["acp_medins_name"], "拟接受医疗机构名称", typed("ST", receiver)))
    ]
    return E.entry(observation(de["dscg_way"], "离院方式", way, *(more if receiver else [])))


def _procedure(px: dict) -> etree._Element:
    w = data("wst500")
    de, cs = w["elements"], w["code_systems"]
    parts = [related(observation(de["oprn_name"], "手术操作名称", typed("ST", px["local_name"])))]
    if px.get("oprn_lv"):
        level = typed(
            "CD",
            code=px["oprn_lv"],
            displayName=display("oprn_lv", px["oprn_lv"]),
            codeSystemName="手术级别代码表",
        )
        parts.append(related(observation(de["oprn_lv"], "手术级别", level)))
    if px.get("anst_way"):
        way = typed(
            "CD",
            code=px["anst_way"],
            codeSystem=cs["anst_way"],
            displayName=display("anst_way", px["anst_way"]),
            codeSystemName="麻醉方法代码表",
        )
        who = [E.performer(staff(px["anst_dr_code"], px["anst_dr_name"]))]
        parts.append(
            related(
                observation(
                    de["anst_way"], "麻醉方法代码", way, *(who if px.get("anst_dr_name") else [])
                )
            )
        )
    code = E.code(
        code=px["local_code"],
        codeSystem=cs["icd9cm"],
        codeSystemName="手术操作代码表(ICD-9-CM)",
        displayName=px["local_name"],
    )
    return E.entry(
        E.procedure(
            code,
            E.statusCode(code="completed"),
            E.effectiveTime(value=ts(px["oprn_oprt_date"])),
            E.performer(staff(px["oper_dr_code"], px["oper_dr_name"])),
            *parts,
            classCode="PROC",
            moodCode="EVN",
        )
    )


def _course(enc: dict) -> list[etree._Element]:
    w = data("wst500")
    days = typed("PQ", value=enc["act_ipt_days"], unit="天")
    dept = w["departments"].get(enc["dscg_caty"], enc["dscg_caty"])
    ward = E.representedOrganization(ident("department", enc["dscg_caty"]), E.name(dept))
    author = E.author(
        E.time(value=ts(enc["dscg_time"])), E.assignedAuthor(E.id(nullFlavor="NI"), ward)
    )
    return [
        E.entry(observation(w["elements"]["ipt_days"], "实际住院天数", days)),
        E.entry(E.act(E.code(nullFlavor="NA"), author, classCode="ACT", moodCode="EVN")),
    ]


def _plan(enc: dict) -> list[etree._Element]:
    de = data("wst500")["elements"]
    planned = enc.get("days_rinp_flag_31") == "2"
    purpose = enc.get("days_rinp_pup_31")
    more = [
        related(
            observation(de["readmit_purpose"], "出院31d再住院目的", typed("ST", purpose)), "GEVL"
        )
    ]
    flag = typed("BL", value="true" if planned else "false")
    return [
        E.entry(observation(de["readmit"], "出院31d内再住院标志", flag, *(more if purpose else [])))
    ]


def _fees(case: dict) -> list[etree._Element]:
    """医疗付费方式, the settlement-list fields, 住院总费用 and one organizer per fee category."""
    w = data("wst500")
    enc, cs = case["encounter"], w["code_systems"]
    payment = w["hi_type_to_payment"].get(enc["hi_type"], "9")
    out = [
        E.entry(
            observation(
                w["elements"]["payment"],
                "医疗付费方式代码",
                typed(
                    "CD",
                    code=payment,
                    codeSystem=cs["payment"],
                    codeSystemName="医疗付费方式代码表",
                ),
            )
        )
    ]
    for field, spec in w["nhsa_fields"].items():
        given = enc.get(field)
        if given is None:
            continue
        shown = typed("CD", code=given) if spec["type"] == "CD" else typed("ST", given)
        out.append(E.entry(observation(field, spec["name"], shown, system=cs["nhsa_field"])))
    total = sum((c["amt"] for c in case["charges"]), Decimal(0))
    total_code = E.code(
        code=w["elements"]["total_fee"],
        codeSystem=cs["homepage_dataset"],
        codeSystemName="住院病案首页基本数据集",
        displayName="住院总费用",
    )
    money = typed("MO", value=f"{total:.2f}", currency="CNY")
    out.append(E.entry(E.observation(total_code, money, classCode="OBS", moodCode="EVN")))
    for charge in case["charges"]:
        parts = [
            E.component(
                observation(
                    part,
                    label,
                    typed("MO", value=f"{charge[part]:.2f}", currency="CNY"),
                    system=cs["nhsa_field"],
                )
            )
            for part, label in w["fee_parts"].items()
            if charge.get(part) is not None
        ]
        item = charge["med_chrgitm"]
        category = E.code(
            code=item,
            codeSystem=cs["nhsa_fee"],
            displayName=display("med_chrgitm", item),
            codeSystemName="医疗收费项目类别(NHSA 4101)",
        )
        out.append(
            E.entry(
                E.organizer(
                    category,
                    E.statusCode(code="completed"),
                    *parts,
                    classCode="CLUSTER",
                    moodCode="EVN",
                )
            )
        )
    return out
