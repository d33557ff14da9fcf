"""ORU^R01 / OUL^R22 → report rows (one per OBR) and observation rows (its OBXs).

Segments are walked in order: a PID opens a patient, an ORC the order it belongs to, an OBR a
report, and each OBX joins the last OBR. Ids are stable: report_id is the filler (else placer)
order number + "/" + OBR set id, observation_id that + "/" + OBX set id.
"""

from __future__ import annotations

from hutong.adapters.hl7v2.context import Context, Rejected, no_patient
from hutong.adapters.hl7v2.er7 import Segment
from hutong.adapters.hl7v2.orders import order_numbers
from hutong.adapters.hl7v2.patients import write_patient
from hutong.adapters.hl7v2.tables import code
from hutong.adapters.hl7v2.values import coded, integer, maybe_number, ref_range, unit
from hutong.adapters.hl7v2.visits import visit_number

CODED = ("CE", "CWE", "CNE", "CF")
TEXT_TYPES = ("ST", "TX", "FT")
TIME_TYPES = ("DT", "TS", "DTM")


def write_results(ctx: Context, event: str) -> None:
    """ORU/OUL: patient, then one report per OBR and one observation per OBX."""
    latest: dict[str, Segment] = {}
    patient: str | None = None
    report: dict | None = None
    orc: Segment | None = None
    reports: set[str] = set()
    ordinal = 0
    for seg in ctx.msg.segments:
        if seg.name in ("PID", "PV1"):
            latest[seg.name] = seg
            if seg.name == "PID":
                patient, orc, report = write_patient(ctx, seg), None, None
        elif seg.name == "ORC":
            orc = seg
        elif seg.name == "OBR":
            if patient is None:
                raise Rejected("malformed", "OBR before any PID / 缺少 PID 段", "PID")
            ordinal += 1
            report = _report(ctx, seg, orc, patient, visit_number(ctx, latest), ordinal, reports)
        elif seg.name == "OBX":
            if report is None:
                topic = "OBX outside any OBR (patient-level observation) not converted"
                ctx.notes.add(topic, ctx.where(seg))
                continue
            _observation(ctx, seg, report)
    if patient is None:
        raise no_patient()
    if not reports:
        raise Rejected("malformed", "no OBR: a result message without a report", "OBR")


def _report(
    ctx: Context,
    obr: Segment,
    orc: Segment | None,
    patient: str,
    mdtrt_id: str | None,
    ordinal: int,
    seen: set[str],
) -> dict:
    placer, filler = order_numbers(orc, obr)
    base = filler or placer
    if base is None:
        base = ctx.text(ctx.msg.msh, 10)
        if base is None:
            raise Rejected("malformed", "no order number (OBR-3/OBR-2) nor MSH-10", "OBR-3")
        ctx.notes.add("no OBR-3/OBR-2 order number: report id from MSH-10", ctx.where(obr))
    setid = integer(obr.value(1))
    report_id = f"{base}/{setid if setid is not None else ordinal}"
    if report_id in seen:
        report_id = (
            f"{base}/{ordinal}" if f"{base}/{ordinal}" not in seen else f"{report_id}.{ordinal}"
        )
    seen.add(report_id)
    term = coded(obr.components(4))
    section = ctx.text(obr, 24)
    status = ctx.text(obr, 25)
    row = ctx.add(
        "report",
        obr,
        report_id=report_id,
        patient_id=patient,
        mdtrt_id=mdtrt_id,
        order_id=placer or filler,
        local_code=term.local_code,
        local_name=term.local_name,
        code=term.code,
        code_system=term.code_system,
        map_status="source" if term.code else None,
        name=term.text,
        category=section,
        status=(code("report_status", status) or "unknown") if status else None,
        effective_time=ctx.when(obr, 7),
        issued_time=ctx.when(obr, 22),
    )
    return {
        **row,
        "observations": set(),
        "ordinal": 0,
        "category_code": code("diagnostic_section", section or ""),
    }


