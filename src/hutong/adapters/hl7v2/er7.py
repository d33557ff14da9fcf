"""The fast ER7 reader: a message as lists of strings, split lazily and decoded on access.

hl7apy builds a validated object tree per message (16–43 messages/s here); a feed of millions
of lab results needs plain string splits. A segment keeps its fields as the raw text between
field separators; repetitions, components and subcomponents are split only when a value is
asked for, and escape sequences are decoded last (delimiters inside data are escaped, so the
standard has us split before decoding).

>>> msg = parse(["MSH|^~\\\\&|LIS|H||X|20250101||ORU^R01|1|P|2.5", "PID|1||42^^^H^MR||王^小明"])
>>> msg.first("PID").value(5, 1) + msg.first("PID").value(5, 2)
'王小明'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

NAME = re.compile(r"[A-Z][A-Z0-9]{2}\Z")
MAX_FIELDS = 10_000  # per segment; the biggest standard segment has fewer than 100
MAX_REPS = 1_000  # repetitions read from one field; more are ignored


class Malformed(ValueError):
    """A message that breaks ER7 syntax; ``field`` names where (``MSH-2``, ``PID``)."""

    def __init__(self, message: str, field: str | None = None, value: str | None = None):
        super().__init__(message)
        self.field = field
        self.value = value


@dataclass(frozen=True)
class Delimiters:
    """The five separators of a message and its escape character, from MSH-1 and MSH-2."""

    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"
    truncation: str = ""  # v2.7 truncation character (usually #); empty when not declared

    @classmethod
    def from_msh(cls, line: str) -> tuple[Delimiters, str | None]:
        """Delimiters of an MSH (or FHS/BHS) line, and a note when MSH-2 had to be repaired."""
        if len(line) < 4:
            raise Malformed("MSH has no field separator", "MSH-1")
        sep = line[3]
        if sep.isalnum() or sep.isspace():
            raise Malformed(f"MSH-1 field separator {sep!r} is not a delimiter", "MSH-1", sep)
        chars = line[4:].split(sep, 1)[0]
        note = None
        unique = "".join(dict.fromkeys(chars))
        if unique != chars and len(unique) >= 4:
            note = f"MSH-2 {chars!r} repeats a delimiter; read as {unique!r}"
            chars = unique
        if len(chars) < 4 or len(chars) > 5:
            raise Malformed(
                f"MSH-2 needs 4 or 5 encoding characters, found {chars!r}", "MSH-2", chars
            )
        if len(set(chars)) != len(chars) or sep in chars:
            raise Malformed(f"MSH-2 encoding characters {chars!r} repeat", "MSH-2", chars)
        if any(c.isalnum() or c.isspace() for c in chars):
            raise Malformed(
                f"MSH-2 encoding characters {chars!r} are not delimiters", "MSH-2", chars
            )
        trunc = chars[4] if len(chars) == 5 else ""
        return cls(sep, chars[0], chars[1], chars[2], chars[3], trunc), note


@dataclass
class Syntax:
    """What every segment of one message shares: delimiters, charset, and what decoding found."""

    delimiters: Delimiters
    codec: str = "utf-8"
    truncated: set[str] = field(default_factory=set)  # fields whose value the sender truncated


class Segment:
    """One segment: ``fields[n]`` is the raw text of field n (for MSH, n is the MSH field number
    too: ``fields[1]`` is the field separator, ``fields[2]`` the encoding characters)."""

    __slots__ = ("_reps", "fields", "name", "number", "syntax")

    def __init__(self, name: str, fields: list[str], syntax: Syntax, number: int):
        self.name = name
        self.fields = fields
        self.syntax = syntax
        self.number = number  # occurrence of this segment name in the message, from 1
        self._reps: dict[int, list[str]] = {}

    @property
    def label(self) -> str:
        """``OBX[2]``: the segment's part of a row locator."""
        return f"{self.name}[{self.number}]"

    def raw(self, n: int) -> str:
        """Field ``n`` as written (escapes and delimiters untouched); ``""`` when absent."""
        return self.fields[n] if 0 < n < len(self.fields) else ""

    def reps(self, n: int) -> list[str]:
        """Raw repetitions of field ``n`` (MSH-2 is never split)."""
        cached = self._reps.get(n)
        if cached is None:
            fields = self.fields
            raw = fields[n] if 0 < n < len(fields) else ""
            if not raw:
                cached = []
            elif self.name == "MSH" and n <= 2:
                cached = [raw]
            else:
                mark = self.syntax.delimiters.repetition
                cached = raw.split(mark, MAX_REPS) if mark in raw else [raw]
                if len(cached) > MAX_REPS:
                    del cached[MAX_REPS:]
            self._reps[n] = cached
        return cached

    def _repetition(self, n: int, rep: int) -> str | None:
        """Raw text of repetition ``rep`` of field ``n``; None when the field is empty or has
        no such repetition. The first is cut out without splitting or keeping the others."""
        if rep == 1:
            fields = self.fields
            raw = fields[n] if 0 < n < len(fields) else ""
            if not raw:
                return None
            d = self.syntax.delimiters
            if d.repetition in raw and (n > 2 or self.name != "MSH"):
                raw = raw.split(d.repetition, 1)[0]
            return raw
        reps = self._reps.get(n)
        if reps is None:
            reps = self.reps(n)
        return reps[rep - 1] if rep <= len(reps) else None

    def value(self, n: int, comp: int = 1, sub: int = 1, rep: int = 1) -> str:
        """Decoded text of field ``n``, component ``comp``, subcomponent ``sub``, repetition
        ``rep`` (all from 1); ``""`` when absent or sent as the null ``""``."""
        d = self.syntax.delimiters
        raw = self._repetition(n, rep)
        if raw is None:
            return ""
        if sub == 1 and not d.truncation and d.escape not in raw and d.subcomponent not in raw:
            # leaf() of a value with nothing to decode, without its calls
            if comp == 1:
                part = raw.split(d.component, 1)[0]
            else:
                parts = raw.split(d.component, comp)
                part = parts[comp - 1] if comp <= len(parts) else ""
            return "" if part == '""' else part
        return leaf(raw, self.syntax, comp, sub, f"{self.name}-{n}")

    def values(self, n: int, comp: int = 1) -> list[str]:
        """``value(n, comp, 1, rep)`` of every repetition of field ``n``, in order."""
        count = len(self.reps(n))
        if count == 1:
            return [self.value(n, comp)]
        return [self.value(n, comp, 1, rep) for rep in range(1, count + 1)]

    def components(self, n: int, rep: int = 1) -> list[str]:
        """Decoded components of one repetition of field ``n`` (subcomponents joined by a space)."""
        d = self.syntax.delimiters
        raw = self._repetition(n, rep)
        if raw is None:
            return []
        if _plain(raw, d):  # the common case: nothing to decode, one split
            return raw.split(d.component)
        return components(raw, self.syntax, f"{self.name}-{n}")

    def texts(self, n: int) -> list[str]:
        """Each repetition of field ``n`` decoded as text, other delimiters kept (TX, FT)."""
        reps = self.reps(n)
        d = self.syntax.delimiters
        if not d.truncation and not any(d.escape in r for r in reps):
            return list(reps)  # nothing to decode
        where = f"{self.name}-{n}"
        return [unescape(_untruncated(r, self.syntax, where), self.syntax) for r in reps]

    def text(self, n: int) -> str:
        """The whole field ``n`` decoded as text, delimiters kept (ST, TX and FT values)."""
        raw = self.raw(n)
        if self.name == "MSH" and n <= 2:
            return raw
        d = self.syntax.delimiters
        if not d.truncation and d.escape not in raw:
            return raw  # nothing to decode
        return unescape(_untruncated(raw, self.syntax, f"{self.name}-{n}"), self.syntax)


