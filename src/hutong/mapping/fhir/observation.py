"""Observation resources from the canonical ``observation`` table: one result (HL7 v2 OBX) each.

The value keeps its type: a number becomes ``valueQuantity`` (with its precision, see
:func:`~hutong.mapping.fhir.datatypes.decimal`), a coded answer ``valueCodeableConcept``, any
other text ``valueString``. The v2 abnormal flag (table 0078) becomes the FHIR interpretation.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pandas as pd

from hutong.mapping.fhir.coded import code_concepts, code_systems
from hutong.mapping.fhir.datatypes import (
    column,
    date_times,
    decimal,
    decimals,
    per_value,
    status,
    text,
    texts,
    ucum,
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


def observations(frame: pd.DataFrame) -> list[dict]:
    """One Observation per row of a keyed observation frame with ``patient`` and ``encounter``
    ids; ``report_category`` and ``report_time`` (of its report, may be missing) fill in a
    category and an effective time the row does not have."""
    cols = texts(
        frame,
        "id",
        "key_system",
        "key_value",
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
    vendor = text(frame["vendor"])
    cols.update(code_systems(frame, "observation", None, vendor))
    named = text(column(frame, "value_system"))
    local = per_value(vendor, lambda v: local_system(v, "observation-value"))
    cols["value_code_system"] = per_value(named, code_system).where(named.notna(), local).tolist()
    cols["value_num"] = decimals(column(frame, "value_num"), column(frame, "value_text"))
    cols["ref_low"] = decimals(column(frame, "ref_low"), column(frame, "ref_range"))
    cols["ref_high"] = decimals(column(frame, "ref_high"), column(frame, "ref_range"))
    own = pd.Series(date_times(column(frame, "effective_time")).tolist(), dtype=object)
    of_report = pd.Series(date_times(column(frame, "report_time")).tolist(), dtype=object)
    cols["effective"] = own.where(own.notna(), of_report).tolist()
    return _build(cols)


def _build(cols: dict[str, list]) -> list[dict]:
    """The Observations of prepared columns, one dict literal per row.

    The shape is what ``compact`` of the full element gives (present keys only), written out so
    no row pays for a generic pass; ``tests/test_fhir_observation_fast.py`` pins it to that
    generic builder. A unit's UCUM code is looked up once per batch; every row gets fresh dicts
    (resources share no sub-elements).
    """
    statuses = allowed("Observation", "status")
    category_system = hl7("observation_category")
    flag_system = hl7("observation_interpretation")
    ucum_system = hl7("ucum")
    codes = code_concepts(cols)
    units: dict[str | None, str | None] = {}
    # what depends on one or two columns only is worked out once per distinct value; the
    # elements made of it are fresh per row
    status_of: dict[str | None, str] = {}
    kinds: dict[tuple[str | None, str | None], dict | None] = {}
    flag_sets: dict[str, list[dict] | None] = {}
    out = []
    append = out.append
    for (
        rid, key_system, key_value, patient, encounter, row_status, effective, code,
        category_name, section, flags, number, unit, low, high, said_range,
        kind, said, value_code, value_system,
    ) in zip(
        cols["id"], cols["key_system"], cols["key_value"], cols["patient"], cols["encounter"],
        cols["status"], cols["effective"], codes, cols["category"], cols["report_category"],
        cols["abnormal_flag"], cols["value_num"], cols["unit"], cols["ref_low"],
        cols["ref_high"], cols["ref_range"], cols["value_type"], cols["value_text"],
        cols["value_code"], cols["value_code_system"], strict=True,
    ):  # fmt: skip
        element: dict = {"resourceType": "Observation"}
        if rid:
            element["id"] = rid
        element["identifier"] = [{"system": key_system, "value": key_value}]
        said_status = status_of.get(row_status)
        if said_status is None:
            said_status = status_of[row_status] = status(row_status, statuses, "final")
        element["status"] = said_status
        kind_key = (category_name, section)
        if kind_key not in kinds:
            kinds[kind_key] = category(category_name, section, category_system)
        found = kinds[kind_key]
        if found:  # a fresh copy of the category's two shapes
            if "coding" in found:
                coded_kind = found["coding"][0]
                element["category"] = [
                    {
                        "coding": [
                            {
                                "system": coded_kind["system"],
                                "code": coded_kind["code"],
                                "display": coded_kind["display"],
                            }
                        ]
                    }
                ]
            else:
                element["category"] = [{"text": found["text"]}]
        if code:
            element["code"] = code
        if patient is not None:
            element["subject"] = {"reference": f"Patient/{patient}"}
        if encounter is not None:
            element["encounter"] = {"reference": f"Encounter/{encounter}"}
        if effective:
            element["effectiveDateTime"] = effective
        if unit not in units:
            units[unit] = ucum(unit)
        ucum_code = units[unit]
        if said is None and number is not None:  # a number alone: what _value gives it
            element["valueQuantity"] = _quantity(number, unit, ucum_code, ucum_system)
        elif said is not None or number is not None or value_code is not None:
            element.update(_value(kind, said, number, unit, ucum_code, value_code, value_system))
        if flags is not None:
            if flags not in flag_sets:
                flag_sets[flags] = interpretations(flags, flag_system)
            flagged = flag_sets[flags]
            if flagged:  # fresh copies of the two shapes
                element["interpretation"] = [
                    {"coding": [dict(one["coding"][0])]} if "coding" in one else dict(one)
                    for one in flagged
                ]
        if low is not None or high is not None or said_range:
            limits = {}
            if low is not None:
                limits["low"] = _quantity(low, unit, ucum_code, ucum_system)
            if high is not None:
                limits["high"] = _quantity(high, unit, ucum_code, ucum_system)
            if said_range:
                limits["text"] = said_range
            element["referenceRange"] = [limits]
        append(element)
    return out


def _quantity(
    number: Decimal, unit: str | None, code: str | None, system: str, comparator: str | None = None
) -> dict:
    """``quantity(number, unit, comparator)`` for a present number and its unit's UCUM code."""
    found: dict = {"value": number}
    if comparator:
        found["comparator"] = comparator
    if unit:
        found["unit"] = unit
    if code:
        found["system"] = system
        found["code"] = code
    return found


def _value(
    kind: str | None,
    said: str | None,
    number: Decimal | None,
    unit: str | None,
    ucum_code: str | None,
    value_code: str | None,
    value_system: str | None,
) -> dict:
    """The ``value[x]`` element of a row as a one-key dict (empty when there is no value)."""
    kind = (kind or "").upper()
    compared = COMPARED.fullmatch(said) if said is not None else None
    if number is None and compared is not None and kind in NUMERIC_TYPES:
        number = decimal(float(compared.group(2)), compared.group(2))
    if number is not None:
        comparator = None
        if compared is not None and compared.group(1) and Decimal(compared.group(2)) == number:
            comparator = COMPARATORS.get(compared.group(1), compared.group(1))
        return {"valueQuantity": _quantity(number, unit, ucum_code, hl7("ucum"), comparator)}
    if value_code is not None:
        answer = {"system": value_system, "code": value_code} if value_system else {}
        answer["code"] = value_code
        if said:
            answer["display"] = said
            return {"valueCodeableConcept": {"coding": [answer], "text": said}}
        return {"valueCodeableConcept": {"coding": [answer]}}
    if said is not None and kind in CODED_TYPES:
        return {"valueCodeableConcept": {"text": said}}
    if said:
        return {"valueString": said}
    return {}
