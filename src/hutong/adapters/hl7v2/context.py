"""What converting one message needs: its rows by table, typed readers that note what they
could not read, and the reject a converter raises when the message cannot be represented."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from hutong.adapters.hl7v2.er7 import Message, Segment
from hutong.adapters.hl7v2.profile import Profile
from hutong.adapters.hl7v2.values import (
    CACHE_SIZE,
    Unreadable,
    masked,
    person_name,
    timestamp,
)
from hutong.model import SCHEMAS


class Rejected(Exception):
    """The message cannot be converted; becomes a :class:`~hutong.model.Reject`."""

    def __init__(
        self, reason: str, message: str, field: str | None = None, value: str | None = None
    ):
        super().__init__(message)
        self.reason = reason
        self.field = field
        self.value = value


def no_patient() -> Rejected:
    """The reject of a message that names no patient (every converted message needs its PID)."""
    return Rejected("malformed", "PID segment missing / 缺少 PID 段", "PID")


class Notes:
    """Batch notes counted by topic, each with its first example, so a million messages with the
    same quirk make one line, not a million."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.first: dict[str, str] = {}

    def add(self, topic: str, where: str = "") -> None:
        self.counts[topic] = self.counts.get(topic, 0) + 1
        self.first.setdefault(topic, where)

    def lines(self) -> list[str]:
        out = []
        for topic, n in self.counts.items():
            where = self.first[topic]
            times = f"{n}×" if n > 1 else "once"
            out.append(f"{topic} ({times}{', first ' + where if where else ''})")
        return out


_UNSEEN = object()
_NONE: frozenset[str] = frozenset()
_TIMES: dict[tuple[str, ...], dict[str, tuple[dt.datetime, str | None] | None]] = {}


def _times_of(formats: tuple[str, ...]) -> dict[str, tuple[dt.datetime, str | None] | None]:
    """The timestamps read so far with ``formats`` (None for an unreadable text)."""
    found = _TIMES.get(formats)
    if found is None:
        found = _TIMES[formats] = {}
    return found


class Context:
    """One message being converted: provenance, profile, notes and the rows produced."""

    def __init__(
        self, msg: Message, source: str, record: str, vendor: str, profile: Profile, notes: Notes
    ):
        self.msg = msg
        self.source = source
        self.record = record
        self.vendor = vendor
        self.profile = profile
        self.notes = notes
        self.rows: dict[str, list[dict]] = defaultdict(list)
        # rows already as values in their table's schema column order, for tables no profile
        # map sets a column of (``mapped``); a table's rows are all here or all in ``rows``
        self.ordered: dict[str, list[tuple]] = defaultdict(list)
        self.mapped = {m.table for m in profile.maps} if profile.maps else _NONE
        # TS values already read with this profile's formats: OBR-7 and every OBX-14 of a
        # message are often the same text, and a feed's messages share their times too
        self._times = _times_of(profile.datetime_formats)

    def where(self, seg: Segment | None) -> str:
        return f"{self.record}/{seg.label}" if seg is not None else self.record

    def add(self, table: str, seg: Segment | None, **values: object) -> dict:
        """A canonical row of ``table`` from ``seg``, with its provenance."""
        row = {**values, "source": self.source, "locator": self.where(seg), "vendor": self.vendor}
        self.rows[table].append(row)
        return row

    def keep(self, table: str, seg: Segment | None, row: dict) -> None:
        """:meth:`add` of a row the caller built: as values in schema order (:attr:`ordered`)
        unless a profile map sets a column of ``table``."""
        row["source"] = self.source
        row["locator"] = (
            f"{self.record}/{seg.name}[{seg.number}]" if seg is not None else self.record
        )
        row["vendor"] = self.vendor
        if table in self.mapped:
            self.rows[table].append(row)
        else:
            self.ordered[table].append(tuple(map(row.get, SCHEMAS[table].names)))

    def text(self, seg: Segment | None, n: int, comp: int = 1, sub: int = 1) -> str | None:
        """A decoded value, None when empty or masked (``***``)."""
        if seg is None:
            return None
        value = seg.value(n, comp, sub).strip()
        if value[:1] == "*" and masked(value):
            self.notes.add(f"{seg.name}-{n}: masked value (***) read as empty", self.where(seg))
            return None
        return value or None

    def when(self, seg: Segment | None, n: int, comp: int = 1) -> dt.datetime | None:
        """A TS/DTM as the wall time written; an offset or an unreadable value goes to the notes."""
        text = self.text(seg, n, comp)
        if text is None:
            return None
        assert seg is not None
        return self.moment(seg, n, text)

    def moment(self, seg: Segment, n: int, text: str) -> dt.datetime | None:
        """:meth:`when` of the non-empty text ``text`` already read from field ``n`` of ``seg``."""
        known = self._times.get(text, _UNSEEN)
        if known is _UNSEEN:
            try:
                known = timestamp(text, self.profile.datetime_formats)
            except Unreadable:
                known = None
            if len(self._times) >= CACHE_SIZE:
                self._times.clear()
            self._times[text] = known
        if known is None:
            self.notes.add(
                f"{seg.name}-{n}: not an HL7 date/time, left empty ({text[:40]!r})", self.where(seg)
            )
            return None
        value, offset = known
        if offset:
            self.notes.add(
                f"UTC offset {offset} dropped, local time kept as written", self.where(seg)
            )
        elif not text[:1].isdigit():
            self.notes.add(
                f"{seg.name}-{n}: {text!r} read with a profile date format", self.where(seg)
            )
        return value

    def date(self, seg: Segment | None, n: int, comp: int = 1) -> dt.date | None:
        value = self.when(seg, n, comp)
        return value.date() if value is not None else None

    def person(self, seg: Segment | None, n: int, rep: int = 1, first: int = 1) -> str | None:
        """An XPN name (``first=1``), or the name in an XCN (``first=2``), as one string; the
        family name is its first subcomponent (v2.5+ splits it into surname and prefixes)."""
        if seg is None:
            return None
        parts = [seg.value(n, first + i, 1, rep) for i in range(4)]
        return person_name(parts)

    def staff(self, seg: Segment | None, n: int) -> tuple[str | None, str | None]:
        """(id, name) of an XCN (a doctor); the id alone when no name is given."""
        if seg is None:
            return None, None
        return seg.value(n, 1).strip() or None, self.person(seg, n, first=2)

    def require(self, seg: Segment | None, name: str) -> Segment:
        if seg is None:
            raise Rejected("malformed", f"{name} segment missing / 缺少 {name} 段", name)
        return seg
