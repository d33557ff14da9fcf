"""PID → patient rows, PID-3 identifiers → patient id, 病案号 and 身份证, MRG → patient links.

Every converted message that names a patient writes its PID as a patient row, because the
linking stage rejects clinical rows whose patient nobody sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from hutong.adapters.hl7v2.context import Context, Rejected, no_patient
from hutong.adapters.hl7v2.er7 import Segment
from hutong.adapters.hl7v2.tables import code, table
from hutong.adapters.hl7v2.values import address, gb11643, phone


@dataclass(frozen=True)
class Identifier:
    """One PID-3 repetition (CX): the number, its type (table 0203) and assigning authority."""

    value: str
    type: str
    authority: str

    @property
    def certificate(self) -> str | None:
        """证件类别 when this identifier is an ID document number (身份证 → 01)."""
        return _certificate_of(self.type, self.authority)


@lru_cache(maxsize=4096)  # a feed has a handful of identifier types and authorities
def _certificate_of(kind: str, authority: str) -> str | None:
    certs = table("identifier_types", "certificates")
    if kind.upper() in certs:
        return certs[kind.upper()]
    for word, cert in certs.items():  # an authority written out, e.g. 居民身份证
        if not word.isascii() and word in authority:
            return cert
    return None


def identifiers(pid: Segment) -> list[Identifier]:
    out = []
    for rep in range(1, len(pid.reps(3)) + 1):
        value = pid.value(3, 1, rep=rep).strip()
        if value:
            authority = pid.value(3, 4, 1, rep) or pid.value(3, 4, 2, rep)
            out.append(Identifier(value, pid.value(3, 5, rep=rep).strip(), authority.strip()))
    return out


def patient_id(ctx: Context, pid: Segment, ids: list[Identifier] | None = None) -> str:
    """The sender's patient id: a PID-3 of type MR/PI..., else the first that is no ID document,
    else PID-2 (the pre-2.5 external id) or PID-4, else an ID document number; reject when
    none. ``ids`` are the ``identifiers(pid)`` when the caller has them."""
    if ids is None:
        ids = identifiers(pid)
    preferred = table("identifier_types")["patient"]
    for kind in preferred:
        for ident in ids:
            if ident.type.upper() == kind:
                return ident.value
    for ident in ids:
        if ident.certificate is None:
            return ident.value
    for n in (2, 4):  # external id (pre-2.5), then the alternate patient id
        other = ctx.text(pid, n)
        if other:
            return other
    if ids:
        return ids[0].value
    raise Rejected("malformed", "PID-3 patient identifier missing / 缺少患者标识", "PID-3")


def write_patient(ctx: Context, pid: Segment) -> str:
    """Add the patient row of ``pid``; return its patient id."""
    ids = identifiers(pid)
    pid_value = patient_id(ctx, pid, ids)
    medcasno = next((i.value for i in ids if i.type.upper() == "MR"), None)
    cert_type, certno = _certificate(ids, ctx.text(pid, 19))
    sex = ctx.text(pid, 8)
    gend = code("sex", sex or "")
    if sex and gend is None:
        ctx.notes.add(f"PID-8 sex {sex!r} not in HL7 0001, gend left empty", ctx.where(pid))
    names = (ctx.person(pid, 5, r) for r in range(1, len(pid.reps(5)) + 1))
    addresses = [pid.components(11, r) for r in range(1, len(pid.reps(11)) + 1)]
    phones = [pid.components(13, r) for r in range(1, len(pid.reps(13)) + 1)]
    nk1 = ctx.msg.first("NK1")
    ctx.add(
        "patient",
        pid,
        patient_id=pid_value,
        medcasno=medcasno,
        name=next((n for n in names if n), None),
        gend=gend,
        gend_local=sex,
        brdy=ctx.date(pid, 7),
        patn_cert_type=cert_type,
        certno=certno,
        curr_addr=next((a for a in map(address, addresses) if a), None),
        poscode=next((a[4] for a in addresses if len(a) > 4 and a[4]), None),
        tel=phone(phones),
        coner_name=ctx.person(nk1, 2),
        coner_tel=phone([nk1.components(5)]) if nk1 else None,
    )
    return pid_value


def _certificate(ids: list[Identifier], ssn: str | None) -> tuple[str | None, str | None]:
    for ident in ids:
        kind = ident.certificate
        if kind is not None:
            return kind, ident.value
    if ssn and gb11643(ssn):  # PID-19 holds the 身份证 number in many Chinese HIS feeds
        return "01", ssn
    return None, None


def write_links(ctx: Context, event: str) -> None:
    """ADT^A40: each PID/MRG pair merges MRG-1 into PID-3 (a patient_link row)."""
    pids, mrgs = ctx.msg.all("PID"), ctx.msg.all("MRG")
    if not pids:
        raise no_patient()
    if not mrgs:
        raise Rejected("malformed", "MRG segment missing / 缺少 MRG 段", "MRG")
    evn = ctx.msg.first("EVN")
    when = ctx.when(evn, 2) or ctx.when(ctx.msg.msh, 7)
    for pid, mrg in zip(pids, mrgs, strict=False):
        survivor = write_patient(ctx, pid)
        merged = mrg.value(1).strip()
        if not merged:
            raise Rejected("malformed", "MRG-1 prior patient identifier missing", "MRG-1")
        if merged != survivor:
            ctx.add("patient_link", mrg, patient_id=survivor, merged_id=merged, linked_time=when)
