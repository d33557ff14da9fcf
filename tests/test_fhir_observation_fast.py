"""The column-wise Observation builder writes exactly what the generic one did: each row's full
element passed through ``compact``. The generic builder is kept here as the reference, and both
run over random rows drawn from the values that change the shape (missing or present, coded or
numeric or text results, comparators, flags, known and unknown units)."""

from __future__ import annotations

import random
from decimal import Decimal

import pandas as pd
import pytest

from hutong.mapping.fhir import observation as obs
from hutong.mapping.fhir.coded import code_concept, code_concepts
from hutong.mapping.fhir.datatypes import (
    coding,
    compact,
    concept,
    decimal,
    decimals,
    quantity,
    reference,
    rows,
    status,
    text,
)
from hutong.mapping.fhir.ndjson import ndjson_bytes
from hutong.mapping.fhir.systems import hl7
from hutong.mapping.fhir.validate import allowed


def reference_value(row: dict) -> dict:
    """``value[x]`` as the generic builder made it."""
    kind = (row["value_type"] or "").upper()
    said = row["value_text"]
    compared = obs.COMPARED.fullmatch(said) if said is not None else None
    number = row["value_num"]
    if number is None and compared is not None and kind in obs.NUMERIC_TYPES:
        number = decimal(float(compared.group(2)), compared.group(2))
    if number is not None:
        comparator = None
        if compared is not None and compared.group(1) and Decimal(compared.group(2)) == number:
            comparator = obs.COMPARATORS.get(compared.group(1), compared.group(1))
        return {"valueQuantity": quantity(number, row["unit"], comparator)}
    if row["value_code"] is not None:
        answer = coding(row["value_code_system"], row["value_code"], said)
        return {"valueCodeableConcept": concept([answer], said)}
    if said is not None and kind in obs.CODED_TYPES:
        return {"valueCodeableConcept": {"text": said}}
    if said is not None:
        return {"valueString": said}
    return {}


def reference_observations(cols: dict[str, list]) -> list[dict]:
    """The generic builder: every element written out, then ``compact``."""
    statuses = allowed("Observation", "status")
    out = []
    for row in rows(cols):
        kind = obs.category(row["category"], row["report_category"], hl7("observation_category"))
        flags = obs.interpretations(row["abnormal_flag"], hl7("observation_interpretation"))
        limits = compact(
            {
                "low": quantity(row["ref_low"], row["unit"]),
                "high": quantity(row["ref_high"], row["unit"]),
                "text": row["ref_range"],
            }
        )
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
                    **reference_value(row),
                    "interpretation": flags,
                    "referenceRange": [limits] if limits else None,
                }
            )
        )
    return out


CHOICES = {
    "id": [None, "0b1c6f36-0f0e-5a57-9d2e-3c4b5a6d7e8f"],
    "key_system": ["urn:hutong:sid:vendor-a:observation_id"],
    "key_value": ["R1", "R2"],
    "patient": [None, "p1"],
    "encounter": [None, "e1"],
    "status": [None, "final", " FINAL ", "amended", "bogus"],
    "effective": [None, "2025-03-01T08:30:00+08:00"],
    "code": [None, "2345-7"],
    "name": [None, "Glucose", "血糖"],
    "map_status": [None, "exact", "auto"],
    "standard_system": [None, "http://loinc.org"],
    "local_system": [None, "urn:hutong:cs:vendor-a:observation"],
    "local_code": [None, "GLU"],
    "local_name": [None, "葡萄糖"],
    "category": [None, "laboratory", "检验", "Vital-Signs", "其他"],
    "report_category": [None, "LAB", "rad", "XYZ"],
    "abnormal_flag": [None, "H", "H~A", "↑", "weird", "~", "偏低~N"],
    "value_num": [None, Decimal("7.10"), Decimal("0"), Decimal("-1.5")],
    "unit": [None, "mmol/L", "×10^9/L", "furlongs"],
    "ref_low": [None, Decimal("3.50"), Decimal("0")],
    "ref_high": [None, Decimal("5.30")],
    "ref_range": [None, "3.50-5.30", "<0.5"],
    "value_type": [None, "NM", "sn", "CE", "CWE", "ST", "TX"],
    "value_text": [None, "7.10", "<0.50", "≥ 1000", "<=3", "阳性", "abc", "-1.5"],
    "value_code": [None, "POS"],
    "value_code_system": [None, "http://snomed.info/sct"],
}


