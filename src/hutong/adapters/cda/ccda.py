"""C-CDA sections as canonical rows: problems, procedures, results, medications, vital signs.

Which section is which comes from its LOINC code (``ccda.toml`` [sections]); entries are read by
their CDA structure (act → observation, organizer → component), not by templateId versions, so
documents of C-CDA R1.1 and R2.1 and CDA documents of other realms read the same. Sections
not listed are named in a note; nothing is dropped silently.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

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
    local,
    quantity,
    text,
    when,
    xsi_type,
)

CLINICAL = ("diagnosis", "procedure", "report", "observation", "medication")


@dataclass
class Rows:
    """Rows of one document by table, with the context every row shares."""

    doc: Doc
    patient_id: str
    mdtrt_id: str | None
    tables: dict[str, list[dict]] = field(default_factory=lambda: {t: [] for t in CLINICAL})
    used: set[str] = field(default_factory=set)
    kept_out: Counter = field(default_factory=Counter)

    def key(self, el: Element | None, fallback: str) -> str:
        """A row id: the element's II, else a path in the document; unique in the document."""
        doc_id = identifier(find(self.doc.root, "v:id")) or self.doc.name
        key = identifier(find(el, "v:id")) or f"{doc_id}#{fallback}"
        unique, n = key, 1
        while unique in self.used:
            n += 1
            unique = f"{key}#{n}"
        self.used.add(unique)
        return unique

    def add(self, table: str, row: dict, locator: str) -> None:
        base = {"mdtrt_id": self.mdtrt_id, "locator": locator}
        if table not in ("diagnosis", "procedure"):  # these reach the patient via the stay
            base["patient_id"] = self.patient_id
        self.tables[table].append({**base, **row})


def coded(doc: Doc, el: Element | None) -> dict:
    """local_code/local_name of a CD, plus code/code_system when its system is a known one.

    A null-flavoured code (``nullFlavor="OTH"``) stands for its first coded translation.
    """
    if el is not None and attr(el, "code") is None:
        translated = [t for t in findall(el, "v:translation") if attr(t, "code")]
        if translated:
            el = translated[0]
    code, system = attr(el, "code"), attr(el, "codeSystem")
    known = data("ccda")["code_systems"].get(system or "")
    row = {"local_code": code, "local_name": doc.display(el), "name": doc.display(el)}
    if code and known:
        row.update(code=code, code_system=known)
    return row


def system_name(oid: str | None) -> str | None:
    if not oid:
        return None
    return data("ccda")["code_systems"].get(oid, f"urn:oid:{oid}")


def convert(doc: Doc, patient_id: str, mdtrt_id: str | None) -> dict[str, list[dict]]:
    """Clinical rows of the structured body; the unstructured and unread parts as notes."""
    rows = Rows(doc, patient_id, mdtrt_id)
    body = find(doc.root, "v:component/v:structuredBody")
    if body is None:
        other = find(doc.root, "v:component/v:nonXMLBody/v:text")
        if other is not None:
            kind = attr(other, "mediaType") or "text/plain"
            how = attr(other, "representation") or "TXT"
            doc.notes.append(f"nonXMLBody ({kind}, {how}) not converted / 非结构化正文未转换")
        else:
            doc.notes.append("header only, no body / 仅有文档头")
        return rows.tables
    handlers = {
        "problems": _problems,
        "procedures": _procedures,
        "results": _results,
        "medications": _medications,
        "vital_signs": _vital_signs,
    }
    unread = []
    for section in body.iter(f"{{{V3}}}section"):
        loinc = attr(find(section, "v:code"), "code") or "-"
        kind = data("ccda")["sections"].get(loinc)
        if kind is None:
            unread.append(loinc)
            continue
        for i, entry in enumerate(findall(section, "v:entry"), start=1):
            handlers[kind](rows, entry, f"{doc.name}/section[{loinc}]/entry[{i}]", f"{loinc}.{i}")
    if unread:
        doc.notes.append(f"sections not converted / 未转换章节: {', '.join(unread)}")
    for what, n in sorted(rows.kept_out.items()):
        doc.notes.append(f"{n} {what} / 未转换条目")
    return rows.tables