class Message:
    """A parsed message: its segments in order, with lookups by segment name."""

    __slots__ = ("notes", "segments", "syntax")

    def __init__(self, segments: list[Segment], syntax: Syntax, notes: list[str]):
        self.segments = segments
        self.syntax = syntax
        self.notes = notes

    def first(self, name: str) -> Segment | None:
        for seg in self.segments:
            if seg.name == name:
                return seg
        return None

    def all(self, name: str) -> list[Segment]:
        return [seg for seg in self.segments if seg.name == name]

    @property
    def msh(self) -> Segment:
        return self.segments[0]


def parse(lines: list[str], codec: str = "utf-8") -> Message:
    """Parse the segment lines of one message (the first must be MSH); raise :class:`Malformed`."""
    if not lines or not lines[0].startswith("MSH"):
        raise Malformed("message does not start with MSH", "MSH")
    delims, note = Delimiters.from_msh(lines[0])
    syntax = Syntax(delims, codec)
    sep = delims.field
    counts: dict[str, int] = {}
    segments = []
    append = segments.append
    names = _NAMES
    limit = MAX_FIELDS + 1  # a split bounded like the field count it checks
    for i, line in enumerate(lines):
        fields = line.split(sep, limit)
        name = fields[0]  # the whole segment name exactly when the line is NAME + separator
        if name not in names:
            if len(name) != 3 or not NAME.match(name):
                shown = line[:40]
                raise Malformed(
                    f"segment {i + 1} is not an HL7 segment: {shown!r}", f"segment {i + 1}"
                )
            names.add(name)  # at most 26 × 36 × 36 names, so the set stays small
        if len(fields) > limit:
            raise Malformed(f"{name} has more than {MAX_FIELDS} fields", name)
        if i == 0:
            fields.insert(1, sep)
        elif name == "MSH":
            raise Malformed(f"second MSH at segment {i + 1}", "MSH")
        number = counts[name] = counts.get(name, 0) + 1
        append(Segment(name, fields, syntax, number))
    return Message(segments, syntax, [note] if note else [])


