"""Synthetic WS/T 500.52 住院病案首页 documents from synthetic cases (no filled-in one is public).

>>> from hutong.synthetic import generate_cases
>>> xml = wst500_document(generate_cases(1, seed=2024)[0])  # doctest: +SKIP

The layout follows WS/T 500.52 as in the template of ``wst500.toml``'s sources: header ids under
the national roots (住院号, 病案号, 身份证), coded values in their national code systems, the
patient's 工作单位 (employerOrganization) and the contact's address, and the sections 8716-3
(newborn weights), 29548-5 (门（急）诊诊断), 11535-2 (出院诊断, 离院方式), 47519-4 (手术),
8648-8 (住院过程), 18776-5 (31天再住院) and 48768-6 (费用, with the settlement-list fields hutong
adds). The same case always gives the same bytes. Regenerate the samples with
``python -m hutong.adapters.cda.render samples/cda``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from lxml import etree

from hutong.adapters.cda.document import data
from hutong.adapters.cda.render_body import sections
from hutong.adapters.cda.render_v3 import E, cd, display, ident, ts


def wst500_document(case: dict) -> bytes:
    """One case of :func:`hutong.synthetic.generate_cases` as a WS/T 500.52 document (UTF-8)."""
    w = data("wst500")
    enc, pat = case["encounter"], case["patient"]
    doc = w["document"]
    root = E.ClinicalDocument(
        E.realmCode(code=doc["realm"]),
        E.typeId(root=doc["type_id"], extension="POCD_MT000040"),
        E.templateId(root=doc["template"]),
        ident("document", f"{doc['code']}{enc['mdtrt_id']}"),
        E.code(
            code=doc["code"],
            codeSystem=doc["code_system"],
            codeSystemName="卫生信息共享文档规范编码体系",
        ),
        E.title(doc["title"]),
        E.effectiveTime(value=ts(enc["dscg_time"])),
        E.confidentialityCode(
            code="N",
            codeSystem=doc["confidentiality"],
            codeSystemName="Confidentiality",
            displayName="正常访问保密级别",
        ),
        E.languageCode(code="zh-CN"),
        E.versionNumber(value="1"),
        _record_target(pat, enc),
        E.author(
            E.time(value=ts(enc["dscg_time"])),
            E.assignedAuthor(
                ident("author", enc["chfpdr_code"]), E.assignedPerson(E.name(enc["chfpdr_name"]))
            ),
            typeCode="AUT",
            contextControlCode="OP",
        ),
        E.custodian(
            E.assignedCustodian(
                E.representedCustodianOrganization(
                    ident("organization", enc["fixmedins_code"]), E.name(enc["fixmedins_name"])
                )
            )
        ),
        *_authenticators(enc),
        *_contact(pat),
        _encounter(enc),
        E.component(E.structuredBody(*sections(case))),
    )
    declaration = b'<?xml version="1.0" encoding="UTF-8"?>\n'
    return declaration + etree.tostring(root, encoding="UTF-8", pretty_print=True)


def _record_target(pat: dict, enc: dict) -> etree._Element:
    cs = data("wst500")["code_systems"]
    age = (
        E.age(value=str(enc["nwb_age"]), unit="天")
        if enc.get("age") == 0 and enc.get("nwb_age") is not None
        else E.age(value=str(enc["age"]), unit="岁")
    )
    person = E.patient(
        ident("person", pat["certno"]),
        E.name(pat["name"]),
        cd(
            "administrativeGenderCode",
            pat["gend"],
            cs["gend"],
            display("gend", pat["gend"]),
            codeSystemName="生理性别代码表(GB/T 2261.1)",
        ),
        E.birthTime(value=ts(pat["brdy"])),
        cd(
            "maritalStatusCode",
            pat["marry"],
            cs["marry"],
            codeSystemName="婚姻状况代码表(GB/T 2261.2)",
        ),
        cd(
            "ethnicGroupCode",
            pat["naty"],
            cs["ethnicity"],
            codeSystemName="民族类别代码表(GB 3304)",
        ),
        cd(
            "nationality",
            pat["ntly"],
            cs["nationality"],
            codeSystemName="世界各国和地区名称代码(GB/T 2659)",
        ),
        age,
        *_employer(pat),
        E.occupation(
            cd(
                "occupationCode",
                pat["prfs"],
                cs["occupation"],
                codeSystemName="从业状况(个人身体)代码表(GB/T 2261.4)",
            )
        ),
        classCode="PSN",
        determinerCode="INSTANCE",
    )
    return E.recordTarget(
        E.patientRole(
            ident("inpatient_no", enc["mdtrt_id"]),
            ident("record_no", pat["medcasno"]),
            E.addr(E.streetAddressLine(pat["curr_addr"]), E.postalCode(pat["poscode"]), use="H"),
            E.telecom(value=f"tel:{pat['tel']}"),
            person,
            E.providerOrganization(
                ident("organization", enc["fixmedins_code"]), E.name(enc["fixmedins_name"])
            ),
            classCode="PAT",
        ),
        typeCode="RCT",
        contextControlCode="OP",
    )


def _authenticators(enc: dict) -> list[etree._Element]:
    """编码员 (the 结算清单's 医疗机构填报人) signs the face sheet's coding."""
    if not enc.get("medins_fill_psn"):
        return []
    return [
        E.authenticator(
            E.time(value=ts(enc["dscg_time"])),
            E.signatureCode(code="S"),
            E.assignedEntity(
                E.id(nullFlavor="NI"),
                E.code(displayName="编码员"),
                E.assignedPerson(E.name(enc["medins_fill_psn"])),
            ),
        )
    ]


def _employer(pat: dict) -> list[etree._Element]:
    """工作单位 (名称, 电话, 地址) as template32's patient/employerOrganization.

    A patient without one ('-' in the face sheet: 无内容填"-") gets each part null-flavoured
    NA (not applicable), which the reader gives back as '-'; a case without the items (None)
    gets no element at all, so "not recorded" stays apart from "none".
    """
    name, tel, addr = pat.get("emp_name"), pat.get("emp_tel"), pat.get("emp_addr")
    if name is None and tel is None and addr is None:
        return []
    return [
        E.employerOrganization(
            E.name(name) if _given(name) else _null(E.name, name),
            E.telecom(value=f"tel:{tel}", use="WP") if _given(tel) else _null(E.telecom, tel),
            E.addr(E.streetAddressLine(addr), use="WP")
            if _given(addr)
            else _null(E.addr, addr, use="WP"),
        )
    ]


def _given(value: str | None) -> bool:
    return value not in (None, "", "-")


def _null(make, value: str | None, **attrs: str) -> etree._Element:
    """An empty element null-flavoured NA for the face sheet's '-', else NI (no information)."""
    return make(nullFlavor="NA" if value == "-" else "NI", **attrs)


def _contact(pat: dict) -> list[etree._Element]:
    if not pat.get("coner_name"):
        return []
    relation = data("wst500")["code_systems"]["relation"]
    address = pat.get("coner_addr")  # 联系人地址: template32 writes it before the telecom
    entity = E.associatedEntity(
        cd("code", pat["patn_rlts"], relation, codeSystemName="家庭关系代码表(GB/T 4761)"),
        *([E.addr(E.streetAddressLine(address), use="H")] if address else []),
        E.telecom(value=f"tel:{pat['coner_tel']}", use="H"),
        E.associatedPerson(E.name(pat["coner_name"])),
        classCode="ECON",
    )
    return [E.participant(entity, typeCode="NOT")]


def _encounter(enc: dict) -> etree._Element:
    w = data("wst500")
    dept = w["departments"].get(enc["adm_caty"], enc["adm_caty"])
    return E.componentOf(
        E.encompassingEncounter(
            cd(
                "code",
                enc["adm_way"],
                w["code_systems"]["adm_way"],
                display("adm_way", enc["adm_way"]),
                codeSystemName="入院途径代码表",
            ),
            E.effectiveTime(E.low(value=ts(enc["adm_time"])), E.high(value=ts(enc["dscg_time"]))),
            E.responsibleParty(
                E.assignedEntity(
                    ident("staff", enc["chfpdr_code"]),
                    E.code(displayName="主诊医师"),
                    E.assignedPerson(E.name(enc["chfpdr_name"])),
                )
            ),
            E.location(
                E.healthCareFacility(
                    E.serviceProviderOrganization(
                        E.asOrganizationPartOf(
                            E.wholeOrganization(ident("department", enc["adm_caty"]), E.name(dept))
                        )
                    )
                )
            ),
            classCode="ENC",
            moodCode="EVN",
        ),
        typeCode="COMP",
    )


def write_samples(out: Path, cases: int = 200, seed: int = 2024, count: int = 20) -> list[Path]:
    """The first ``count`` unbroken cases of ``generate_cases(cases, seed)`` as documents.

    Local codes are written the way vendor-a's hospital writes them (the same cases as
    samples/vendor-a), so a document and the table row of its case are the same face sheet.
    """
    from hutong.synthetic import generate_cases
    from hutong.synthetic.localise import localise

    chosen = [c for c in localise(generate_cases(cases, seed), "vendor-a", seed) if not c["broken"]]
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for case in chosen[:count]:
        path = out / f"C0032_{case['encounter']['mdtrt_id']}.xml"
        path.write_bytes(wst500_document(case))
        paths.append(path)
    return paths


if __name__ == "__main__":
    for written in write_samples(Path(sys.argv[1] if len(sys.argv) > 1 else "samples/cda")):
        print(written)
