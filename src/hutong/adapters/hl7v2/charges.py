"""DFT^P03 / DFT^P11 → charge rows (one per FT1), with the encounter they are billed to.

A charge belongs to a visit, so a DFT without a visit number is rejected; its PV1 is written
as an encounter row too, because the linking stage drops charges of a visit nobody sent.
med_chrgitm (the national fee category) is left empty: FT1-7 is the sender's item code.
"""

from __future__ import annotations

from hutong.adapters.hl7v2.context import Context, Rejected
from hutong.adapters.hl7v2.er7 import Segment
from hutong.adapters.hl7v2.patients import write_patient
from hutong.adapters.hl7v2.values import maybe_number
from hutong.adapters.hl7v2.visits import visit_number, write_encounter


def write_charges(ctx: Context, event: str) -> None:
    """DFT: patient, the encounter billed, and one charge row per FT1."""
    pid = ctx.require(ctx.msg.first("PID"), "PID")
    patient_id = write_patient(ctx, pid)
    pv1 = ctx.require(ctx.msg.first("PV1"), "PV1")
    mdtrt_id = visit_number(ctx)
    if mdtrt_id is None:
        raise Rejected("malformed", "PV1-19 visit number missing: charges need a visit", "PV1-19")
    lines = ctx.msg.all("FT1")
    if not lines:
        raise Rejected("malformed", "no FT1: a financial message without a transaction", "FT1")
    write_encounter(ctx, pv1, patient_id, mdtrt_id, event)
    for ft1 in lines:
        item = ft1.components(7)
        ctx.add(
            "charge",
            ft1,
            mdtrt_id=mdtrt_id,
            item_local_code=(item[0] if item else "") or None,
            item_local_name=((item[1] if len(item) > 1 else "") or ctx.text(ft1, 8)) or None,
            med_chrgitm=None,
            amt=_amount(ctx, ft1),
        )


def _amount(ctx: Context, ft1: Segment) -> float | None:
    """FT1-11 extended amount (CP.1 MO.1), else FT1-10 quantity × FT1-12 unit amount."""
    total = ctx.text(ft1, 11, 1, 1)
    if total:
        value = maybe_number(total)
        if value is None:
            ctx.notes.add(f"FT1-11 amount {total!r} is not a number, left empty", ctx.where(ft1))
        return value
    quantity, unit = (
        maybe_number(ctx.text(ft1, 10) or ""),
        maybe_number(ctx.text(ft1, 12, 1, 1) or ""),
    )
    return quantity * unit if quantity is not None and unit is not None else None
