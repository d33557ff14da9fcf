"""Claim resources from the canonical ``charge`` table: one institutional claim per inpatient stay
that has charge rows, with one item per national fee category (医疗收费项目类别, ``med_chrgitm``).

Amounts are CNY ``Decimal`` values with two decimals: each charge row is rounded half up to the
fen, then summed, so an item's ``net`` and the claim's ``total`` add up exactly.

The DRG / DIP group of a stay is not emitted yet. When a grouper result exists, pass it as
``supporting`` (Claim.supportingInfo entries by Encounter id, e.g. category ``info`` with the
group code); :func:`claims` numbers them and writes them as they are.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd

from hutong.mapping.fhir.datatypes import column, compact, date_times, reference, rows, texts
from hutong.mapping.fhir.ids import resource_id
from hutong.mapping.fhir.systems import hl7, valueset_system, vendor_system
from hutong.terminologies.valuesets import valueset

CURRENCY = "CNY"
FEN = Decimal("0.01")
UNKNOWN_PROVIDER = "未知医疗机构 / unknown provider"


def amount(value: float | None) -> Decimal | None:
    """A charge amount as a two-decimal ``Decimal`` (half up, to the fen); ``None`` when
    missing or not finite. ``amount(12.345)`` is ``Decimal("12.35")``."""
    if value is None or not math.isfinite(value):
        return None
    return Decimal(repr(float(value))).quantize(FEN, rounding=ROUND_HALF_UP)


def amounts(values: pd.Series) -> list[Decimal | None]:
    """Column form of :func:`amount`."""
    numbers = pd.to_numeric(values, errors="coerce").astype(float).tolist()
    return [amount(v) for v in numbers]


def created(stays: pd.DataFrame) -> pd.Series:
    """Claim.created of each stay: the discharge time, else the admission time (``None`` when
    the stay has neither; Claim.created is required, so such a stay gets no claim)."""
    discharge = date_times(column(stays, "dscg_time"))
    return discharge.where(discharge.notna(), date_times(column(stays, "adm_time")))


def claim_system(vendor: str) -> str:
    """Identifier system of a stay's claim: the stay's 就诊ID under the ``claim`` kind."""
    return vendor_system(vendor, "claim")


def money(value: Decimal) -> dict:
    return {"value": value, "currency": CURRENCY}


def claims(
    stays: pd.DataFrame,
    charges: pd.DataFrame,
    diagnoses: dict[str, list[dict]] | None = None,
    supporting: dict[str, list[dict]] | None = None,
) -> list[dict]:
    """One Claim per stay of ``stays`` that has rows in ``charges``.

    ``stays`` is the keyed encounter frame (``id`` the Encounter id, ``patient`` the Patient
    id, ``vendor``, ``mdtrt_id``, ``fixmedins_name``, ``hi_type``, ``adm_time``,
    ``dscg_time``); ``charges`` has ``encounter`` (an Encounter id of ``stays``),
    ``med_chrgitm`` (a code of the value set) and ``amt``. ``diagnoses`` maps an Encounter id
    to its Encounter.diagnosis entries in rank order (they become Claim.diagnosis);
    ``supporting`` maps it to Claim.supportingInfo entries (the DRG / DIP hook).
    """
    diagnoses = diagnoses or {}
    supporting = supporting or {}
    fees = valueset("med_chrgitm")
    fee_system = valueset_system("med_chrgitm")
    insurance = valueset("hi_type")

    sums: dict[str, dict[str, Decimal]] = {}
    for stay_id, category, value in zip(
        charges["encounter"].tolist(),
        charges["med_chrgitm"].tolist(),
        amounts(charges["amt"]),
        strict=True,
    ):
        if value is None:
            continue
        per_category = sums.setdefault(stay_id, {})
        per_category[category] = per_category.get(category, Decimal("0.00")) + value

    cols = texts(stays, "id", "patient", "vendor", "mdtrt_id", "fixmedins_name", "hi_type")
    cols["created"] = created(stays).tolist()
    claim_type = hl7("claim_type")
    priority = hl7("process_priority")
    out = []
    for row in rows(cols):
        per_category = sums.get(row["id"])
        if not per_category or row["created"] is None:
            continue
        encounter = reference("Encounter", row["id"])
        items = []
        for sequence, category in enumerate(sorted(per_category), start=1):
            code = {"system": fee_system, "code": category, "display": fees.display(category)}
            items.append(
                {
                    "sequence": sequence,
                    "productOrService": {"coding": [compact(code)]},
                    "net": money(per_category[category]),
                    "encounter": [encounter],
                }
            )
        scheme = insurance.display(row["hi_type"]) or row["hi_type"]
        infos = [{**info, "sequence": i} for i, info in enumerate(supporting.get(row["id"], []), 1)]
        out.append(
            compact(
                {
                    "resourceType": "Claim",
                    "id": resource_id(claim_system(row["vendor"]), row["mdtrt_id"]),
                    "identifier": [
                        {"system": claim_system(row["vendor"]), "value": row["mdtrt_id"]}
                    ],
                    "status": "active",
                    "type": {"coding": [{"system": claim_type, "code": "institutional"}]},
                    "use": "claim",
                    "patient": reference("Patient", row["patient"]),
                    "created": row["created"],
                    "provider": {"display": row["fixmedins_name"] or UNKNOWN_PROVIDER},
                    "priority": {"coding": [{"system": priority, "code": "normal"}]},
                    "supportingInfo": infos,
                    "diagnosis": [
                        {"sequence": i, "diagnosisReference": entry["condition"]}
                        for i, entry in enumerate(diagnoses.get(row["id"], []), start=1)
                    ],
                    "insurance": [
                        {
                            "sequence": 1,
                            "focal": True,
                            "coverage": {"display": f"医保 {scheme}" if scheme else "医保"},
                        }
                    ],
                    "item": items,
                    "total": money(sum(per_category.values(), Decimal("0.00"))),
                }
            )
        )
    return out
