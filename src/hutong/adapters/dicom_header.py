"""Read the header of one DICOM file, refusing what would crash or exhaust the reader.

pydicom parses whatever it is given (``force=True``) and is lenient by design: it reads a
truncated file quietly, seeks past lengths that run off the end of the file and inflates a
deflated data set with no limit. This module puts bounds around it so a hostile or broken
file becomes a :class:`Refused` (reason, field, message) instead of an exception or an
out-of-memory kill: the bytes read are budgeted, large values are left on disk, and the file
is checked for truncation, including the Pixel Data element the header read stops before.
Pixel data is never decoded.

Two paths, one outcome. The budgeted path, here, is the one that decides: pydicom parses
through :class:`_Budget`, a view that checks every read, so a hostile file is refused within
:data:`BUDGET`. A file of at most :data:`WHOLE` bytes is read whole by :func:`load` (pydicom
asks its file for the position of every element, and on a disk file each ask is a system
call) and, for speed, first parsed in memory by :mod:`hutong.adapters.dicom_memory`: its
reads watched at the seeks only, the part after the last element wanted skimmed, not parsed,
and only on the pydicom version whose reads it follows (``dicom_memory.FOLLOWED``). That
parse is used only when it vouches to be the one the budgeted view would have made; any other
file (deflated, cut, odd, hostile, or any file under another pydicom) is parsed again here.
The checks after the parse run through the budgeted view on both paths, so rows, rejects and
bounds are the same either way.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import DeflatedExplicitVRLittleEndian

from hutong.adapters.dicom_memory import in_memory
from hutong.adapters.dicom_parse import PIXEL_TAGS, quiet, read_elements

BUDGET = 64 * 1024 * 1024  # bytes read before Pixel Data; real headers are < 1 MB, SRs a few MB
DEFER = 64 * 1024  # values larger than this stay on disk (overlays, waveforms, ICC profiles)
STRAY = 8  # leading bytes skipped to find a data set cut from a stream at the wrong offset
MAX_FRAGMENTS = 1 << 16  # encapsulated pixel data items walked for the truncation check

# VRs whose explicit-VR header has 2 reserved bytes and a 4-byte length (PS3.5 7.1.2)
LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT"}
VRS = LONG_VRS | set(b"AE AS AT CS DA DS DT FD FL IS LO LT PN SH SL SS ST TM UI UL US UV".split())
DATASET_GROUPS = {0x0002, 0x0008}  # a data set without preamble starts with meta or identity
HEAD = 4096  # bytes :func:`layout` looks at
WHOLE = 1024 * 1024  # files up to this size are read whole (nearly all CT, MR, SR files)


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
        done = in_memory(data, found.offset, tags, defer, BUDGET)
        with io.BytesIO(data) as raw:
            return _parse(raw, size, found.offset, tags, defer, done)
    with path.open("rb") as raw:
        return _parse(raw, os.fstat(raw.fileno()).st_size, found.offset, tags, defer)


def _parse(
    raw: BinaryIO,
    size: int,
    origin: int,
    tags: list[int],
    defer: int | None,
    done: tuple[Dataset, int, int] | None = None,
) -> Dataset:
    """The header of the data set at ``origin`` of ``raw`` (``size`` bytes), read in budget;
    ``done`` is the same parse made already (``dicom_memory.in_memory``): the data set, where the
    view is after it and how many bytes it read, for the checks that follow it."""
    fp = _Budget(raw, origin, BUDGET)
    end = size - origin
    try:
        with quiet():
            if done is None:
                ds = read_elements(fp, tags, defer)
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
