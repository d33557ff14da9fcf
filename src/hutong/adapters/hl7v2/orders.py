"""ORM^O01 / OML^O21 / OML^O33 → order rows: one per OBR (or per ORC that has none).

order_id is the placer order number (ORC-2, else OBR-2), else the filler's (ORC-3, else
OBR-3); status comes from ORC-5, else from the order control code ORC-1.
"""

from __future__ import annotations

from hutong.adapters.hl7v2.context import Context, Rejected, no_patient
from hutong.adapters.hl7v2.er7 import Segment
from hutong.adapters.hl7v2.patients import write_patient
from hutong.adapters.hl7v2.tables import code
from hutong.adapters.hl7v2.values import Coded, coded
from hutong.adapters.hl7v2.visits import visit_number

DETAILS = {"OBR": 4, "RXO": 1}  # order detail segments and the field holding what is ordered


def order_numbers(orc: Segment | None, detail: Segment | None) -> tuple[str | None, str | None]:
    """(placer, filler) order numbers (EI.1) of an order group."""

    def first(n: int) -> str | None:
        for seg in (orc, detail):
            if seg is not None and seg.name in ("ORC", "OBR"):
                value = seg.value(n).strip()
                if value:
                    return value
        return None

    return first(2), first(3)


def status_of(
    orc: Segment | None, table: str = "order_status", control: str = "order_control"
) -> str | None:
    """FHIR status from ORC-5 (order status), else ORC-1 (order control); unknown if unmapped."""
    if orc is None:
        return None
    for n, name in ((5, table), (1, control)):
        value = orc.value(n).strip()
        if value:
            return code(name, value) or "unknown"
    return None


def requester(ctx: Context, seg: Segment | None, n: int) -> str | None:
    """Who ordered: the XCN name, else its id."""
    ident, name = ctx.staff(seg, n)
    return name or ident


def write_orders(ctx: Context, event: str) -> None:
    """ORM/OML: patient, then one order per OBR (or per ORC without one)."""
    latest: dict[str, Segment] = {}
    patient: str | None = None
    orc: Segment | None = None
    timing: Segment | None = None
    used = True
    seen: set[str] = set()
    for seg in ctx.msg.segments:
        if seg.name in ("PID", "PV1"):
            latest[seg.name] = seg
            if seg.name == "PID":
                patient = write_patient(ctx, seg)
        elif seg.name == "ORC":
            if not used:
                _order(ctx, patient, latest, orc, None, timing, seen)
            orc, timing, used = seg, None, False
        elif seg.name == "TQ1" and timing is None:
            timing = seg
        elif seg.name in DETAILS:
            _order(ctx, patient, latest, orc, seg, timing, seen)
            used = True
    if not used:
        _order(ctx, patient, latest, orc, None, timing, seen)
    if patient is None:
        raise no_patient()
    if not seen:
        raise Rejected("malformed", "no ORC or OBR: an order message without an order", "ORC")


def _order(
    ctx: Context,
    patient: str | None,
    latest: dict[str, Segment],
    orc: Segment | None,
    detail: Segment | None,
    timing: Segment | None,
    seen: set[str],
) -> None:
    anchor = detail or orc
    if patient is None:
        raise Rejected("malformed", "order before any PID / 缺少 PID 段", "PID")
    placer, filler = order_numbers(orc, detail)
    order_id = placer or filler
    if order_id is None:
        raise Rejected(
            "malformed", "no placer or filler order number (ORC-2/OBR-2, ORC-3/OBR-3)", "ORC-2"
        )
    if order_id in seen:
        ctx.notes.add("order number repeated in one message: /n appended", ctx.where(anchor))
        order_id = f"{order_id}/{len(seen) + 1}"
    seen.add(order_id)
    term = (
        coded(detail.components(DETAILS[detail.name]))
        if detail
        else Coded(None, None, None, None, None)
    )
    obr = detail if detail is not None and detail.name == "OBR" else None
    priority = ctx.text(timing, 9) or ctx.text(obr, 27, 6)
    ctx.add(
        "order",
        anchor,
        order_id=order_id,
        patient_id=patient,
        mdtrt_id=visit_number(ctx, latest),
        local_code=term.local_code,
        local_name=term.local_name,
        code=term.code,
        code_system=term.code_system,
        map_status="source" if term.code else None,
        name=term.text,
        status=status_of(orc),
        priority=code("priority", priority or ""),
        ordered_time=ctx.when(orc, 9) or ctx.when(obr, 6),
        requester=requester(ctx, orc, 12) or requester(ctx, obr, 16),
    )
