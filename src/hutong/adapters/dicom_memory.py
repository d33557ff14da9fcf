"""The fast path of the DICOM header read: a file read whole, parsed in memory.

Why: the budgeted path (:mod:`hutong.adapters.dicom_header`) hands pydicom a view that runs
Python code on each of its few hundred reads per file, and lets it parse every element up to
Pixel Data when the reader wants a few. For speed, a file read whole (at most
``dicom_header.WHOLE`` bytes: nearly all CT, MR, SR files) is first parsed here from its
bytes: pydicom reads them directly, only its seeks watched
(:class:`_Watch`: the bytes read are counted between seeks, a deflated data set is caught
before it is inflated), and only up to the last element wanted: past it pydicom would merely
skip elements and parse undefined-length sequences to throw them away, so that part is walked
without building anything (:class:`_Skim`) for what the checks need of it: where the parse
ends, and that it ends with no error and no read cut short.

Safety: :func:`in_memory` gives a parse only when it can vouch that it is the one the budgeted
view would have made of the same bytes within the same budget. A file it cannot vouch for
(deflated, cut, odd, hostile) gives None and is parsed again through the budgeted view, so
the outcome, and the bounds, are the budgeted view's either way.

Version gate: :class:`_Watch` and :class:`_Skim` follow how pydicom 3.0 reads a file (its
seeks, its peek after the file meta, its element generator). Another pydicom may read
otherwise, so on a version not starting with :data:`FOLLOWED` this path is off and every file
takes the budgeted path: slower, never wrong. pyproject pins ``pydicom<3.1`` to keep it on; to
move the pin, check that the reads still match (``tests/test_dicom_hostile.py`` compares the
two paths on cut, padded and fuzzed files) and move :data:`FOLLOWED` with it.
"""

from __future__ import annotations

import io
import struct
import sys
from dataclasses import dataclass

import pydicom
from pydicom import config
from pydicom.datadict import DicomDictionary
from pydicom.dataset import Dataset
from pydicom.filereader import ENCODED_VR, read_partial
from pydicom.tag import BaseTag, Tag
from pydicom.uid import DeflatedExplicitVRLittleEndian
from pydicom.valuerep import EXPLICIT_VR_LENGTH_32

from hutong.adapters.dicom_parse import PIXEL_TAGS, quiet, read_elements

FOLLOWED = "3.0."  # the pydicom whose reads :class:`_Watch` and :class:`_Skim` rely on
DEFLATED = DeflatedExplicitVRLittleEndian.encode()
PAD = bytes(12)  # after the bytes of a :class:`_Watch`: what a read past their end gets


def in_memory(
    data: bytes, origin: int, tags: list[int], defer: int | None, budget: int
) -> tuple[Dataset, int, int] | None:
    """The header parsed from ``data`` through a :class:`_Watch`, where the budgeted view is
    then and the bytes it read; None when only the budgeted view can tell the outcome (a file
    cut short, deflated, broken or hostile: it is parsed again, so this costs them twice).
    ``budget`` is the budgeted view's: the bytes it may read."""
    if not pydicom.__version__.startswith(FOLLOWED):
        return None
    view = memoryview(data)[origin:]
    fp = _Watch(view, budget)
    plan = _plan(tags)
    try:
        with quiet():
            if plan is None:
                ds = read_elements(fp, tags, defer)
            else:  # up to the last element wanted, then skimmed
                ds = read_partial(fp, plan.stop, defer, force=True, specific_tags=plan.tags)
    except Exception:  # whatever went wrong, the budgeted view tells it
        return None
    vouched = fp.vouch()
    if vouched is None:
        return None
    at, used = vouched
    if plan is not None:
        implicit, little = ds.original_encoding
        skim = _Skim(view, little, plan.wanted)
        try:
            at = skim.top(at, _implicit_at(view, fp.start, implicit))
        except _Unsure:
            return None
        used += skim.read
        if used + MARGIN > budget or (skim.depth > 8 and not _stack_room(skim.depth)):
            return None
    return ds, at, used


class _Unsure(Exception):
    """A parse in memory stopped: it is done again through the budgeted view."""


