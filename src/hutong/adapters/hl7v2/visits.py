"""ADT messages → encounter, diagnosis and procedure rows (PV1/PV2, DG1, PR1).

A visit row needs its visit number (PV1-19, or where the profile says): without one, the
patient row is still written and the notes say why no encounter, diagnosis or procedure was.
"""

from __future__ import annotations

from hutong.adapters.hl7v2.context import Context
from hutong.adapters.hl7v2.er7 import Segment
from hutong.adapters.hl7v2.patients import write_patient
from hutong.adapters.hl7v2.tables import code
from hutong.adapters.hl7v2.values import integer

DISCHARGE_EVENTS = ("A03",)


def visit_number(ctx: Context, latest: dict[str, Segment] | None = None) -> str | None:
    """mdtrt_id: the first non-empty of the profile's visit fields (PV1-19 by default), read
    from the ``latest`` segments seen (a result message can hold several patients)."""
    for name, n in ctx.profile.visit_fields:
        seg = latest.get(name) if latest is not None else ctx.msg.first(name)
        value = ctx.text(seg, n)
        if value:
            return value
    return None


def write_visit(ctx: Context, event: str) -> None:
    """ADT A01/A03/A04/A08: patient, encounter, diagnoses and procedures."""
    pid = ctx.require(ctx.msg.first("PID"), "PID")
    patient_id = write_patient(ctx, pid)
    pv1 = ctx.msg.first("PV1")
    mdtrt_id = visit_number(ctx)
    if pv1 is None or mdtrt_id is None:
        rows = [s.name for s in ctx.msg.segments if s.name in ("PV1", "DG1", "PR1")]
        if rows:
            ctx.notes.add(
                "no visit number (PV1-19): patient only, no encounter/diagnosis/procedure rows",
                ctx.record,
            )
        return
    write_encounter(ctx, pv1, patient_id, mdtrt_id, event)
    write_diagnoses(ctx, mdtrt_id)
    write_procedures(ctx, mdtrt_id)


def write_encounter(ctx: Context, pv1: Segment, patient_id: str, mdtrt_id: str, event: str) -> None:
    klass = ctx.text(pv1, 2)
    enc_class = code("patient_class", klass or "")
    if klass and enc_class is None:
        ctx.notes.add(
            f"PV1-2 patient class {klass!r} not in HL7 0004, enc_class empty", ctx.where(pv1)
        )
    disposition = ctx.text(pv1, 36)
    service = ctx.text(pv1, 10) or ctx.text(pv1, 3)
    doctor_code, doctor_name = ctx.staff(pv1, 7)
    medcasno = next(
        (r["medcasno"] for r in ctx.rows["patient"] if r["patient_id"] == patient_id), None
    )
    ctx.add(
        "encounter",
        pv1,
        mdtrt_id=mdtrt_id,
        patient_id=patient_id,
        medcasno=medcasno,
        enc_class=enc_class,
        adm_time=ctx.when(pv1, 44),
        dscg_time=ctx.when(pv1, 45),
        adm_caty=service if event not in DISCHARGE_EVENTS else None,
        dscg_caty=service if event in DISCHARGE_EVENTS else None,
        dscg_way=code("discharge_disposition", (disposition or "").zfill(2)),
        dscg_way_local=disposition,
        chfpdr_code=doctor_code,
        chfpdr_name=doctor_name,
    )


def _seqs(ctx: Context, segs: list[Segment]) -> list[int]:
    """Set ids (field 1) as sequence numbers; the position when missing or repeated."""
    seqs: list[int] = []
    for i, seg in enumerate(segs, start=1):
        n = integer(seg.value(1))
        if n is None or n in seqs:
            n = i if i not in seqs else max(seqs) + 1
            ctx.notes.add(f"{seg.name}-1 set id missing or repeated, position used", ctx.where(seg))
        seqs.append(n)
    return seqs


def _main_flags(ctx: Context, segs: list[Segment], priority: int, seqs: list[int]) -> list[str]:
    """ "1" for the row whose priority field is 1; without priorities, for the lowest set id."""
    given = [seg.value(priority).strip() for seg in segs]
    if any(given):
        return ["1" if p == "1" else "0" for p in given]
    ctx.notes.add(
        f"no {segs[0].name}-{priority} priority: the first set id is the main one", ctx.record
    )
    first = min(seqs)
    return ["1" if s == first else "0" for s in seqs]


def write_diagnoses(ctx: Context, mdtrt_id: str) -> None:
    """DG1 → diagnosis rows: DG1-3 code/name (DG1-4 when no name), main from DG1-15."""
    segs = ctx.msg.all("DG1")
    if not segs:
        return
    seqs = _seqs(ctx, segs)
    for seg, seq, main in zip(segs, seqs, _main_flags(ctx, segs, 15, seqs), strict=True):
        term = seg.components(3)
        local_code = (term[0] if term else "") or None
        local_name = (term[1] if len(term) > 1 else "") or ctx.text(seg, 4)
        ctx.add(
            "diagnosis",
            seg,
            mdtrt_id=mdtrt_id,
            seq=seq,
            maindiag_flag=main,
            local_code=local_code,
            local_name=local_name,
            name=local_name,
        )


def write_procedures(ctx: Context, mdtrt_id: str) -> None:
    """PR1 → procedure rows: PR1-3 code/name, PR1-5 date, surgeon PR1-11, anaesthetist PR1-8."""
    segs = ctx.msg.all("PR1")
    if not segs:
        return
    seqs = _seqs(ctx, segs)
    for seg, seq, main in zip(segs, seqs, _main_flags(ctx, segs, 14, seqs), strict=True):
        term = seg.components(3)
        surgeon, anaesthetist = ctx.staff(seg, 11), ctx.staff(seg, 8)
        local_name = (term[1] if len(term) > 1 else "") or ctx.text(seg, 4)
        ctx.add(
            "procedure",
            seg,
            mdtrt_id=mdtrt_id,
            seq=seq,
            main_flag=main,
            local_code=(term[0] if term else "") or None,
            local_name=local_name,
            name=local_name,
            oprn_oprt_date=ctx.when(seg, 5),
            oper_dr_code=surgeon[0],
            oper_dr_name=surgeon[1],
            anst_dr_code=anaesthetist[0],
            anst_dr_name=anaesthetist[1],
        )
