"""Read the header of one DICOM file, refusing what would crash or exhaust the reader.

pydicom parses whatever it is given (``force=True``) and is lenient by design: it reads a
truncated file quietly, seeks past lengths that run off the end of the file and inflates a
deflated data set with no limit. This module puts bounds around it so a hostile or broken
file becomes a :class:`Refused` (reason, field, message) instead of an exception or an
out-of-memory kill: the bytes read are budgeted, large values are left on disk, and the file
is checked for truncation, including the Pixel Data element the header read stops before.
Pixel data is never decoded.

A file of at most :data:`WHOLE` bytes is read at once and parsed in memory: pydicom asks its
file for the position of every element, and on a disk file each ask is a system call. Larger
files are parsed from disk through a budgeted view that checks every read. In memory, pydicom
reads the bytes directly, only its seeks watched (:class:`_Watch`: the bytes read are counted
between seeks, a deflated data set is caught before it is inflated), and only up to the last
element wanted: past it pydicom would merely skip elements and parse undefined-length
sequences to throw them away, so that part is walked without building anything
(:class:`_Skim`) for what the checks need of it: where the parse ends, and that it ends with
no error and no read cut short. A file the in-memory parse cannot vouch for (deflated, cut,
odd, hostile) is parsed again through the budgeted view, so the outcome, and the bounds, are
the budgeted view's either way.
"""

from __future__ import annotations

import io
import os
import struct
import sys
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pydicom
from pydicom import config
from pydicom.datadict import DicomDictionary
from pydicom.dataset import Dataset
from pydicom.filereader import ENCODED_VR, read_partial
from pydicom.tag import BaseTag, Tag
from pydicom.uid import DeflatedExplicitVRLittleEndian
from pydicom.valuerep import EXPLICIT_VR_LENGTH_32

BUDGET = 64 * 1024 * 1024  # bytes read before Pixel Data; real headers are < 1 MB, SRs a few MB
DEFER = 64 * 1024  # values larger than this stay on disk (overlays, waveforms, ICC profiles)
STRAY = 8  # leading bytes skipped to find a data set cut from a stream at the wrong offset
MAX_FRAGMENTS = 1 << 16  # encapsulated pixel data items walked for the truncation check

PIXEL_TAGS = {0x7FE00010, 0x7FE00008, 0x7FE00009}
# VRs whose explicit-VR header has 2 reserved bytes and a 4-byte length (PS3.5 7.1.2)
LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT"}
VRS = LONG_VRS | set(b"AE AS AT CS DA DS DT FD FL IS LO LT PN SH SL SS ST TM UI UL US UV".split())
DATASET_GROUPS = {0x0002, 0x0008}  # a data set without preamble starts with meta or identity
HEAD = 4096  # bytes :func:`layout` looks at
WHOLE = 1024 * 1024  # files up to this size are read whole (nearly all CT, MR, SR files)


def quiet() -> warnings.catch_warnings:
    """pydicom warns about each oddity it reads past; here a reject (or nothing) says enough."""
    return warnings.catch_warnings(action="ignore")


class Refused(Exception):
    """A file (or record) that cannot be converted: carries the reject's reason and field."""

    def __init__(self, reason: str, message: str, field: str | None = None):
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Layout:
    """Where the data set starts: after a Part 10 preamble, or bare at ``offset``."""

    part10: bool
    offset: int = 0


def layout(head: bytes) -> Layout | None:
    """How a file starting with ``head`` is laid out, or None when it is not DICOM.

    A Part 10 file has "DICM" at byte 128. A bare data set (no preamble, as some modalities and
    old archives write) must start with a plausible group 0002 or 0008 element followed by a
    second one; a few stray bytes before it are tolerated (a data set cut from a stream one
    byte off), arbitrary bytes are not.
    """
    if head[128:132] == b"DICM":
        return Layout(True)
    for offset in range(min(STRAY, max(len(head) - 8, 0))):
        if _plausible(head, offset, first=True):
            return Layout(False, offset)
    return None


def _plausible(head: bytes, at: int, first: bool) -> bool:
    """An element header at ``at`` in any of the three encodings of a bare data set."""
    if len(head) < at + 8:
        return not first
    for little in (True, False):
        end = "<" if little else ">"
        group, elem = struct.unpack_from(f"{end}HH", head, at)
        if first and (group not in DATASET_GROUPS or elem > 0x1000):
            continue
        if not first and not 0x0002 <= group <= 0x0020:
            continue
        vr = head[at + 4 : at + 6]
        if vr in VRS:
            if vr in LONG_VRS:
                if len(head) < at + 12:
                    return not first
                length, size = struct.unpack_from(f"{end}L", head, at + 8)[0], 12
            else:
                length, size = struct.unpack_from(f"{end}H", head, at + 6)[0], 8
        elif little:
            length, size = struct.unpack_from("<L", head, at + 4)[0], 8
            if length > 0x10000:
                continue
        else:
            continue
        following = at + size + length
        if not first or length == 0xFFFFFFFF or len(head) < following + 8:
            return True
        if _plausible(head, following, first=False):
            return True
    return False


