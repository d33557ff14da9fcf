"""Broken and hostile DICOM input is rejected with a reason, within bounded time and memory.

Files are built by :mod:`test_dicom_synthetic` and then cut, patched or padded here the way a
failed transfer, a buggy writer or an attacker would.
"""

from __future__ import annotations

import os
import random
import struct
from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.filereader import read_partial
from pydicom.uid import DeflatedExplicitVRLittleEndian, ImplicitVRLittleEndian

from fuzz_dicom import example, seeds
from hutong.adapters import dicom_header, dicom_memory
from hutong.adapters.dicom import HEADER_TAGS, read, read_dir, sniff
from hutong.adapters.dicom_header import Refused, read_header
from test_dicom_synthetic import fileset, instance, one, reject, write


def with_pixels(path: Path, **values) -> Path:
    """A 64×64 8-bit image: 4096 bytes of Pixel Data at the end of the file."""
    ds = instance(**values)
    ds.Rows = ds.Columns = 64
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.SamplesPerPixel = 1
    ds.PixelRepresentation = 0
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelData = np.arange(4096, dtype=np.uint8).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


# ---- not DICOM --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        b"",
        "患者姓名,性别\n张三,男\n".encode("gb18030"),
        b"MSH|^~\\&|HIS|||\r" * 20,
        random.Random(7).randbytes(4096),
        b"\x00" * 4096,
    ],
    ids=["empty", "csv", "hl7", "random", "zeros"],
)
def test_other_files_are_not_sniffed_and_forced_ones_are_rejected(tmp_path, content):
    path = tmp_path / "not.dcm"
    path.write_bytes(content)
    assert not sniff(content[:4096], path)
    rejected = reject(path)
    assert (rejected.reason, rejected.locator) == ("malformed", "not.dcm")
    assert "not a DICOM file" in rejected.message


def test_a_bare_data_set_is_read_even_with_a_stray_byte_before_it(tmp_path):
    full = write(tmp_path / "full.dcm").read_bytes()
    start = 132 + 12 + struct.unpack_from("<L", full, 140)[0]  # after the file meta group
    for name, data in {"bare": full[start:], "stray": b" " + full[start:]}.items():
        path = tmp_path / name
        path.write_bytes(data)
        assert sniff(data, path)
        assert one(path).rejects == []


# ---- cut and lying files ----------------------------------------------------------------------


def test_a_file_cut_in_its_pixel_data_is_truncated(tmp_path):
    data = with_pixels(tmp_path / "full.dcm").read_bytes()
    assert one(tmp_path / "full.dcm").rejects == []
    (tmp_path / "cut.dcm").write_bytes(data[: len(data) - 1000])
    rejected = reject(tmp_path / "cut.dcm")
    assert (rejected.reason, rejected.field) == ("truncated", "(7FE0,0010) PixelData")


def test_a_file_cut_in_its_header_is_truncated(tmp_path):
    data = write(tmp_path / "full.dcm", PatientName="Zhang^San").read_bytes()
    (tmp_path / "cut.dcm").write_bytes(data[: data.index(b"Zhang") + 3])
    assert reject(tmp_path / "cut.dcm").reason == "truncated"


@pytest.mark.parametrize("length", [0xFFFE, 0x7FFFFFF0, 0xFFFFFFF0])
def test_a_length_past_the_end_of_the_file_is_truncated(tmp_path, length):
    data = bytearray(with_pixels(tmp_path / "a.dcm").read_bytes())
    if length <= 0xFFFF:  # PatientName's 2-byte length
        at = data.index(b"\x10\x00\x10\x00PN") + 6
        data[at : at + 2] = struct.pack("<H", length)
    else:  # Pixel Data's 4-byte length
        at = data.index(b"\xe0\x7f\x10\x00OB") + 8
        data[at : at + 4] = struct.pack("<L", length)
    (tmp_path / "a.dcm").write_bytes(bytes(data))
    assert reject(tmp_path / "a.dcm").reason == "truncated"


# ---- large and deep ---------------------------------------------------------------------------


@pytest.mark.parametrize("size", [5_000, 200_000])
def test_a_huge_value_is_refused(tmp_path, size):
    rejected = reject(write(tmp_path / "a.dcm", PatientName="A" * size))
    assert (rejected.reason, rejected.field) == ("hostile", "(0010,0010) PatientName")