class _Watch:
    """A file's bytes (from its layout's offset on) as pydicom reads them, only seeks watched.

    The budgeted view (``dicom_header._Budget``) checks every read, a few hundred calls per
    file. Here reads and tells go straight to the bytes and only seeks, about a fifth as many,
    run code: a read only moves forward, so the bytes read since the last seek are the
    distance moved. :meth:`vouch` then says whether the parse was what the budgeted view
    would have made of the same bytes: no read crossed the end (there a read could come back
    short), no deflated data set was inflated, no more than ``limit`` bytes were read.
    Otherwise the parse is not used.

    The bytes are followed by :data:`PAD` zeros so that the one read past the end a complete
    data set does make, its next element header at the very end, is told apart from a read
    crossing the end: at the top level that header reads as an empty element (0000,0000),
    which pydicom skips with a seek from exactly 8 bytes past the end to itself, and the next
    header read gets the last 4 zeros and ends the data set. Any read crossing the end (a
    truncated header or value) leaves the position past the end with any other trail, and is
    refused by :meth:`vouch`.
    """

    __slots__ = ("_bytes", "_limit", "_mark", "_seek", "_size", "_tell")
    __slots__ += ("ended", "read", "spoiled", "start", "tell", "used")

    def __init__(self, view: bytes | memoryview, limit: int):
        self._bytes = b"".join((view, PAD))
        raw = io.BytesIO(self._bytes)
        self._size = len(view)
        self._limit = limit
        self.read = raw.read
        self.tell = self._tell = raw.tell
        self._seek = raw.seek
        self._mark = 0  # the position after the last seek
        self.used = 0  # bytes read up to the last seek
        self.start: int | None = None  # where the data set after the file meta starts
        self.ended = False  # the empty element read at the end was skipped
        self.spoiled: str | None = None  # why the parse cannot be used

    def seek(self, offset: int, whence: int = 0) -> int:
        here = self._tell()
        self.used += here - self._mark
        if here > self._size or self.used > self._limit or whence:
            self._odd(here, offset, whence)
        self._mark = self._seek(offset, whence)
        return self._mark

    def _odd(self, here: int, offset: int, whence: int) -> None:
        if here > self._size:
            if self.ended or here != self._size + 8 or (offset, whence) != (here, 0):
                self._spoil("read past the end")
            self.ended = True
        if self.used > self._limit:
            self._spoil("budget")
        if (offset, whence) == (-1, 1) and self.start is None:
            # pydicom's peek after the file meta: the meta, and so its Transfer Syntax UID,
            # lies before ``here``, and a deflated data set is inflated next, without limit
            self.start = here - 1
            if self._bytes.find(DEFLATED, 0, here) != -1:
                self._spoil("deflated")

    def _spoil(self, why: str) -> None:
        self.spoiled = why
        raise _Unsure(why)

    def vouch(self) -> tuple[int, int] | None:
        """Where the budgeted view would be after the same parse and how many bytes it would
        have read, or None when this parse is not one it would have made."""
        here = self._tell()
        used = self.used + here - self._mark
        if self.spoiled or used > self._limit:
            return None
        if self.ended:  # the empty element at the end: the budgeted view read nothing there
            return (self._size, used - len(PAD)) if here == self._size + len(PAD) else None
        return (here, used) if here <= self._size else None


ITEM, ITEM_END, SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
UNDEFINED = 0xFFFFFFFF
CHARSET = 0x00080005
LENGTH_32 = {vr.encode() for vr in EXPLICIT_VR_LENGTH_32}
SKIM_DEPTH = 24  # sequences nested deeper are left to pydicom (and its recursion limit)
MARGIN = 1 << 20  # bytes the checks after a skim may still read, well within the budget


@dataclass(frozen=True)
class _Plan:
    """The elements wanted, as pydicom is given them, and the stop after the last of them."""

    tags: list[BaseTag]
    wanted: frozenset[int]
    last: int

    def stop(self, tag: int, vr: str | None, length: int) -> bool:
        return int(tag) > self.last


_PLANS: dict[int, tuple[list[int], _Plan]] = {}


def _plan(tags: list[int]) -> _Plan | None:
    """How :func:`in_memory` reads ``tags``; None when only the full parse will do."""
    if config.settings.reading_validation_mode == config.RAISE:
        return None  # pydicom raises where a stop ends the data set quietly
    known = _PLANS.get(id(tags))
    if known is None or known[0] is not tags:  # the list is kept, so its id is not reused
        if len(_PLANS) > 64:
            _PLANS.clear()
        wanted = frozenset(int(t) for t in tags) | {CHARSET}  # pydicom adds the charset
        plan = _Plan([Tag(t) for t in tags], wanted, max(wanted))
        known = _PLANS[id(tags)] = (tags, plan)
    plan = known[1]
    return plan if tags and plan.last < min(PIXEL_TAGS) else None