class _Budget:
    """A read-only file view starting at ``origin`` that hands out at most ``limit`` bytes.

    pydicom catches every exception raised inside a sequence item read and re-raises it as
    ``OSError``, so a refusal is also kept in :attr:`refused` for the caller to find.
    """

    # pydicom calls read a few hundred times per file and tell nearly as often: slots, one
    # test on the common path, and tell/seek the file's own when there is no offset to apply
    __slots__ = ("_limit", "_origin", "_raw", "_read", "left", "refused", "seek", "short", "tell")

    def __init__(self, raw: BinaryIO, origin: int, limit: int):
        self._raw = raw
        self._read = raw.read
        self._origin = origin
        self._limit = limit
        self.left = limit  # bytes that may still be read
        self.short = False  # a tag, VR or length header ended early: the file is cut
        self.refused: Refused | None = None
        self.tell = raw.tell if origin == 0 else self._tell
        self.seek = raw.seek if origin == 0 else self._seek

    def _refuse(self, message: str) -> Refused:
        self.refused = Refused("hostile", message)
        return self.refused

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return self._rest()
        data = self._read(size)
        got = len(data)
        self.left -= got
        if got != size or self.left < 0:  # rare: the end of the file, or of the budget
            self._odd(size, got)
        return data

    def _odd(self, size: int, got: int) -> None:
        if self.left < 0:
            raise self._refuse(f"header larger than {self._limit >> 20} MiB / 文件头过大")
        if got and size <= 12:
            self.short = True

    def _rest(self) -> bytes:
        # pydicom reads "the rest" only to inflate a deflated data set, and inflates it with
        # no limit: refuse a stream that inflates past the budget (a zip bomb) before it does.
        data = self.read(self.left + 1)
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        inflater.decompress(data, self._limit)
        if inflater.unconsumed_tail:
            raise self._refuse(
                f"deflated data set inflates past {self._limit >> 20} MiB / 压缩数据过大"
            )
        return data

    def _seek(self, offset: int, whence: int = 0) -> int:
        if whence == 0:
            offset += self._origin
        return self._raw.seek(offset, whence) - self._origin

    def _tell(self) -> int:
        return self._raw.tell() - self._origin


FOLLOWED = "3.0."  # the pydicom whose reads :class:`_Watch` and :class:`_Skim` rely on
DEFLATED = DeflatedExplicitVRLittleEndian.encode()
PAD = bytes(12)  # after the bytes of a :class:`_Watch`: what a read past their end gets