def nested(depth: int) -> bytes:
    """ContentSequence items nested ``depth`` deep, undefined lengths, never closed."""
    level = b"\x40\x00\x30\xa7SQ\x00\x00\xff\xff\xff\xff" + b"\xfe\xff\x00\xe0\xff\xff\xff\xff"
    return level * depth


def test_sequences_nested_without_end_are_refused(tmp_path):
    path = write(tmp_path / "a.dcm")
    path.write_bytes(path.read_bytes() + nested(20_000))
    rejected = reject(path)
    assert rejected.reason == "hostile" and "nested" in rejected.message


def test_a_header_past_the_budget_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(dicom_header, "BUDGET", 64 * 1024)
    items = b"".join(
        b"\xfe\xff\x00\xe0\x10\x00\x00\x00" + b"\x08\x00\x00\x01SH\x08\x00CODE0001"
        for _ in range(10_000)
    )
    path = write(tmp_path / "a.dcm")
    path.write_bytes(path.read_bytes() + b"\x40\x00\x30\xa7SQ\x00\x00\xff\xff\xff\xff" + items)
    rejected = reject(path)
    assert rejected.reason == "hostile" and "MiB" in rejected.message


# items that each hold an undefined-length value with no end: pydicom scans to the end of the
# file for the value's delimiter, gives up, and reads the next item from where the value began,
# so every item makes it read the rest of the file again
def rescans(group: bytes) -> bytes:
    """A private sequence of ``group`` (odd, 2 bytes little endian) with 40,000 such items."""
    item = b"\xfe\xff\x00\xe0\xff\xff\xff\xff" + group + b"\x10\x10OB\x00\x00\xff\xff\xff\xff"
    return (
        group + b"\x10\x00LO\x06\x00HUTONG"  # private creator, then its undefined-length sequence
        + group + b"\x00\x10SQ\x00\x00\xff\xff\xff\xff"
        + item * 40_000
    )  # fmt: skip


@pytest.mark.parametrize("group", [b"\x09\x00", b"\x41\x00"], ids=["read", "skimmed"])
def test_a_file_read_again_and_again_is_refused_within_the_budget(tmp_path, monkeypatch, group):
    """800 KB that pydicom alone reads some 30 GB of: parsed in memory (where pydicom reads
    the bytes without the budgeted view, and past the elements wanted, not at all), it is
    still refused once the budget is read."""
    path = write(tmp_path / "a.dcm")
    path.write_bytes(path.read_bytes() + rescans(group))
    assert os.path.getsize(path) <= dicom_header.WHOLE
    rejected = reject(path)
    assert rejected.reason == "hostile" and "MiB" in rejected.message
    monkeypatch.setattr(dicom_header, "WHOLE", 0)  # from disk, through the budgeted view
    assert reject(path) == rejected


def test_a_parse_in_memory_stops_once_it_has_read_the_budget(tmp_path):
    """In memory pydicom's reads are counted at its seeks: a sequence among the elements read
    (so parsed by pydicom, not skimmed) that reads past the budget stops the parse there."""
    items = b"".join(
        b"\xfe\xff\x00\xe0\x10\x00\x00\x00" + b"\x08\x00\x00\x01SH\x08\x00CODE0001"
        for _ in range(10_000)
    )  # 260 KB of ReferencedSeriesSequence
    data = write(tmp_path / "a.dcm").read_bytes()
    data += b"\x08\x00\x15\x11SQ\x00\x00\xff\xff\xff\xff" + items
    watch = dicom_memory._Watch(memoryview(data), 64 * 1024)
    with dicom_header.quiet(), pytest.raises(dicom_memory._Unsure, match="budget"):
        read_partial(watch, None, None, force=True)
    assert watch.spoiled == "budget" and 64 * 1024 < watch.used < 65 * 1024
    assert watch.vouch() is None


