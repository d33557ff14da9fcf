"""ORU^R01 / OUL^R22 → report rows (one per OBR) and observation rows (its OBXs).

Segments are walked in order: a PID opens a patient, an ORC the order it belongs to, an OBR a
report, and each OBX joins the last OBR. Ids are stable: report_id is the filler (else placer)
order number + "/" + OBR set id, observation_id that + "/" + OBX set id.
"""

from __future__ import annotations

from hutong.adapters.hl7v2.context import Context, Rejected, no_patient
from hutong.adapters.hl7v2.er7 import MAX_REPS, Segment
from hutong.adapters.hl7v2.orders import order_numbers
from hutong.adapters.hl7v2.patients import write_patient
from hutong.adapters.hl7v2.tables import code
from hutong.adapters.hl7v2.values import (
    CACHE_SIZE,
    coded,
    integer,
    maybe_number,
    ref_range,
    unit,
)
from hutong.adapters.hl7v2.visits import visit_number
from hutong.model import SCHEMAS

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
    fields = _plain(obx)
    if fields is None:
        _decoded_observation(ctx, obx, report)
        return
    # Nothing to decode: each value is the text between delimiters, cut out here without the
    # segment's readers (this runs for every result of a feed, a dozen per message).
    d = obx.syntax.delimiters
    comp, mark = d.component, d.repetition
    ordinal = report["ordinal"] = report["ordinal"] + 1
    raw = fields[1]
    setid = integer(raw.split(mark, 1)[0].split(comp, 1)[0]) if raw else None
    key = str(setid if setid is not None else ordinal)
    seen = report["observations"]
    if key in seen:
        key = f"{key}.{ordinal}"
    seen.add(key)
    test_key = (comp, mark, fields[2], fields[3], fields[6], fields[7])
    test = _TESTS.get(test_key)
    if test is None:
        test = _test(test_key)
    local_code, local_name, code_, code_system, map_status, name, vtype, unit_, ref, low, high = (
        test
    )
    raw = fields[8]
    if not raw:
        flag = None
    elif mark in raw:
        flags = [r.split(comp, 1)[0].strip() for r in obx.reps(8)]
        flag = "~".join(f for f in flags if f) or None
    else:
        flag = raw.split(comp, 1)[0].strip() or None
    raw = fields[11]
    status = raw.split(mark, 1)[0].split(comp, 1)[0].strip() if raw else None
    if status and status[:1] == "*":
        status = ctx.text(obx, 11)  # masked (***) or not: the general reading decides
    raw = fields[5]
    if raw:
        reps = raw.split(mark, MAX_REPS) if mark in raw else [raw]
        value_num, value_text, value_code, value_system = _value(
            ctx, obx, vtype, reps[:MAX_REPS], True
        )
    else:
        value_num = value_text = value_code = value_system = None
    raw = fields[14]
    text = raw.split(mark, 1)[0].split(comp, 1)[0].strip() if raw else ""
    if not text:
        when = None
    elif text[:1] == "*":
        when = ctx.when(obx, 14)  # masked (***) or not: the general reading decides
    else:
        when = ctx.moment(obx, 14, text)
    report_id = report["report_id"]
    values = (
        f"{report_id}/{key}",
        report["patient_id"],
        report["mdtrt_id"],
        report_id,
        setid if setid is not None else ordinal,
        local_code,
        local_name,
        code_,
        code_system,
        map_status,
        name,
        vtype or None,
        value_num,
        value_text,
        value_code,
        value_system,
        unit_,
        ref,
        low,
        high,
        flag,
        _result_status(status) if status else None,
        when or report["effective_time"],
        report["category_code"],
        ctx.source,
        f"{ctx.record}/OBX[{obx.number}]",
        ctx.vendor,
    )
    if ROW_TUPLES and "observation" not in ctx.mapped:
        ctx.ordered["observation"].append(values)  # the schema's column order
    else:  # where the decoding path's rows go too, so the table keeps the message's order
        ctx.keep("observation", obx, dict(zip(COLUMNS[:-3], values, strict=False)))


# The observation table's columns, in the order the fast path writes a row's values: while the
# canonical schema has them so, rows skip the dict (a profile that maps a field onto an
# observation column still gets dicts, which apply_maps sets).
COLUMNS = (
    "observation_id", "patient_id", "mdtrt_id", "report_id", "seq", "local_code", "local_name",
    "code", "code_system", "map_status", "name", "value_type", "value_num", "value_text",
    "value_code", "value_system", "unit", "ref_range", "ref_low", "ref_high", "abnormal_flag",
    "status", "effective_time", "category", "source", "locator", "vendor",
)  # fmt: skip
ROW_TUPLES = tuple(SCHEMAS["observation"].names) == COLUMNS


