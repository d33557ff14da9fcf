"""Cut a byte stream into messages: segment endings, MLLP frames, BOMs, FHS/BHS batches, caps.

Works on bytes, before any decoding, because MSH-18 (each message's character set) is only known
once the message is cut out; CR and LF never occur inside a UTF-8, GB18030 or Latin-1 character,
so splitting first is safe. The stream is read in blocks and every message is capped in bytes
and segments, so a hostile file costs bounded memory and one pass of time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

MAX_MESSAGE_BYTES = 10 * 1024 * 1024
MAX_SEGMENTS = 100_000
BLOCK = 1 << 20
BOM = b"\xef\xbb\xbf"
# CR, LF, CRLF end segments; MLLP's start (0x0B) and end (0x1C) bytes end them too.
_ENDS = re.compile(rb"\r\n|[\r\n\x0b\x1c]")
_BATCH = (b"FHS", b"BHS", b"BTS", b"FTS")
_BLANK = b" \t\x1a"  # 0x1A: the DOS end-of-file mark some exports still carry
_EMPTY = _BLANK + b"\r\n"  # a line of only these is skipped


@dataclass
class Problem:
    """Why a message cannot be read, found while cutting it out."""

    reason: str  # a REJECT_REASONS key
    message: str
    field: str | None = None


@dataclass
class Chunk:
    """One record of the file: a message (``number`` from 1) or stray bytes between them."""

    kind: str  # "message" or "stray"
    number: int
    line: int  # line of the file the record starts on, from 1
    lines: list[bytes] = field(default_factory=list)
    size: int = 0
    problem: Problem | None = None


@dataclass
class Envelope:
    """What the FHS/BHS/BTS/FTS batch segments of a file said, for the notes."""

    files: int = 0
    batches: int = 0
    trailers: int = 0
    file_trailers: int = 0
    counts: list[tuple[int, int]] = field(default_factory=list)  # (BTS-1 count, messages seen)
    in_batch: int = 0  # messages since the last BHS

    def notes(self) -> list[str]:
        out = []
        if self.files or self.batches:
            out.append(f"batch envelope: {self.files} FHS, {self.batches} BHS")
        if self.batches > self.trailers:
            out.append(f"{self.batches - self.trailers} batch(es) without BTS trailer")
        if self.files > self.file_trailers:
            out.append(f"{self.files - self.file_trailers} file(s) without FTS trailer")
        for said, seen in self.counts:
            if said != seen:
                out.append(f"BTS-1 says {said} messages, the batch holds {seen}")
        return out


def lines(stream: BinaryIO, block: int = BLOCK) -> Iterator[tuple[int, bytes, bool]]:
    """(line number, bytes, too long) for every segment line; a line longer than one message
    may be is cut to its first KB and flagged, without ever being held whole in memory."""
    carry = b""
    number = 0
    skipping: bytes | None = None
    while True:
        data = stream.read(block)
        if not data:
            break
        if skipping is not None:
            end = _ENDS.search(data)
            if end is None:
                continue
            number += 1
            yield number, skipping, True
            skipping, data = None, data[end.end() :]
        data = carry + data
        hold = data.endswith(b"\r")
        parts = _split(data[:-1] if hold else data)
        carry = parts.pop() + (b"\r" if hold else b"")
        for part in parts:
            number += 1
            yield number, part, False
        if len(carry) > MAX_MESSAGE_BYTES:
            skipping, carry = carry[:1024], b""
    if skipping is not None:
        yield number + 1, skipping, True
    elif carry.rstrip(b"\r"):
        yield number + 1, carry.rstrip(b"\r"), False


def _split(data: bytes) -> list[bytes]:
    """``_ENDS.split(data)``; without MLLP bytes, by ``bytes`` methods (several times faster):
    CRLF first, as the pattern prefers it, then LF, both read as CR."""
    if b"\x0b" in data or b"\x1c" in data:
        return _ENDS.split(data)
    return data.replace(b"\r\n", b"\r").replace(b"\n", b"\r").split(b"\r")


def chunks(stream: BinaryIO, envelope: Envelope) -> Iterator[Chunk]:
    """Records of the file in order: messages, and stray text that belongs to none."""
    current: Chunk | None = None
    pending: list[tuple[int, bytes]] = []  # batch segments seen inside a message, undecided
    number = 0
    for line_no, raw, too_long in lines(stream):
        line = raw.lstrip(_BLANK)
        if line.startswith(BOM):
            line = line[len(BOM) :].lstrip(_BLANK)
        if not line or (line[0] in _EMPTY and not line.rstrip(_EMPTY)):
            continue
        head = line[:3]
        if head == b"MSH" or head in _BATCH:
            named = len(line) == 3 or not line[3:4].isalnum()  # "MSH|", not "MSHX"
            is_msh = named and head == b"MSH"
            is_batch = named and head in _BATCH
        else:
            is_msh = is_batch = False
        if pending and not (is_msh or is_batch):
            # A batch segment followed by ordinary segments sits inside the message.
            assert current is not None
            name = pending[0][1][:3].decode("latin-1")
            why = f"{name} segment inside the message (line {pending[0][0]})"
            _fail(current, "malformed", why, field=name)
            for _, seg in pending:
                _append(current, seg, False)
            pending = []
        if is_msh:
            yield from _close(current, pending, envelope)
            pending = []
            number += 1
            current = Chunk("message", number, line_no)
            _append(current, line, too_long)
        elif is_batch:
            if current is not None and current.kind == "message":
                pending.append((line_no, line))
            else:
                yield from _close(current, [], envelope)
                current = None
                _batch(envelope, line)
        elif current is None:
            current = Chunk("stray", 0, line_no)
            _append(current, line, too_long)
        elif (
            current.problem is None
            and not too_long
            and current.size + len(line) < MAX_MESSAGE_BYTES
            and len(current.lines) < MAX_SEGMENTS
            and b"\x00" not in line
        ):
            current.size += len(line) + 1  # _append's common case, inline
            current.lines.append(line)
        else:
            _append(current, line, too_long)
    yield from _close(current, pending, envelope)


def _close(
    current: Chunk | None, pending: list[tuple[int, bytes]], env: Envelope
) -> Iterator[Chunk]:
    if current is not None:
        if current.kind == "message":
            env.in_batch += 1
        yield current
    for _, seg in pending:
        _batch(env, seg)


def _batch(env: Envelope, line: bytes) -> None:
    name = line[:3]
    if name == b"FHS":
        env.files += 1
    elif name == b"BHS":
        env.batches += 1
        env.in_batch = 0
    elif name == b"BTS":
        env.trailers += 1
        count = line[4:].split(line[3:4] or b"|", 1)[0].strip()
        if count.isdigit():
            env.counts.append((int(count), env.in_batch))
    elif name == b"FTS":
        env.file_trailers += 1


def _append(chunk: Chunk, line: bytes, too_long: bool) -> None:
    chunk.size += len(line) + 1
    if chunk.problem is not None and chunk.problem.reason == "hostile":
        return
    if too_long or chunk.size > MAX_MESSAGE_BYTES:
        _fail(
            chunk, "hostile", f"message larger than {MAX_MESSAGE_BYTES // (1 << 20)} MB", force=True
        )
        del chunk.lines[1:]
        return
    if len(chunk.lines) >= MAX_SEGMENTS:
        _fail(chunk, "hostile", f"message has more than {MAX_SEGMENTS} segments", force=True)
        del chunk.lines[1:]
        return
    if b"\x00" in line:
        _fail(chunk, "malformed", f"NUL byte in segment {len(chunk.lines) + 1}: binary data")
    chunk.lines.append(line)


def _fail(
    chunk: Chunk, reason: str, message: str, force: bool = False, field: str | None = None
) -> None:
    if chunk.problem is None or (force and chunk.problem.reason != "hostile"):
        chunk.problem = Problem(reason, message, field)