def test_a_deflate_bomb_is_refused_before_it_inflates(tmp_path, monkeypatch):
    ds = instance()
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    ds.add_new(0x00091010, "OB", bytes(8 * 1024 * 1024))  # a private blob of zeros
    ds.add_new(0x00090010, "LO", "HUTONG")
    ds.save_as(tmp_path / "bomb.dcm", enforce_file_format=True)
    assert os.path.getsize(tmp_path / "bomb.dcm") < 64 * 1024
    assert one(tmp_path / "bomb.dcm").rejects == []  # within the budget it is a plain file
    monkeypatch.setattr(dicom_header, "BUDGET", 1024 * 1024)
    rejected = reject(tmp_path / "bomb.dcm")
    assert rejected.reason == "hostile" and "inflates" in rejected.message


# ---- DICOMDIR ---------------------------------------------------------------------------------

FILE_ID = b"PT000000\\ST000000\\SE000000\\IM000001"


def test_a_file_id_out_of_the_folder_is_refused(tmp_path):
    dicomdir = fileset(tmp_path / "cd")
    escape = b"..\\" * 8 + b"etc\\passwd."
    assert len(escape) == len(FILE_ID)
    dicomdir.write_bytes(dicomdir.read_bytes().replace(FILE_ID, escape))
    [batch] = read(dicomdir)
    assert batch.read == 3 and len(batch.tables["imaging_instance"]) == 2
    [rejected] = batch.rejects
    assert (rejected.reason, rejected.field) == ("hostile", "(0004,1500) ReferencedFileID")


def test_a_link_out_of_the_folder_is_refused(tmp_path):
    fileset(tmp_path / "cd")
    target = tmp_path / "cd" / "PT000000" / "ST000000" / "SE000000" / "IM000001"
    outside = write(tmp_path / "outside.dcm")
    target.unlink()
    target.symlink_to(outside)
    [batch] = read_dir(tmp_path / "cd")
    assert [r.reason for r in batch.rejects] == ["hostile"]


def test_a_loop_in_the_record_offsets_ends(tmp_path):
    dicomdir = fileset(tmp_path / "cd")
    data = dicomdir.read_bytes()
    last_next = b"\x04\x00\x00\x14UL\x04\x00" + struct.pack("<L", 0)
    first_image = data.index(b"\x04\x00\x30\x14CS\x06\x00IMAGE ")  # its record type element
    start = data.rindex(b"\xfe\xff\x00\xe0", 0, first_image)  # the item it is in
    at = data.rindex(last_next)
    looped = data[:at] + last_next[:8] + struct.pack("<L", start) + data[at + 12 :]
    assert looped != data
    dicomdir.write_bytes(looped)
    [batch] = read(dicomdir)
    assert batch.read == 3 and batch.rejects == []


# ---- in memory and from disk ------------------------------------------------------------------


def outcome(path: Path) -> list:
    """Everything a read of ``path`` gives, in a form two reads can be compared by."""
    return [
        (b.read, b.rejects, b.notes, {n: (f.to_csv(), str(f.dtypes)) for n, f in b.tables.items()})
        for b in read(path)
    ]


def test_files_parsed_in_memory_and_from_disk_give_the_same_outcome(tmp_path, monkeypatch):
    """A file of at most WHOLE bytes is parsed from memory, a larger one from disk: the same
    bounds and checks apply to both, so broken files (cut at each byte of their first
    elements, and fuzzed: cut, patched, spliced) come out alike."""
    pool = seeds()
    files = dict(pool)
    inputs = []
    for i in range(120):
        name, data, _ = example(i, pool)
        inputs.append((f"{i}_{name}", data))
    for name in ("pyd_chrFren_ISO_IR100.dcm", "pyd_MR_small_implicitLE.dcm"):
        inputs += [(f"cut{k}_{name}", files[name][:k]) for k in range(128, 480)]
    outcomes = []
    for name, data in inputs:
        path = tmp_path / name
        path.write_bytes(data)
        outcomes.append((path, outcome(path)))
    monkeypatch.setattr(dicom_header, "WHOLE", 0)  # every file read from disk
    reasons = set()
    for path, in_memory in outcomes:
        assert outcome(path) == in_memory, path.name
        reasons.update(r.reason for batch in in_memory for r in batch[1])
    assert {"truncated", "malformed"} <= reasons  # the inputs did reach the checks


def header(path: Path) -> tuple:
    """What :func:`read_header` gives for ``path``: the elements and file meta read, or the
    refusal."""
    try:
        ds = read_header(path, HEADER_TAGS)
    except Refused as err:
        return ("refused", err.reason, err.message, err.field)
    elements = [(int(tag), elem.VR, repr(elem.value)) for tag, elem in ds.items()]
    meta = [(int(tag), repr(elem.value)) for tag, elem in ds.file_meta.items()]
    return ("read", elements, meta, ds.original_encoding)


