"""RDE^O11 → medication rows: one per RXE (the pharmacy's encoded give order).

med_id is the order number of the RXE's ORC (placer, else filler), with "/n" when one order
holds several RXE. Dose is RXE-3 in RXE-5 units, the route RXR-1, timing TQ1 (else RXE-1).
"""

from __future__ import annotations

from hutong.adapters.hl7v2.context import Context, Rejected, no_patient
from hutong.adapters.hl7v2.er7 import Segment
from hutong.adapters.hl7v2.orders import order_numbers, status_of
from hutong.adapters.hl7v2.patients import write_patient
from hutong.adapters.hl7v2.values import coded, maybe_number, unit
from hutong.adapters.hl7v2.visits import visit_number


def write_pharmacy(ctx: Context, event: str) -> None:
    """RDE: patient, then one medication row per RXE."""
    latest: dict[str, Segment] = {}
    patient: str | None = None
    orc: Segment | None = None
    timing: Segment | None = None
    row: dict | None = None
    per_order = 0
    ids: set[str] = set()
    for seg in ctx.msg.segments:
        if seg.name in ("PID", "PV1"):
            latest[seg.name] = seg
            if seg.name == "PID":
                patient = write_patient(ctx, seg)
        elif seg.name == "ORC":
            orc, timing, row, per_order = seg, None, None, 0
        elif seg.name == "TQ1" and timing is None:
            timing = seg
            if row is not None:
                _timing(ctx, row, seg, 3, 7, 8)
        elif seg.name == "RXR" and row is not None and row["route"] is None:
            parts = seg.components(1)
            row["route"] = (
                (parts[0] if parts else "") or (parts[1] if len(parts) > 1 else "") or None
            )
        elif seg.name == "RXE":
            if patient is None:
                raise Rejected("malformed", "RXE before any PID / 缺少 PID 段", "PID")
            placer, filler = order_numbers(orc, None)
            order_id = placer or filler
            if order_id is None:
                raise Rejected(
                    "malformed", "RXE without an ORC order number (ORC-2/ORC-3)", "ORC-2"
                )
            per_order += 1
            med_id = order_id if per_order == 1 else f"{order_id}/{per_order}"
            if med_id in ids:
                med_id = f"{med_id}/{len(ids) + 1}"
            ids.add(med_id)
            row = _medication(ctx, seg, orc, patient, visit_number(ctx, latest), order_id, med_id)
            if timing is not None:
                _timing(ctx, row, timing, 3, 7, 8)
            else:
                _timing(ctx, row, seg, 1, 1, 1, legacy=True)
    if patient is None:
        raise no_patient()
    if not ids:
        raise Rejected("malformed", "no RXE: a pharmacy order without a give order", "RXE")


def _medication(
    ctx: Context,
    rxe: Segment,
    orc: Segment | None,
    patient: str,
    mdtrt_id: str | None,
    order_id: str,
    med_id: str,
) -> dict:
    term = coded(rxe.components(2))
    dose = ctx.text(rxe, 3)
    if dose and maybe_number(dose) is None:
        ctx.notes.add(
            f"RXE-3 give amount {dose!r} is not a number, dose left empty", ctx.where(rxe)
        )
    return ctx.add(
        "medication",
        rxe,
        med_id=med_id,
        patient_id=patient,
        mdtrt_id=mdtrt_id,
        order_id=order_id,
        local_code=term.local_code,
        local_name=term.local_name,
        code=term.code,
        code_system=term.code_system,
        map_status="source" if term.code else None,
        name=term.text,
        dose=maybe_number(dose) if dose else None,
        dose_unit=unit(rxe.components(5)),
        route=None,
        frequency=None,
        start_time=None,
        end_time=None,
        status=status_of(orc, "medication_status", "medication_status"),
    )


def _timing(
    ctx: Context, row: dict, seg: Segment, freq: int, start: int, end: int, legacy: bool = False
) -> None:
    """Frequency and start/end from TQ1-3/7/8, or from the TQ components of RXE-1 (v2.5)."""
    if legacy:  # RXE-1 TQ: quantity ^ interval ^ duration ^ start ^ end
        row["frequency"] = row["frequency"] or ctx.text(seg, 1, 2)
        row["start_time"] = row["start_time"] or ctx.when(seg, 1, 4)
        row["end_time"] = row["end_time"] or ctx.when(seg, 1, 5)
        return
    row["frequency"] = row["frequency"] or ctx.text(seg, freq)
    row["start_time"] = row["start_time"] or ctx.when(seg, start)
    row["end_time"] = row["end_time"] or ctx.when(seg, end)