def _problems(rows: Rows, entry: Element, locator: str, path: str) -> None:
    doc = rows.doc
    found = findall(entry, "v:act/v:entryRelationship/v:observation") or findall(
        entry, "v:observation"
    )
    for obs in found:
        value = find(obs, "v:value")
        if attr(obs, "negationInd") == "true" or value is None:
            rows.kept_out["negated or empty problem entries (no diagnosis)"] += 1
            continue
        if rows.mdtrt_id is None:
            rows.kept_out["problems without an encounter (diagnosis rows need a stay)"] += 1
            continue
        chosen = _preferred(value)
        row = {"local_code": attr(chosen, "code")}
        row["local_name"] = doc.display(chosen) or doc.display(value) or text(value)
        if not (row["local_code"] or row["local_name"]):
            rows.kept_out["problem entries without code or name"] += 1
            continue
        seq = len(rows.tables["diagnosis"]) + 1
        rows.add("diagnosis", {**row, "seq": seq, "diag_type": "1"}, locator)


def _preferred(value: Element) -> Element:
    """The value or its translation in a preferred system (ICD-10), else the first with a code."""
    preferred = data("ccda")["problems"]["preferred_systems"]
    candidates = [value, *findall(value, "v:translation")]
    for el in candidates:
        if attr(el, "codeSystem") in preferred and attr(el, "code"):
            return el
    with_code = [el for el in candidates if attr(el, "code")]
    return with_code[0] if with_code else value


def _procedures(rows: Rows, entry: Element, locator: str, path: str) -> None:
    for act in entry:
        if local(act) not in ("procedure", "observation", "act"):
            continue
        if attr(act, "negationInd") == "true" or (attr(act, "moodCode") or "EVN") != "EVN":
            rows.kept_out["planned or negated procedures"] += 1
            continue
        if rows.mdtrt_id is None:
            rows.kept_out["procedures without an encounter (procedure rows need a stay)"] += 1
            continue
        code = find(act, "v:code")
        row = {"local_code": attr(code, "code"), "local_name": rows.doc.display(code)}
        row["oprn_oprt_date"] = when(find(act, "v:effectiveTime"))[0]
        surgeon = find(act, "v:performer/v:assignedEntity")
        row["oper_dr_code"] = identifier(find(surgeon, "v:id"))
        row["oper_dr_name"] = best_name(find(surgeon, "v:assignedPerson"))
        row["seq"] = len(rows.tables["procedure"]) + 1
        rows.add("procedure", row, locator)


def _results(rows: Rows, entry: Element, locator: str, path: str) -> None:
    organizer = find(entry, "v:organizer")
    if organizer is None:
        for obs in findall(entry, "v:observation"):
            _observation(rows, obs, locator, path, "laboratory", None, None)
        return
    doc = rows.doc
    report_id = rows.key(organizer, path)
    start, end = when(find(organizer, "v:effectiveTime"))
    status = attr(find(organizer, "v:statusCode"), "code")
    report = {"report_id": report_id, **coded(doc, find(organizer, "v:code"))}
    report.update(
        category="LAB",
        status=data("ccda")["status"]["report"].get(status or "", None),
        effective_time=start or end,
    )
    observations = findall(organizer, "v:component/v:observation")
    for j, obs in enumerate(observations, start=1):
        where = f"{locator}/component[{j}]"
        _observation(rows, obs, where, f"{path}.{j}", "laboratory", report_id, j)
    if report["effective_time"] is None and observations:
        report["effective_time"] = when(find(observations[0], "v:effectiveTime"))[0]
    rows.add("report", report, locator)


def _vital_signs(rows: Rows, entry: Element, locator: str, path: str) -> None:
    found = findall(entry, "v:organizer/v:component/v:observation") or findall(
        entry, "v:observation"
    )
    for j, obs in enumerate(found, start=1):
        _observation(rows, obs, f"{locator}/component[{j}]", f"{path}.{j}", "vital-signs", None, j)