# a private sequence in an explicit VR file, written as UN of undefined length with implicit VR
# items (PS3.5 6.2.2), as archives write sequences they do not know
UN_SEQUENCE = (
    b"\x41\x00\x10\x00LO\x06\x00HUTONG"
    + b"\x41\x00\x01\x10UN\x00\x00\xff\xff\xff\xff"
    + b"\xfe\xff\x00\xe0\xff\xff\xff\xff"
    + b"\x08\x00\x00\x01\x04\x00\x00\x00ABCD"
    + b"\xfe\xff\x0d\xe0\x00\x00\x00\x00"
    + b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
)


def sequences(folder: Path) -> dict[str, bytes]:
    """Well-formed files with sequences after the elements read: undefined lengths, an item
    in implicit VR, a data set in implicit VR under a file meta that says explicit."""
    ds = instance()
    item = Dataset()
    item.CodeValue, item.CodeMeaning = "ABCD", "code"
    item.is_undefined_length_sequence_item = True
    ds.ContentSequence = [item, item]
    ds["ContentSequence"].is_undefined_length = True
    ds.save_as(folder / "explicit.dcm", enforce_file_format=True)
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    ds.save_as(folder / "implicit.dcm", enforce_file_format=True)
    explicit, implicit = ((folder / n).read_bytes() for n in ("explicit.dcm", "implicit.dcm"))
    meta = 132 + 12 + struct.unpack_from("<L", explicit, 140)[0]
    start = 132 + 12 + struct.unpack_from("<L", implicit, 140)[0]
    return {
        "explicit": explicit,
        "implicit": implicit,
        "un": explicit + UN_SEQUENCE,
        "switched": explicit[:meta] + implicit[start:],
    }


def test_a_header_parsed_in_memory_is_the_one_the_budgeted_view_reads(tmp_path, monkeypatch):
    """In memory, pydicom reads the bytes directly up to the last element wanted and the rest
    is skimmed (``_Watch``, ``_Skim``); where that could differ from pydicom's whole parse
    through the budgeted view, the file is parsed through it. Files ending every way (cut in
    their last elements, padded, fuzzed) give the elements or refusal the budgeted view gives;
    the well-formed ones were all taken by the in-memory parse."""
    pool = [*seeds(), *sequences(tmp_path).items()]
    inputs = list(pool)
    for name, data in pool:
        step = len(data) // 24 + 1
        inputs += [(f"cut{k}_{name}", data[:k]) for k in range(133, len(data), step)]
        inputs += [(f"cut-{k}_{name}", data[:-k]) for k in range(1, 17)]
        inputs += [(f"pad{k}_{name}", data + bytes(k)) for k in (1, 4, 7, 8, 9, 12, 13)]
    for i in range(150):
        name, data, _ = example(i, pool)
        inputs.append((f"{i}_{name}", data))
    paths = []
    for name, data in inputs:
        paths.append(tmp_path / name)
        paths[-1].write_bytes(data)
    taken = []
    in_memory = dicom_header.in_memory

    def counted(*args):
        done = in_memory(*args)
        taken.append(done is not None)
        return done

    monkeypatch.setattr(dicom_header, "in_memory", counted)
    outcomes = []
    for path in paths:
        before = len(taken)
        outcomes.append((header(path), len(taken) > before and taken[-1]))
    monkeypatch.setattr(dicom_header, "in_memory", lambda *args: None)  # the budgeted view
    for path, (got, _) in zip(paths, outcomes, strict=True):
        assert header(path) == got, path.name
    # every well-formed file but the deflated one (inflated through the budgeted view) was
    # parsed in memory; so were some broken ones, refused by the checks after (cut Pixel Data)
    firsts = zip(pool, outcomes[: len(pool)], strict=True)
    skipped = [name for (name, _), (_, done) in firsts if not done]
    assert skipped == ["pyd_OT_deflated.dcm"]
    assert {(got[0], done) for got, done in outcomes} == {
        ("read", True),
        ("read", False),
        ("refused", True),
        ("refused", False),
    }
