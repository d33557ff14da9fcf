"""Fuzzing the DICOM adapter: seeded mutations of the corpus files never raise, and every
mutated file's records are converted (rows that fit the canonical schema) or rejected.

``make test`` runs a short budget; ``make fuzz`` sets ``HUTONG_FUZZ_EXAMPLES=10000``. Example
``i`` depends only on ``i``, so a failure names the one example to rerun
(``HUTONG_FUZZ_ONLY=i``); its bytes are kept beside the test's temporary folder.
"""

from __future__ import annotations

import random
import struct
from collections import Counter
from pathlib import Path

from conftest import SHARED, need
from fuzzing import fuzz
from hutong.adapters import dicom
from hutong.model import conform

VRS = [
    *b"AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN "
    b"UR US UT UV".split()
]
LONG = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT"}
LENGTHS = [0, 1, 3, 7, 0xFF, 0xFFFF, 0x10000, 0x7FFFFFFF, 0xFFFFFFFE, 0xFFFFFFFF]
PIXELS = (b"\xe0\x7f\x10\x00", b"\x7f\xe0\x00\x10")
DEEP = b"\xfe\xff\x00\xe0\xff\xff\xff\xff" + b"\x08\x00\x15\x11SQ\x00\x00\xff\xff\xff\xff"


def seeds() -> list[tuple[str, bytes]]:
    """The corpus files (the DICOMDIR among them), by name."""
    folder = need(SHARED / "corpus" / "dicom", "the DICOM corpus (../shared/corpus/dicom)")
    return [(p.name, p.read_bytes()) for p in sorted(folder.iterdir())]


def _header_end(data: bytes) -> int:
    """Where Pixel Data starts (mutations there only reach bytes the reader skips)."""
    found = [i for i in (data.find(p) for p in PIXELS) if i > 0]
    return min([*found, len(data)])


def _flip(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        out[rng.randrange(_header_end(data))] = rng.randrange(256)
    return bytes(out)


def _truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(len(data))]


def _length(data: bytes, rng: random.Random) -> bytes:
    """Corrupt the length of one element: after an explicit VR, or at a random header offset
    (an implicit VR length) when the file has none."""
    end = _header_end(data)
    spots = [i for i in range(132, min(end, 65536) - 8) if data[i : i + 2] in VRS]
    out = bytearray(data)
    value = rng.choice([*LENGTHS, rng.randrange(2**32), len(data)])
    big = "<" if rng.random() < 0.9 else ">"
    if spots:
        at = rng.choice(spots)
        if bytes(data[at : at + 2]) in LONG:
            out[at + 4 : at + 8] = struct.pack(f"{big}L", value)
        else:
            out[at + 2 : at + 4] = struct.pack(f"{big}H", value & 0xFFFF)
    else:
        at = rng.randrange(max(end - 4, 1)) & ~1
        out[at : at + 4] = struct.pack(f"{big}L", value)
    return bytes(out)


def _splice(data: bytes, rng: random.Random) -> bytes:
    """Repeat a slice of the header, or insert deeply nested undefined-length sequences."""
    end = _header_end(data)
    at = rng.randrange(end)
    if rng.random() < 0.3:
        return data[:at] + DEEP * rng.choice([10, 500, 5000]) + data[at:]
    piece = data[at : at + rng.randint(1, 256)]
    return data[:at] + piece * rng.randint(2, 50) + data[at:]


MUTATIONS = {"flip": _flip, "truncate": _truncate, "length": _length, "splice": _splice}
WEIGHTS = {"flip": 4, "truncate": 2, "length": 4, "splice": 1}


def example(i: int, pool: list[tuple[str, bytes]]) -> tuple[str, bytes, list[str]]:
    """Example ``i``: a corpus file with one to three mutations (names in order)."""
    rng = random.Random(f"hutong-fuzz-dicom/{i}")
    name, data = rng.choice(pool)
    names = rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()), k=rng.randint(1, 3))
    for mutation in names:
        if len(data) > 1:
            data = MUTATIONS[mutation](data, rng)
    return name, data, names


def check(path: Path) -> Counter:
    """Read ``path``: records read = converted + rejected, rows fit their schema."""
    outcomes: Counter = Counter()
    for batch in dicom.read(path):
        instances = batch.tables.get("imaging_instance")
        converted = 0 if instances is None else len(instances)
        assert batch.read == converted + len(batch.rejects), batch
        for reject in batch.rejects:
            assert reject.message and reject.locator
            outcomes[reject.reason] += 1
        outcomes["converted"] += converted
        for table, frame in batch.tables.items():
            conform(table, frame)
    return outcomes


def test_fuzz_dicom(tmp_path):
    pool = seeds()
    fuzz("dicom", tmp_path, lambda i: example(i, pool), check)
