"""Observation resources from the canonical ``observation`` table: one result (HL7 v2 OBX) each.

The value keeps its type: a number becomes ``valueQuantity`` (with its precision, see
:func:`~hutong.mapping.fhir.datatypes.decimal`), a coded answer ``valueCodeableConcept``, any
other text ``valueString``. The v2 abnormal flag (table 0078) becomes the FHIR interpretation.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pandas as pd

from hutong.mapping.fhir.coded import code_concept, code_systems
from hutong.mapping.fhir.datatypes import (
    coding,
    column,
    compact,
    concept,
    date_times,
    decimal,
    decimals,
    per_value,
    quantity,
    reference,
    rows,
    status,
    text,
    texts,
)
from hutong.mapping.fhir.systems import code_system, hl7, local_system
from hutong.mapping.fhir.validate import allowed

# http://terminology.hl7.org/CodeSystem/observation-category
CATEGORY = {
    "social-history": "Social History",
    "vital-signs": "Vital Signs",
    "imaging": "Imaging",
    "laboratory": "Laboratory",
    "procedure": "Procedure",
    "survey": "Survey",
    "exam": "Exam",
    "therapy": "Therapy",
    "activity": "Activity",
}

CATEGORY_ALIASES = {
    "检验": "laboratory",
    "化验": "laboratory",
    "生命体征": "vital-signs",
    "体征": "vital-signs",
    "影像": "imaging",
}

# The category of a result without one, from its report's v2 0074 diagnostic service section.
LAB_SECTIONS = ("LAB", "BG", "BLB", "CG", "CH", "CP", "GE", "HM", "IMM", "MB", "MCB", "MYC")
LAB_SECTIONS += ("OSL", "SP", "SR", "TX", "URN", "VR")
IMAGING_SECTIONS = ("RAD", "CT", "CUS", "NMR", "NMS", "OUS", "RUS", "RX", "VUS", "XRC")
SECTION_CATEGORY = {
    **dict.fromkeys(LAB_SECTIONS, "laboratory"),
    **dict.fromkeys(IMAGING_SECTIONS, "imaging"),
}

# v3 ObservationInterpretation codes (displays of FHIR R4) by v2 0078 abnormal flag: the v2
# flags are the same codes. Chinese LIS flags are read as their v2 equivalent.
INTERPRETATION = {
    "L": "Low",
    "H": "High",
    "LL": "Critical low",
    "HH": "Critical high",
    "LU": "Significantly low",
    "HU": "Significantly high",
    "<": "Off scale low",
    ">": "Off scale high",
    "N": "Normal",
    "A": "Abnormal",
    "AA": "Critical abnormal",
    "U": "Significant change up",
    "D": "Significant change down",
    "B": "Better",
    "W": "Worse",
    "S": "Susceptible",
    "R": "Resistant",
    "I": "Intermediate",
    "NS": "Non-susceptible",
    "SDD": "Susceptible-dose dependent",
    "POS": "Positive",
    "NEG": "Negative",
    "IND": "Indeterminate",
    "E": "Equivocal",
    "DET": "Detected",
    "ND": "Not detected",
    "RR": "Reactive",
    "WR": "Weakly reactive",
    "NR": "Non-reactive",
    "EXP": "Expected",
    "UNE": "Unexpected",
    "CAR": "Carrier",
    "EX": "outside threshold",
    "HX": "above high threshold",
    "LX": "below low threshold",
    "IE": "Insufficient evidence",
}
FLAG_ALIASES = {
    "↑": "H",
    "↓": "L",
    "↑↑": "HH",
    "↓↓": "LL",
    "高": "H",
    "偏高": "H",
    "低": "L",
    "偏低": "L",
    "危急高": "HH",
    "危急低": "LL",
    "正常": "N",
    "异常": "A",
    "阳性": "POS",
    "阴性": "NEG",
    "弱阳性": "WR",
}

# v2 0125 value types whose answer is a code, and those whose text may be a number.
CODED_TYPES = {"CE", "CWE", "CNE", "CF"}
NUMERIC_TYPES = {"NM", "SN"}
# A structured numeric as text: an optional comparator and a numeral (``<0.50``, ``≥ 1000``).
COMPARED = re.compile(r"(<=|>=|<|>|≤|≥)?\s*([+-]?(?:\d+(?:\.\d+)?|\.\d+))")
COMPARATORS = {"≤": "<=", "≥": ">="}


def interpretations(flags: str | None, system: str) -> list[dict] | None:
    """The interpretations of v2 0078 abnormal flags (repeats joined by ``~``: ``H~A``); an
    unknown flag is kept as text."""
    if flags is None:
        return None
    out = []
    for flag in (f.strip() for f in flags.split("~")):
        code = FLAG_ALIASES.get(flag, flag.upper())
        if code in INTERPRETATION:
            out.append(
                {"coding": [{"system": system, "code": code, "display": INTERPRETATION[code]}]}
            )
        elif flag:
            out.append({"text": flag})
    return out or None


def category(name: str | None, section: str | None, system: str) -> dict | None:
    """The observation category: the row's own, else the one its report's section implies."""
    if name is not None:
        code = CATEGORY_ALIASES.get(name, name.lower())
    else:
        code = SECTION_CATEGORY.get((section or "").upper())
    if code in CATEGORY:
        return {"coding": [{"system": system, "code": code, "display": CATEGORY[code]}]}
    return {"text": name} if name is not None else None


def value(row: dict) -> dict:
    """The ``value[x]`` element of a row as a one-key dict (empty when there is no value)."""
    kind = (row["value_type"] or "").upper()
    said = row["value_text"]
    compared = COMPARED.fullmatch(said) if said is not None else None
    number = row["value_num"]
    if number is None and compared is not None and kind in NUMERIC_TYPES:
        number = decimal(float(compared.group(2)), compared.group(2))
    if number is not None:
        comparator = None
        if compared is not None and compared.group(1) and Decimal(compared.group(2)) == number:
            comparator = COMPARATORS.get(compared.group(1), compared.group(1))
        return {"valueQuantity": quantity(number, row["unit"], comparator)}
    if row["value_code"] is not None:
        answer = coding(row["value_code_system"], row["value_code"], said)
        return {"valueCodeableConcept": concept([answer], said)}
    if said is not None and kind in CODED_TYPES:
        return {"valueCodeableConcept": {"text": said}}
    if said is not None:
        return {"valueString": said}
    return {}


def reference_range(low, high, unit: str | None, said: str | None) -> list[dict] | None:
    """``referenceRange``: low and high as quantities in the result's unit, and the text."""
    found = compact({"low": quantity(low, unit), "high": quantity(high, unit), "text": said})
    return [found] if found else None


