"""Cut a streamed delimited file into byte chunks of whole records, for the workers to split.

With workers, reading the records one line at a time in the main process was what the read
phase waited for. Here the main process only finds where each slice of ``size`` records ends
and how many lines come before it (byte searches in C; the CSV module only for the few lines
holding a quote, NUL or the slice separator, which may start a record over several lines, and
a look at lines that may be blank), so locators stay exact; the workers decode and split the
chunk the same way :func:`hutong.adapters.raw._records` splits a stream. A file this cannot cut
safely (another encoding, a bare carriage return) goes on the old way from that record on.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np

from hutong.adapters.raw import (
    DELIMITED,
    EXCEL,
    SEP,
    UNDECODED,
    RawTable,
    Slice,
    blank_line,
    blank_row,
)

# Encodings in which a newline, quote, NUL or delimiter byte is always that character (never
# part of another), so a file can be cut at any newline and each piece decoded on its own.
SAFE = {"utf-8", "gb18030", "ascii", "iso8859-1", "cp1252"}
BLOCK = 16 * 1024 * 1024  # bytes read at a time (more when a slice does not fit)
_SPECIAL = (b'"', b"\x00", SEP.encode())  # a line holding one goes to the CSV reader
_MAYBE_BLANK = np.zeros(256, dtype=bool)  # first bytes of a line that may hold no record
_MAYBE_BLANK[[*range(0x09, 0x0E), *range(0x1C, 0x21), *range(0x80, 0x100)]] = True


@dataclass
class Chunk:
    """Whole records of a file as its bytes, with the number of lines before them."""

    path: Path
    data: bytes
    lines: int
    encoding: str
    width: int
    notes: list[str]

    def slice(self) -> tuple[Slice, int]:
        """The records as :func:`parts` would have sliced them, and the undecodable bytes.

        Runs of plain lines (a record each) are decoded and split as one text; the lines
        that need a closer look are read one by one, as the stream reader reads them."""
        delimiter = DELIMITED[self.path.suffix.lower()]
        lines = _Lines(self.data, self.encoding, delimiter, eof=True)
        records: list = []
        where: list[str] = []
        name, n, k, undecoded = self.path.name, len(lines.ends), 0, 0
        for s in [*lines.look.tolist(), n]:
            if s < k:
                continue  # a line of the record before
            if s > k:
                text = lines.text(k, s)
                undecoded += _undecoded(text)
                text = text.replace("\r\n", "\n").removesuffix("\n")
                records += text.replace(delimiter, SEP).split("\n")
                where += [f"{name}:{i}" for i in range(self.lines + k + 1, self.lines + s + 1)]
            if s < n:
                used, record = lines.record(s)
                undecoded += _undecoded(lines.text(s, s + used))
                if record is not None:
                    records.append(record)
                    where.append(f"{name}:{self.lines + s + 1}")
                k = s + used
        return Slice.of(records, self.width, where, self.notes), undecoded


def parts(raw: RawTable, size: int) -> Iterator[Slice | Chunk]:
    """The records of ``raw`` in slices of ``size`` (the file's notes with the first): chunks
    of bytes where the file can be cut safely, records read here otherwise."""
    encoding = codecs.lookup(raw.encoding).name if raw.encoding else None
    if not raw.streamed or raw.path.suffix.lower() in EXCEL or encoding not in SAFE:
        yield from _slices(raw.iter_records(SEP), len(raw.header), list(raw.notes), size)
        return
    raw.bad_bytes = 0
    yield from _Cutter(raw, encoding).parts(size)
    raw.bad_bytes -= raw.header_bad_bytes()


def _slices(records: Iterator, width: int, notes: list[str], size: int) -> Iterator[Slice]:
    while chunk := list(islice(records, size)):
        yield Slice.of([r for r, _ in chunk], width, [loc for _, loc in chunk], notes)
        notes = []


def _undecoded(text: str) -> int:
    """Bytes that did not decode (surrogate escapes); clean text encodes, and says so."""
    if text.isascii():
        return 0
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return len(UNDECODED.findall(text))
    return 0


class _More(Exception):
    """A record runs past the bytes read so far."""


class _Cutter:
    """The file read in blocks: ``data`` holds whole lines from line ``at``, a record's first
    line, on (``offset`` is where ``data`` starts in the file)."""

    def __init__(self, raw: RawTable, encoding: str):
        self.raw, self.encoding = raw, encoding
        self.delimiter = DELIMITED[raw.path.suffix.lower()]
        self.width = len(raw.header)

    def parts(self, size: int) -> Iterator[Slice | Chunk]:
        notes = list(self.raw.notes)
        with self.raw.path.open("rb") as f:
            bom = f.read(len(codecs.BOM_UTF8)) == codecs.BOM_UTF8
            self.offset = f.tell() if bom else 0
            f.seek(self.offset)
            self.file, self.data, self.eof = f, b"", False
            self._read()
            lines, want, header = 0, 1, True  # the header first: a record of its own
            while True:
                cut = self._cut(want)
                if cut is None:  # no safe cut: the old way from here on
                    here = self.offset + self._start(self.at)
                    if header:  # from the file's start, its header skipped as ever
                        self.raw.bad_bytes, here = 0, 0
                    records = self.raw.records_from(here, lines, SEP)
                    yield from _slices(records, self.width, notes, size)
                    return
                stop, found = cut
                body = self.data[self._start(self.at) : self._start(stop)]
                if header or not found:  # the header, or blank lines at the end
                    self.raw.bad_bytes += _undecoded(body.decode(self.encoding, "surrogateescape"))
                else:
                    yield Chunk(self.raw.path, body, lines, self.encoding, self.width, notes)
                    notes = []
                lines += stop - self.at
                self.at = stop
                if not found or (self.eof and stop == len(self.ends)):
                    return
                want, header = size, False

    def _start(self, line: int) -> int:
        """Where line ``line`` starts in ``data`` (after the last whole line: where the
        unfinished one starts)."""
        if line < len(self.starts):
            return int(self.starts[line])
        return int(self.ends[-1]) if len(self.ends) else 0

    def _read(self) -> None:
        """Read a block more (at least as much as is held: a slice may be long)."""
        begin = self._start(self.at) if self.data else 0
        size = max(BLOCK, len(self.data) - begin)
        block = self.file.read(size)
        self.eof = len(block) < size
        self.data = b"".join([memoryview(self.data)[begin:], block])  # one copy
        self.offset, self.at = self.offset + begin, 0
        self._index()

    def _index(self) -> None:
        self.lines = _Lines(self.data, self.encoding, self.delimiter, self.eof)
        self.starts, self.ends = self.lines.starts, self.lines.ends

    def _cut(self, want: int) -> tuple[int, int] | None:
        """(line after, records) of the first ``want`` records from line ``at`` (fewer at the
        end of the file), reading more as needed; None when the bytes cannot be cut safely."""
        while True:
            if not self.lines.safe:
                return None
            try:
                return self._scan(want)
            except _More:
                self._read()

    def _scan(self, want: int) -> tuple[int, int]:
        lines = self.lines
        k, found, n = self.at, 0, len(lines.ends)
        while found < want:
            j = np.searchsorted(lines.look, k)
            s = int(lines.look[j]) if j < len(lines.look) else n
            if found + s - k >= want:
                return k + want - found, want  # plain lines: a record each
            found += s - k
            k = s
            if k >= n:
                if not self.eof:
                    raise _More
                break
            used, record = lines.record(k)
            found += record is not None
            k += used
        return k, found


class _Lines:
    """Where each whole line of some bytes of the file starts and ends, and the lines that need
    a closer look: those the CSV reader must read, and those that may be blank (no record)."""

    def __init__(self, data: bytes, encoding: str, delimiter: str, eof: bool):
        self.data, self.encoding, self.delimiter, self.eof = data, encoding, delimiter, eof
        array = np.frombuffer(data, dtype=np.uint8)
        ends = np.flatnonzero(array == 10) + 1
        # a carriage return alone ends a line too (not split here): only one before \n is safe
        returns = data.count(b"\r") - (data.endswith(b"\r") and not eof)
        self.safe = returns == np.count_nonzero(array[ends[ends >= 2] - 2] == 13)
        if eof and len(data) and (not len(ends) or ends[-1] < len(data)):
            ends = np.append(ends, len(data))  # a last line with no newline
        starts = np.r_[0, ends[:-1]].astype(np.int64) if len(ends) else ends
        special = np.zeros(len(ends), dtype=bool)
        for byte in _SPECIAL:
            if byte in data:
                at = np.flatnonzero(array == byte[0])
                line = np.searchsorted(ends, at, side="right")
                special[line[line < len(ends)]] = True  # not in the unfinished last line
        if len(ends):
            first = array[starts]
            maybe = _MAYBE_BLANK[first] | (first == ord(delimiter))
        else:
            maybe = special
        if maybe.any():  # a blank line has no printable ASCII other than the delimiter
            solid = (array > 0x20) & (array < 0x7F) & (array != ord(delimiter))
            maybe &= ~np.logical_or.reduceat(solid[: ends[-1]], starts)
        self.ends, self.starts, self.csv = ends, starts, special
        self.look = np.flatnonzero(special | maybe)

    def text(self, first: int, stop: int) -> str:
        """Lines ``first`` to ``stop`` (not included), decoded."""
        data = self.data[self.starts[first] : self.ends[stop - 1]]
        return data.decode(self.encoding, "surrogateescape")

    def record(self, k: int) -> tuple[int, list[str] | str | None]:
        """(lines used, record) from line ``k``, which needs a closer look, as
        :func:`hutong.adapters.raw._records` reads it (None: a blank line, no record)."""
        if self.csv[k]:
            reader = csv.reader(self._lines_from(k), delimiter=self.delimiter, strict=False)
            row = next(reader)
            return reader.line_num, None if blank_row(row) else row
        body = self.text(k, k + 1).rstrip("\r\n")
        return 1, None if blank_line(body, self.delimiter) else body.replace(self.delimiter, SEP)

    def _lines_from(self, k: int) -> Iterator[str]:
        for i in range(k, len(self.ends)):
            yield self.text(i, i + 1)
        if not self.eof:
            raise _More