class _Skim:
    """pydicom's parse of a data set past the last element wanted, without building it.

    After the last wanted element pydicom would only skip elements and parse undefined-length
    sequences to throw them away; what the reader needs from that is where the parse ends (at
    Pixel Data, or at the end), that it ends without error, with no read cut short, and how
    many bytes it reads. This walk follows pydicom's reads (``filereader`` of pydicom 3) on
    well-formed elements only: anything else (a cut or odd header, an implicit VR switch, an
    undefined-length value that is not a sequence, a character set in an item, a wanted
    element again, deep nesting) raises :class:`_Unsure`, and pydicom parses the file.
    """

    def __init__(self, view: memoryview, little: bool, wanted: frozenset[int]):
        self.view = view
        self.size = len(view)
        end = "<" if little else ">"
        self.implicit = struct.Struct(f"{end}HHL").unpack_from
        self.explicit = struct.Struct(f"{end}HH2sH").unpack_from
        self.length = struct.Struct(f"{end}L").unpack_from
        self.wanted = wanted
        self.read = 0  # bytes pydicom reads
        self.depth = 0  # deepest sequence nesting

    def top(self, pos: int, implicit: bool) -> int:
        """Where the top-level parse from ``pos`` stops: the Pixel Data element or the end."""
        while pos != self.size:  # at the end, the next header read gets nothing: done
            tag, vr, length, at = self.header(pos, implicit)
            if tag == ITEM_END:
                raise _Unsure("item end at the top level")
            if tag in PIXEL_TAGS:
                return pos  # stop_before_pixels: read, then rewound
            if tag in self.wanted:
                raise _Unsure("a wanted element after the stop")
            if length != UNDEFINED:
                pos = at + length  # skipped, not read
                if pos > self.size:
                    raise _Unsure("a length past the end")
            else:
                pos = self.undefined(tag, vr, at, implicit, 1)
        return pos

    def header(self, pos: int, implicit: bool) -> tuple[int, bytes | None, int, int]:
        """An element header as pydicom's element generator reads it: tag, VR, length and
        where the value starts."""
        if pos + 8 > self.size:
            raise _Unsure("a header cut by the end")
        self.read += 8
        if implicit:
            group, elem, length = self.implicit(self.view, pos)
            return group << 16 | elem, None, length, pos + 8
        group, elem, vr, length = self.explicit(self.view, pos)
        tag = group << 16 | elem
        if vr in ENCODED_VR:
            if vr not in LENGTH_32:
                return tag, vr, length, pos + 8
            if pos + 12 > self.size:
                raise _Unsure("a header cut by the end")
            self.read += 4
            return tag, vr, self.length(self.view, pos + 8)[0], pos + 12
        if tag == ITEM_END and vr == b"\0\0" and config.assume_implicit_vr_switch:
            return tag, None, 0, pos + 8  # read as implicit VR, as pydicom does
        raise _Unsure("an unknown VR")

    def undefined(self, tag: int, vr: bytes | None, at: int, implicit: bool, depth: int) -> int:
        """Past an undefined-length element at ``at``: a sequence, as pydicom reads it."""
        if vr == b"UN" and config.settings.infer_sq_for_un_vr:
            vr = b"SQ"
        if vr is None or (vr == b"UN" and config.replace_un_with_known_vr):
            entry = DicomDictionary.get(tag)  # else pydicom looks ahead or at repeaters
            if entry is None:
                raise _Unsure("an undefined length of an unknown element")
            vr = entry[0].encode()
        if vr != b"SQ":
            raise _Unsure("an undefined-length value")
        return self.sequence(at, implicit, depth)

    def sequence(self, pos: int, implicit: bool, depth: int) -> int:
        """Past the items of an undefined-length sequence starting at ``pos``."""
        if depth > SKIM_DEPTH:
            raise _Unsure("deep sequences")
        self.depth = max(self.depth, depth)
        while True:
            if pos + 8 > self.size:
                raise _Unsure("an item cut by the end")
            self.read += 8
            group, elem, length = self.implicit(self.view, pos)  # tag and 4-byte length
            pos += 8
            tag = group << 16 | elem
            if tag == SEQUENCE_END:
                return pos
            if tag != ITEM:
                raise _Unsure("not an item")
            pos = self.item(pos, implicit, None if length == UNDEFINED else length, depth)

    def item(self, start: int, implicit: bool, length: int | None, depth: int) -> int:
        """Past an item's data set (of ``length`` bytes, or up to its delimiter)."""
        if not implicit:  # pydicom looks at the first VR: an item may switch to implicit VR
            if start + 6 > self.size:
                raise _Unsure("an item cut by the end")
            self.read += 6
            first, second = self.view[start + 4], self.view[start + 5]
            implicit = not (0x40 < first < 0x5B and 0x40 < second < 0x5B)
        pos = start
        while length is None or pos - start < length:
            tag, vr, size, at = self.header(pos, implicit)
            if tag == ITEM_END:
                return at
            if tag >> 16 == 0xFFFE or tag == CHARSET:
                raise _Unsure("an odd element in an item")
            if size != UNDEFINED:
                pos = at + size  # read: items keep all their elements
                if pos > self.size:
                    raise _Unsure("a value cut by the end")
                self.read += size
            else:
                pos = self.undefined(tag, vr, at, implicit, depth + 1)
        return pos


def _implicit_at(view: memoryview, start: int | None, assumed: bool) -> bool:
    """The VR encoding pydicom reads the data set at ``start`` in (``_is_implicit_vr``)."""
    if start is None or start + 6 > len(view):
        return assumed
    first, second = view[start + 4], view[start + 5]
    return not (0x40 < first < 0x5B and 0x40 < second < 0x5B)


def _stack_room(depth: int) -> bool:
    """Whether pydicom can nest ``depth`` sequences (about 5 frames each) from here."""
    frames, frame = 0, sys._getframe()
    while frame is not None:
        frames, frame = frames + 1, frame.f_back
    return frames + 6 * depth + 100 < sys.getrecursionlimit()