def observations(frame: pd.DataFrame) -> list[dict]:
    """One Observation per row of a keyed observation frame with ``patient`` and ``encounter``
    ids; ``report_category`` and ``report_time`` (of its report, may be missing) fill in a
    category and an effective time the row does not have."""
    cols = texts(
        frame,
        "id",
        "key_system",
        "key_value",
        "vendor",
        "patient",
        "encounter",
        "code",
        "code_system",
        "name",
        "local_code",
        "local_name",
        "map_status",
        "value_type",
        "value_text",
        "value_code",
        "unit",
        "ref_range",
        "abnormal_flag",
        "status",
        "category",
        "report_category",
    )
    cols.update(code_systems(frame, "observation", None))
    named = text(column(frame, "value_system"))
    local = per_value(text(frame["vendor"]), lambda v: local_system(v, "observation-value"))
    cols["value_code_system"] = per_value(named, code_system).where(named.notna(), local).tolist()
    cols["value_num"] = decimals(column(frame, "value_num"), column(frame, "value_text"))
    cols["ref_low"] = decimals(column(frame, "ref_low"), column(frame, "ref_range"))
    cols["ref_high"] = decimals(column(frame, "ref_high"), column(frame, "ref_range"))
    own = pd.Series(date_times(column(frame, "effective_time")).tolist(), dtype=object)
    of_report = pd.Series(date_times(column(frame, "report_time")).tolist(), dtype=object)
    cols["effective"] = own.where(own.notna(), of_report).tolist()
    statuses = allowed("Observation", "status")
    category_system = hl7("observation_category")
    flag_system = hl7("observation_interpretation")
    out = []
    for row in rows(cols):
        kind = category(row["category"], row["report_category"], category_system)
        flags = interpretations(row["abnormal_flag"], flag_system)
        out.append(
            compact(
                {
                    "resourceType": "Observation",
                    "id": row["id"],
                    "identifier": [{"system": row["key_system"], "value": row["key_value"]}],
                    "status": status(row["status"], statuses, "final"),
                    "category": [kind] if kind else None,
                    "code": code_concept(row),
                    "subject": reference("Patient", row["patient"]),
                    "encounter": reference("Encounter", row["encounter"]),
                    "effectiveDateTime": row["effective"],
                    **value(row),
                    "interpretation": flags,
                    "referenceRange": reference_range(
                        row["ref_low"], row["ref_high"], row["unit"], row["ref_range"]
                    ),
                }
            )
        )
    return out
