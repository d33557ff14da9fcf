"""One message → canonical rows: read its header, pick the converter, apply the profile's maps.

Which trigger events are converted is data (``codes.toml`` [messages], extended by a profile);
the converters are the small modules beside this one. Any other type is rejected as
``unsupported`` with its MSH-9, so no message ever disappears without a line in the rejects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from hutong.adapters.hl7v2.charges import write_charges
from hutong.adapters.hl7v2.context import Context, Rejected
from hutong.adapters.hl7v2.er7 import Message
from hutong.adapters.hl7v2.orders import write_orders
from hutong.adapters.hl7v2.patients import write_links
from hutong.adapters.hl7v2.pharmacy import write_pharmacy
from hutong.adapters.hl7v2.profile import Profile
from hutong.adapters.hl7v2.results import write_results
from hutong.adapters.hl7v2.tables import table
from hutong.adapters.hl7v2.values import Unreadable, maybe_number, timestamp
from hutong.adapters.hl7v2.versions import structure_note, version_of
from hutong.adapters.hl7v2.visits import write_visit
from hutong.model import SCHEMAS

CONVERTERS: dict[str, Callable[[Context, str], None]] = {
    "visit": write_visit,
    "merge": write_links,
    "results": write_results,
    "orders": write_orders,
    "charges": write_charges,
    "pharmacy": write_pharmacy,
}


@dataclass(frozen=True)
class Header:
    """What MSH says about a message: type, event, structure, version and sender."""

    type: str
    event: str
    structure: str
    version: str
    sender: str

    @property
    def name(self) -> str:
        return f"{self.type}^{self.event}" if self.event else self.type


def header(msg: Message) -> tuple[Header, list[str]]:
    """The message header and notes about it; raise :class:`Rejected` when MSH-9/12 are unusable."""
    msh = msg.msh
    kind, event, structure = (msh.value(9, i).strip().upper() for i in (1, 2, 3))
    if not kind:
        raise Rejected("malformed", "MSH-9 message type missing / 缺少消息类型", "MSH-9")
    if not event and kind == "ADT":
        evn = msg.first("EVN")
        event = evn.value(1).strip().upper() if evn else ""
    version, note = version_of(msh.value(12))
    notes = [note] if note else []
    known = structure_note(version, structure)
    if known:
        notes.append(known)
    sender = msh.value(3, 1).strip() or msh.value(3, 2).strip()
    return Header(kind, event, structure, version, sender), notes


def convert(ctx: Context, head: Header) -> None:
    """Write the rows of a supported message into ``ctx``; raise :class:`Rejected` otherwise."""
    # the profile's kinds extend (and override) the built-in ones
    kind = ctx.profile.messages.get(head.name) or table("messages", "kinds").get(head.name)
    if kind is None:
        raise Rejected(
            "unsupported",
            f"unsupported message type {head.name} / 不支持的消息类型",
            "MSH-9",
            head.name,
        )
    CONVERTERS[kind](ctx, head.event)
    apply_maps(ctx, ctx.profile, head)


def apply_maps(ctx: Context, profile: Profile, head: Header) -> None:
    """Profile maps: a non-empty mapped field sets its column on the message's rows of its table."""
    for m in profile.maps:
        rows = ctx.rows.get(m.table)
        if not rows or (m.sender and m.sender != head.sender):
            continue
        seg = ctx.msg.first(m.segment)
        value = seg.value(m.field, m.component, m.subcomponent).strip() if seg else ""
        if not value:
            continue
        typed = _typed(ctx, m.table, m.column, value, f"{m.segment}-{m.field}")
        for row in rows:
            row[m.column] = typed


def _typed(ctx: Context, table_name: str, column: str, value: str, where: str) -> object:
    kind = SCHEMAS[table_name].field(column).type
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        try:
            when, _ = timestamp(value, ctx.profile.datetime_formats)
        except Unreadable:
            ctx.notes.add(f"{where} mapped to {column}: not a date/time, left empty", ctx.record)
            return None
        return when.date() if pa.types.is_date(kind) else when
    if pa.types.is_floating(kind) or pa.types.is_integer(kind):
        number = maybe_number(value)
        if number is None:
            ctx.notes.add(f"{where} mapped to {column}: not a number, left empty", ctx.record)
            return None
        return int(number) if pa.types.is_integer(kind) else number
    return value