def _observation(ctx: Context, obx: Segment, report: dict) -> None:
    ordinal = report["ordinal"] = report["ordinal"] + 1
    setid = integer(obx.value(1))
    key = str(setid if setid is not None else ordinal)
    seen = report["observations"]
    if key in seen:
        key = f"{key}.{ordinal}"
    seen.add(key)
    fields = _plain(obx)
    if fields is not None:  # nothing to decode: each value is the text between delimiters
        comp, mark = obx.syntax.delimiters.component, obx.syntax.delimiters.repetition
        term = coded(fields[3].split(mark, 1)[0].split(comp) if fields[3] else [])
        vtype = fields[2].split(mark, 1)[0].split(comp, 1)[0].strip().upper()
        ref = fields[7].strip() or None
        flags = [r.split(comp, 1)[0].strip() for r in obx.reps(8)]
        units = fields[6].split(mark, 1)[0].split(comp) if fields[6] else []
    else:
        term = coded(obx.components(3))
        vtype = obx.value(2).strip().upper()
        ref = obx.text(7).strip() or None
        flags = [f.strip() for f in obx.values(8)]
        units = None
    low, high = ref_range(ref) if ref else (None, None)
    status = ctx.text(obx, 11)
    report_id = report["report_id"]
    row = {
        "observation_id": f"{report_id}/{key}",
        "patient_id": report["patient_id"],
        "mdtrt_id": report["mdtrt_id"],
        "report_id": report_id,
        "seq": setid if setid is not None else ordinal,
        "local_code": term.local_code,
        "local_name": term.local_name,
        "code": term.code,
        "code_system": term.code_system,
        "map_status": "source" if term.code else None,
        "name": term.text,
        "value_type": vtype or None,
    }
    _value(ctx, obx, vtype, row)
    row["unit"] = unit(obx.components(6) if units is None else units)
    row["ref_range"] = ref
    row["ref_low"] = low
    row["ref_high"] = high
    row["abnormal_flag"] = "~".join(f for f in flags if f) or None
    row["status"] = (code("result_status", status) or "unknown") if status else None
    row["effective_time"] = ctx.when(obx, 14) or report["effective_time"]
    row["category"] = report["category_code"]
    ctx.put("observation", obx, row)


def _plain(seg: Segment) -> list[str] | None:
    """The fields of a segment with no escape, subcomponent, null or truncation mark, padded to
    OBX-14; None when any value needs decoding (then the segment's own readers decode it)."""
    d = seg.syntax.delimiters
    fields = seg.fields
    if d.truncation:
        return None
    line = d.field.join(fields)
    if d.escape in line or d.subcomponent in line or '""' in line:
        return None
    return fields if len(fields) > 14 else fields + [""] * (15 - len(fields))


def _value(ctx: Context, obx: Segment, vtype: str, out: dict) -> None:
    """OBX-5 by its value type into ``out``: value_num, value_text, value_code, value_system."""
    out["value_num"] = out["value_text"] = out["value_code"] = out["value_system"] = None
    reps = obx.reps(5)
    if not reps or not any(reps):
        return
    if len(reps) > 1 and vtype in (*CODED, "SN"):
        ctx.notes.add(f"OBX-5 {vtype} repetitions after the first not converted", ctx.where(obx))
    if vtype in CODED:
        parts = obx.components(5)
        out["value_code"] = parts[0] or None
        out["value_text"] = (
            (parts[1] if len(parts) > 1 else "") or (parts[8] if len(parts) > 8 else "") or None
        )
        out["value_system"] = (parts[2] if len(parts) > 2 else "") or None
        return
    if vtype == "SN":
        parts = [*obx.components(5), "", "", "", ""][:4]
        comparator, first, separator = parts[:3]
        if comparator in ("", "=") and not separator and maybe_number(first) is not None:
            out["value_num"] = maybe_number(first)
        else:
            out["value_text"] = "".join(parts).strip() or None
        return
    texts = obx.texts(5)
    if vtype == "NM" and len(texts) == 1:
        out["value_num"] = maybe_number(texts[0])
        if out["value_num"] is None:
            out["value_text"] = texts[0].strip() or None
            ctx.notes.add("OBX-5 of type NM is not a number, kept as text", ctx.where(obx))
        return
    if vtype in TIME_TYPES and len(texts) == 1:
        when, written = ctx.when(obx, 5), texts[0].strip()
        if when is None:
            out["value_text"] = written or None
        else:
            out["value_text"] = when.date().isoformat() if len(written) <= 8 else when.isoformat()
        return
    joined = "\n".join(texts) if vtype in TEXT_TYPES else "~".join(texts)
    out["value_text"] = joined.strip() or None