def random_columns(n: int, seed: int) -> dict[str, list]:
    rng = random.Random(seed)
    return {name: [rng.choice(values) for _ in range(n)] for name, values in CHOICES.items()}


@pytest.mark.parametrize("seed", range(5))
def test_observations_match_the_compact_builder(seed):
    cols = random_columns(2000, seed)
    fast = obs._build(cols)
    assert fast == reference_observations(cols)
    lines = [ndjson_bytes(r) for r in fast]
    assert lines == [ndjson_bytes(r) for r in reference_observations(cols)]


def test_observations_share_no_elements_between_resources():
    cols = {name: [values[-1]] * 2 for name, values in CHOICES.items()}
    first, second = obs._build(cols)
    assert first == second
    assert first["code"] is not second["code"]
    assert first["referenceRange"][0] is not second["referenceRange"][0]
    assert first["valueQuantity"] is not second["valueQuantity"]


@pytest.mark.parametrize("seed", range(3))
def test_code_concepts_match_code_concept(seed):
    cols = random_columns(1000, seed)
    assert code_concepts(cols) == [code_concept(row) for row in rows(cols)]
    del cols["map_status"]  # tables without a map status column
    expected = [code_concept({**row, "map_status": None}) for row in rows(cols)]
    assert code_concepts(cols) == expected


def plain_text(column: pd.Series) -> pd.Series:
    """``text`` the pandas way (the path non-Arrow columns take)."""
    strings = column.astype("string").str.strip()
    strings = strings.where(strings.ne(""))
    return strings.astype(object).where(strings.notna(), None)


@pytest.mark.parametrize("dtype", ["str", "string[pyarrow]", "string[python]", object])
def test_text_of_arrow_strings_matches_the_pandas_way(dtype):
    values = [" a ", "", None, "\u3000x\u3000", "\x1c y", "\t", "z", " 中 文 ", "\n\r"]
    column = pd.Series(values, dtype=dtype, index=range(10, 10 + len(values)))
    found = text(column)
    assert found.tolist() == ["a", None, None, "x", "y", None, "z", "中 文", None]
    assert found.tolist() == plain_text(column).tolist()
    assert found.index.equals(column.index) and found.dtype == object


@pytest.mark.parametrize(
    "values",
    [
        [" a", None, float("nan"), pd.NA, "", " "],
        [None, None],
        [],
        [1, " x"],
        [1.5, None, "7 "],
        [pd.NaT, " x"],
        [b"ab ", "x"],
    ],
)
def test_text_of_object_columns_matches_the_pandas_way(values):
    column = pd.Series(values, dtype=object)
    assert text(column).tolist() == plain_text(column).tolist()


def test_decimals_match_decimal_row_by_row():
    rng = random.Random(11)
    pool = [0.0, -0.0, 7.1, 7.10, 120.0, -1.5, 1e-7, 3.5, 5.3, float("nan"), float("inf"), 1e20]
    spellings = [None, "7.10", "3.50-5.30", "-0", "0.0", "<0.50", "120.0", "1.50", ""]
    numbers = [rng.choice(pool) for _ in range(3000)]
    spelled = [rng.choice(spellings) for _ in range(3000)]
    found = decimals(pd.Series(numbers), pd.Series(spelled, dtype=object))
    pairs = zip(numbers, spelled, strict=True)
    expected = [None if v != v else decimal(v, text_of(s)) for v, s in pairs]
    assert [str(d) if d is not None else None for d in found] == [
        str(d) if d is not None else None for d in expected
    ]
    assert decimals(pd.Series(numbers)) == [None if v != v else decimal(v) for v in numbers]


def text_of(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None