def _observation(
    rows: Rows,
    obs: Element,
    locator: str,
    path: str,
    category: str,
    report_id: str | None,
    seq: int | None,
) -> None:
    rules = data("ccda")
    row = {"observation_id": rows.key(obs, path), "report_id": report_id, "seq": seq}
    row.update(coded(rows.doc, find(obs, "v:code")))
    row.update(_value(rows.doc, find(obs, "v:value")))
    flag = attr(find(obs, "v:interpretationCode"), "code")
    row["abnormal_flag"] = rules["abnormal_flag"].get(flag, flag) if flag else None
    row.update(_reference_range(find(obs, "v:referenceRange/v:observationRange")))
    status = attr(find(obs, "v:statusCode"), "code")
    row["status"] = rules["status"]["observation"].get(status or "", None)
    row["effective_time"] = when(find(obs, "v:effectiveTime"))[0]
    row["category"] = category
    rows.add("observation", row, locator)


def _value(doc: Doc, value: Element | None) -> dict:
    """An observation value by its xsi:type: number + unit, code + system, or text."""
    if value is None:
        return {}
    kind = xsi_type(value) or "ANY"
    out: dict = {"value_type": data("ccda")["value_type"].get(kind, kind)}
    if kind in ("PQ", "INT", "REAL", "MO"):
        out["value_num"], out["unit"] = quantity(value)
        if kind == "MO":
            out["unit"] = attr(value, "currency")
    elif kind in ("CD", "CE", "CV", "CO", "CS"):
        out["value_code"] = attr(value, "code")
        out["value_system"] = system_name(attr(value, "codeSystem"))
        out["value_text"] = doc.display(value)
    elif kind == "IVL_PQ":
        low, unit = quantity(find(value, "v:low"))
        high, high_unit = quantity(find(value, "v:high"))
        out["value_text"] = "-".join(f"{v:g}" for v in (low, high) if v is not None) or None
        out["unit"] = unit or high_unit
    elif kind in ("TS", "BL"):
        out["value_text"] = attr(value, "value")
    else:
        out["value_text"] = text(value)
    return out


def _reference_range(rng: Element | None) -> dict:
    if rng is None:
        return {}
    value = find(rng, "v:value")
    low, unit = quantity(find(value, "v:low"))
    high, high_unit = quantity(find(value, "v:high"))
    shown = "-".join(f"{v:g}" for v in (low, high) if v is not None)
    if shown and (unit or high_unit):
        shown = f"{shown} {unit or high_unit}"
    return {
        "ref_low": low,
        "ref_high": high,
        "ref_range": text(find(rng, "v:text")) or shown or None,
    }


def _medications(rows: Rows, entry: Element, locator: str, path: str) -> None:
    rules = data("ccda")
    for sa in findall(entry, "v:substanceAdministration"):
        material = find(sa, "v:consumable/v:manufacturedProduct/v:manufacturedMaterial")
        row = {"med_id": rows.key(sa, path), **coded(rows.doc, find(material, "v:code"))}
        row["local_name"] = row["local_name"] or text(find(material, "v:name"))
        row["name"] = row["local_name"]
        for et in findall(sa, "v:effectiveTime"):
            kind = xsi_type(et)
            if kind == "PIVL_TS":
                every, unit = quantity(find(et, "v:period"))
                row["frequency"] = f"every {every:g} {unit or ''}".strip() if every else None
            elif kind == "EIVL_TS":
                row["frequency"] = attr(find(et, "v:event"), "code")
            elif "start_time" not in row:
                row["start_time"], row["end_time"] = when(et)
        route = find(sa, "v:routeCode")
        row["route"] = rows.doc.display(route) or attr(route, "code")
        dose = find(sa, "v:doseQuantity")
        if attr(dose, "value") is None and find(dose, "v:low") is not None:
            dose = find(dose, "v:low")  # a dose range: its lower bound
        row["dose"], row["dose_unit"] = quantity(dose)
        status = attr(find(sa, "v:statusCode"), "code")
        row["status"] = rules["status"]["medication"].get(status or "", None)
        rows.add("medication", row, locator)