_NAMES: set[str] = set()  # segment names already checked against NAME


def components(raw: str, syntax: Syntax, where: str) -> list[str]:
    d = syntax.delimiters
    if _plain(raw, d):  # the common case: nothing to decode, one split
        return raw.split(d.component)
    out = []
    for comp in raw.split(d.component):
        subs = comp.split(d.subcomponent)
        out.append(" ".join(s for s in (_clean(x, syntax, where) for x in subs) if s))
    return out


def leaf(raw: str, syntax: Syntax, comp: int = 1, sub: int = 1, where: str = "") -> str:
    """One decoded component/subcomponent of a raw repetition."""
    d = syntax.delimiters
    parts = raw.split(d.component, comp)
    if comp > len(parts):
        return ""
    part = parts[comp - 1]
    if d.subcomponent in part:
        subs = part.split(d.subcomponent, sub)
        if sub > len(subs):
            return ""
        part = subs[sub - 1]
    elif sub > 1:
        return ""
    return _clean(part, syntax, where)


def _plain(raw: str, d: Delimiters) -> bool:
    """No subcomponent, escape, null or truncation mark: the text is its own value."""
    return (
        d.subcomponent not in raw
        and d.escape not in raw
        and '""' not in raw
        and not (d.truncation and d.truncation in raw)
    )


def _clean(part: str, syntax: Syntax, where: str) -> str:
    if part == '""':
        return ""
    d = syntax.delimiters
    if d.truncation and part.endswith(d.truncation):
        part = _untruncated(part, syntax, where)
    return unescape(part, syntax) if d.escape in part else part


def _untruncated(part: str, syntax: Syntax, where: str) -> str:
    trunc = syntax.delimiters.truncation
    if trunc and part.endswith(trunc):
        syntax.truncated.add(where)
        return part[: -len(trunc)]
    return part


# Escape sequences (v2.5 ch. 2.7): delimiters, formatting commands, hex data, charset switches.
_SIMPLE = {"F": "field", "S": "component", "T": "subcomponent", "R": "repetition", "E": "escape"}
_FORMAT = {".br": "\n", ".sp": "\n", ".ce": "\n", ".fi": "", ".nf": "", "H": "", "N": ""}
_PATTERNS: dict[str, re.Pattern[str]] = {}


def unescape(text: str, syntax: Syntax) -> str:
    """Decode escape sequences; an unknown or unterminated one is kept as written."""
    esc = syntax.delimiters.escape
    if not esc or esc not in text:
        return text
    pattern = _PATTERNS.get(esc)
    if pattern is None:
        e = re.escape(esc)
        pattern = _PATTERNS[esc] = re.compile(f"{e}([^{e}]{{1,64}}){e}")
    return pattern.sub(lambda m: _sequence(m, syntax), text)


def _sequence(match: re.Match[str], syntax: Syntax) -> str:
    body = match.group(1)
    d = syntax.delimiters
    if body in _SIMPLE:
        return getattr(d, _SIMPLE[body])
    if body == "P" and d.truncation:
        return d.truncation
    if body in _FORMAT:
        return _FORMAT[body]
    head = body[:3]
    if head in (".in", ".ti", ".sk") or body[:1] in ("C", "M", "Z"):
        return ""  # indents, skips, charset switches and local escapes carry no text
    if body[:1] == "X" and len(body) % 2 == 1:
        try:
            return bytes.fromhex(body[1:]).decode(syntax.codec)
        except (ValueError, LookupError):
            return match.group(0)
    return match.group(0)