# What the test fields of a plain OBX (type, code, unit, range: OBX-2, -3, -6, -7) give. A feed
# repeats the same few hundred tests, so each distinct combination is read once; the key holds
# the delimiters, which a message may choose.
_TESTS: dict[tuple[str, ...], tuple] = {}
_STATUSES: dict[str, str] = {}


def _test(key: tuple[str, ...]) -> tuple:
    """Read and remember what the test fields of ``key`` give, as the segment readers would
    for a plain OBX."""
    comp, mark, vtype_raw, code_raw, unit_raw, ref_raw = key
    term = coded(code_raw.split(mark, 1)[0].split(comp) if code_raw else [])
    vtype = vtype_raw.split(mark, 1)[0].split(comp, 1)[0].strip().upper()
    ref = ref_raw.strip() or None
    low, high = ref_range(ref) if ref else (None, None)
    units = unit_raw.split(mark, 1)[0].split(comp) if unit_raw else []
    found = (
        term.local_code,
        term.local_name,
        term.code,
        term.code_system,
        "source" if term.code else None,
        term.text,
        vtype,
        unit(units),
        ref,
        low,
        high,
    )
    if len(_TESTS) >= CACHE_SIZE:
        _TESTS.clear()
    _TESTS[key] = found
    return found


def _result_status(status: str) -> str:
    """The canonical result status of an OBX-11 value (HL7 0085), ``unknown`` when unlisted."""
    found = _STATUSES.get(status)
    if found is None:
        found = code("result_status", status) or "unknown"
        if len(_STATUSES) < CACHE_SIZE:
            _STATUSES[status] = found
    return found


def _decoded_observation(ctx: Context, obx: Segment, report: dict) -> None:
    """An observation row read through the segment's decoding readers (escapes, subcomponents,
    nulls or truncation somewhere in the OBX)."""
    ordinal = report["ordinal"] = report["ordinal"] + 1
    setid = integer(obx.value(1))
    key = str(setid if setid is not None else ordinal)
    seen = report["observations"]
    if key in seen:
        key = f"{key}.{ordinal}"
    seen.add(key)
    term = coded(obx.components(3))
    vtype = obx.value(2).strip().upper()
    ref = obx.text(7).strip() or None
    flags = [f.strip() for f in obx.values(8)]
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
    (row["value_num"], row["value_text"], row["value_code"], row["value_system"]) = _value(
        ctx, obx, vtype, obx.reps(5), False
    )
    row["unit"] = unit(obx.components(6))
    row["ref_range"] = ref
    row["ref_low"] = low
    row["ref_high"] = high
    row["abnormal_flag"] = "~".join(f for f in flags if f) or None
    row["status"] = _result_status(status) if status else None
    row["effective_time"] = ctx.when(obx, 14) or report["effective_time"]
    row["category"] = report["category_code"]
    ctx.keep("observation", obx, row)


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


def _value(
    ctx: Context, obx: Segment, vtype: str, reps: list[str], plain: bool
) -> tuple[float | None, str | None, str | None, str | None]:
    """OBX-5 by its value type: (value_num, value_text, value_code, value_system). ``reps`` are
    OBX-5's raw repetitions; ``plain`` says they hold nothing to decode."""
    if not reps or not any(reps):
        return None, None, None, None
    if len(reps) > 1 and vtype in (*CODED, "SN"):
        ctx.notes.add(f"OBX-5 {vtype} repetitions after the first not converted", ctx.where(obx))
    if vtype in CODED:
        parts = reps[0].split(obx.syntax.delimiters.component) if plain else obx.components(5)
        said = (parts[1] if len(parts) > 1 else "") or (parts[8] if len(parts) > 8 else "")
        system = (parts[2] if len(parts) > 2 else "") or None
        return None, said or None, parts[0] or None, system
    if vtype == "SN":
        parts = reps[0].split(obx.syntax.delimiters.component) if plain else obx.components(5)
        parts = [*parts, "", "", "", ""][:4]
        comparator, first, separator = parts[:3]
        if comparator in ("", "=") and not separator and maybe_number(first) is not None:
            return maybe_number(first), None, None, None
        return None, "".join(parts).strip() or None, None, None
    texts = reps if plain else obx.texts(5)
    if vtype == "NM" and len(texts) == 1:
        number = maybe_number(texts[0])
        if number is not None:
            return number, None, None, None
        ctx.notes.add("OBX-5 of type NM is not a number, kept as text", ctx.where(obx))
        return None, texts[0].strip() or None, None, None
    if vtype in TIME_TYPES and len(texts) == 1:
        when, written = ctx.when(obx, 5), texts[0].strip()
        if when is None:
            return None, written or None, None, None
        said = when.date().isoformat() if len(written) <= 8 else when.isoformat()
        return None, said, None, None
    joined = "\n".join(texts) if vtype in TEXT_TYPES else "~".join(texts)
    return None, joined.strip() or None, None, None