class _Watch:
    """A file's bytes (from its layout's offset on) as pydicom reads them, only seeks watched.

    :class:`_Budget` checks every read, a few hundred calls per file. Here reads and tells go
    straight to the bytes and only seeks, about a fifth as many, run code: a read only moves
    forward, so the bytes read since the last seek are the distance moved. :meth:`vouch` then
    says whether the parse was what the budgeted view would have made of the same bytes: no
    read crossed the end (there a read could come back short), no deflated data set was
    inflated, no more than ``limit`` bytes were read. Otherwise the parse is not used.

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


class _Unsure(Exception):
    """A parse in memory stopped: it is done again through the budgeted view."""


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
    """How :func:`_in_memory` reads ``tags``; None when only the full parse will do."""
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


# What pydicom raises on bytes it cannot parse (OSError: a failed sequence item read).
PARSE_ERRORS = (
    pydicom.errors.InvalidDicomError,
    pydicom.errors.BytesLengthException,
    EOFError,
    OSError,
    struct.error,
    zlib.error,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    OverflowError,
    NotImplementedError,
    LookupError,
)


def load(path: Path) -> tuple[bytes, int]:
    """A file's bytes and its size: all of them when it is at most :data:`WHOLE` bytes long,
    else its first :data:`HEAD` bytes (the header is then read from disk)."""
    with path.open("rb") as f:
        size = os.fstat(f.fileno()).st_size
        return f.read(size if size <= WHOLE else HEAD), size


def read_header(
    path: Path,
    tags: list[int],
    content: tuple[bytes, int] | None = None,
    defer: int | None = DEFER,
    found: Layout | None = None,
) -> Dataset:
    """The elements ``tags`` (and the file meta) of ``path``, up to its Pixel Data; values
    larger than ``defer`` bytes are left unread. ``content`` is what :func:`load` gave, and
    ``found`` its :func:`layout`, when the caller has them already.

    Raises :class:`Refused` for a file that is not DICOM, is cut short, lies about a length,
    nests sequences without end or is larger than the reader's budget.
    """
    data, size = content if content is not None else load(path)
    if found is None:
        found = layout(data[:HEAD])
    if found is None:
        raise Refused("malformed", "not a DICOM file / 不是DICOM文件")
    if len(data) == size <= WHOLE:  # the whole file: parsed in memory
        done = _in_memory(data, found.offset, tags, defer)
        with io.BytesIO(data) as raw:
            return _parse(raw, size, found.offset, tags, defer, done)
    with path.open("rb") as raw:
        return _parse(raw, os.fstat(raw.fileno()).st_size, found.offset, tags, defer)


def _read(fp: BinaryIO, tags: list[int], defer: int | None) -> Dataset:
    return pydicom.dcmread(
        fp, defer_size=defer, stop_before_pixels=True, force=True, specific_tags=tags
    )


def _in_memory(
    data: bytes, origin: int, tags: list[int], defer: int | None
) -> tuple[Dataset, int, int] | None:
    """The header parsed from ``data`` through a :class:`_Watch`, where the budgeted view is
    then and the bytes it read; None when only the budgeted view can tell the outcome (a file
    cut short, deflated, broken or hostile: it is parsed again, so this costs them twice)."""
    if not pydicom.__version__.startswith(FOLLOWED):
        return None
    view = memoryview(data)[origin:]
    fp = _Watch(view, BUDGET)
    plan = _plan(tags)
    try:
        with quiet():
            if plan is None:
                ds = _read(fp, tags, defer)
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
        if used + MARGIN > BUDGET or (skim.depth > 8 and not _stack_room(skim.depth)):
            return None
    return ds, at, used


def _parse(
    raw: BinaryIO,
    size: int,
    origin: int,
    tags: list[int],
    defer: int | None,
    done: tuple[Dataset, int, int] | None = None,
) -> Dataset:
    """The header of the data set at ``origin`` of ``raw`` (``size`` bytes), read in budget;
    ``done`` is the same parse made already (:func:`_in_memory`): the data set, where the
    view is after it and how many bytes it read, for the checks that follow it."""
    fp = _Budget(raw, origin, BUDGET)
    end = size - origin
    try:
        with quiet():
            if done is None:
                ds = _read(fp, tags, defer)
            else:
                ds, at, used = done
                fp.seek(at)
                fp.left -= used
            if fp.tell() > end or fp.short:
                raise Refused(
                    "truncated", "truncated file: a length runs past the end / 文件不完整"
                )
            _check_values(ds)
            if ds.file_meta.get("TransferSyntaxUID") != DeflatedExplicitVRLittleEndian:
                _check_pixels(fp, end, ds)
    except RecursionError:
        raise Refused("hostile", "sequences nested too deep / 序列嵌套过深") from None
    except PARSE_ERRORS as exc:
        if fp.refused is not None:
            raise fp.refused from None
        reason = "truncated" if fp.short or fp.tell() >= end else "malformed"
        raise Refused(reason, f"unreadable DICOM / 无法解析: {str(exc)[:200]}") from None
    return ds


def _check_values(ds: Dataset) -> None:
    for elem in ds.values():  # the elements as read: iterating a Dataset converts them
        value = getattr(elem, "value", None)
        if isinstance(value, bytes) and len(value) < elem.length:
            raise Refused("truncated", "truncated file: a value is cut short / 文件不完整")


def _check_pixels(fp: _Budget, size: int, ds: Dataset) -> None:
    """Raise when the Pixel Data element the header read stopped before does not fit the file."""
    start = fp.tell()
    head = fp.read(12)
    if not head:
        return
    implicit, little = ds.original_encoding
    end = "<" if little else ">"
    if len(head) < 8:
        raise Refused("truncated", "truncated file: Pixel Data header cut / 文件不完整")
    group, elem = struct.unpack_from(f"{end}HH", head)
    if (group << 16 | elem) not in PIXEL_TAGS:
        return
    if implicit or head[4:6] not in LONG_VRS:
        length, value_at = struct.unpack_from(f"{end}L", head, 4)[0], start + 8
    elif len(head) < 12:
        raise Refused("truncated", "truncated file: Pixel Data header cut / 文件不完整")
    else:
        length, value_at = struct.unpack_from(f"{end}L", head, 8)[0], start + 12
    if length != 0xFFFFFFFF:
        if value_at + length > size:
            raise Refused(
                "truncated",
                f"truncated file: Pixel Data declares {length} bytes, {size - value_at} present"
                " / 像素数据不完整",
                "(7FE0,0010) PixelData",
            )
        return
    fp.seek(value_at)
    for _ in range(MAX_FRAGMENTS):
        item = fp.read(8)
        if len(item) < 8:
            raise Refused(
                "truncated",
                "truncated file: encapsulated Pixel Data has no end / 像素数据不完整",
                "(7FE0,0010) PixelData",
            )
        group, elem, length = struct.unpack(f"{end}HHL", item)
        if (group, elem) == (0xFFFE, 0xE0DD):
            return
        if (group, elem) != (0xFFFE, 0xE000) or fp.tell() + length > size:
            raise Refused(
                "truncated" if (group, elem) == (0xFFFE, 0xE000) else "malformed",
                "encapsulated Pixel Data fragment does not fit / 像素数据片段错误",
                "(7FE0,0010) PixelData",
            )
        fp.seek(fp.tell() + length)
