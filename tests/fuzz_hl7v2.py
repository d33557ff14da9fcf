"""Fuzzing the HL7 v2 adapter: seeded mutations of the corpus files never raise, and every
message of a mutated file is converted (rows that fit the canonical schema) or rejected.

Mutations: byte flips, truncation, duplicated / removed / shuffled segments, delimiter swaps,
MSH-2 and MSH-18 damage, re-encoding (GB18030, Latin-1, UTF-16, mojibake), segment-ending
changes, and inserted NUL, MLLP, BOM and batch bytes. ``make test`` runs a short budget;
``make fuzz`` sets ``HUTONG_FUZZ_EXAMPLES=10000``. Example ``i`` depends only on ``i``, so a
failure names the one example to rerun (``HUTONG_FUZZ_ONLY=i``); its bytes are kept beside the
test's temporary folder.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from pathlib import Path

from conftest import SHARED, need
from fuzzing import fuzz
from hutong.adapters import hl7v2
from hutong.adapters.batch import record_of
from hutong.adapters.hl7v2.reader import INTERNAL
from hutong.model import conform

ENDS = re.compile(rb"\r\n|\r|\n")
DELIMS = b"|^~\\&#"
INSERTS = [
    b"\x00",
    b"\x0b",
    b"\x1c\r",
    b"\xef\xbb\xbf",
    b"\rBHS|^~\\&\r",
    b"\rMSH|",
    b"\x1a",
    b"\xff",
]
CHARSETS = [b"UNICODE UTF-8", b"GB18030", b"8859/1", b"ASCII", b"NOPE", b"UNICODE UTF-16", b""]


def seeds() -> list[tuple[str, bytes]]:
    folder = need(SHARED / "corpus" / "hl7v2", "the HL7 v2 corpus (../shared/corpus/hl7v2)")
    return [(p.name, p.read_bytes()) for p in sorted(folder.iterdir()) if p.suffix != ".md"]


def _lines(data: bytes) -> list[bytes]:
    return ENDS.split(data)


def _flip(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


def _truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(len(data))]


def _segments(data: bytes, rng: random.Random) -> bytes:
    """Duplicate, remove or swap segments (lines)."""
    lines = _lines(data)
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    action = rng.choice(["dup", "drop", "swap", "repeat"])
    if action == "dup":
        lines.insert(j, lines[i])
    elif action == "drop":
        del lines[i]
    elif action == "swap":
        lines[i], lines[j] = lines[j], lines[i]
    else:
        lines[i:i] = [lines[i]] * rng.choice([10, 100, 1000])
    return b"\r".join(lines)


def _delimiters(data: bytes, rng: random.Random) -> bytes:
    """Swap two delimiters everywhere, or in MSH-2 only, or in one segment."""
    a, b = rng.sample(list(DELIMS), 2)
    table = bytes.maketrans(bytes([a, b]), bytes([b, a]))
    where = rng.choice(["all", "msh2", "line"])
    if where == "all":
        return data.translate(table)
    if where == "msh2":
        at = data.find(b"MSH")
        return (
            data
            if at < 0
            else data[: at + 4] + data[at + 4 : at + 9].translate(table) + data[at + 9 :]
        )
    lines = _lines(data)
    i = rng.randrange(len(lines))
    lines[i] = lines[i].translate(table)
    return b"\r".join(lines)


def _charset(data: bytes, rng: random.Random) -> bytes:
    """Re-encode the text, double-encode it, or make MSH-18 say something else."""
    text = data.decode("utf-8", errors="replace")
    choice = rng.choice(["gb18030", "latin-1", "utf-16", "mojibake", "msh18"])
    if choice == "msh18":
        lines = _lines(data)
        for k, line in enumerate(lines):
            if line.startswith(b"MSH") and len(line) > 4:
                fields = line.split(line[3:4])
                fields += [b""] * (18 - len(fields))
                fields[17] = rng.choice(CHARSETS)
                lines[k] = line[3:4].join(fields)
        return b"\r".join(lines)
    if choice == "mojibake":
        return text.encode("utf-8").decode("latin-1").encode("utf-8")
    return text.encode(choice, errors="replace")


def _endings(data: bytes, rng: random.Random) -> bytes:
    lines = _lines(data)
    ends = [b"\r", b"\n", b"\r\n", b"\n\r", b"\x1c\x0d\x0b"]
    return b"".join(line + rng.choice(ends) for line in lines)


def _insert(data: bytes, rng: random.Random) -> bytes:
    out = data
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(out) + 1)
        out = out[:at] + rng.choice(INSERTS) + out[at:]
    return out


def _splice(data: bytes, rng: random.Random) -> bytes:
    """Repeat a slice, or blow one field up with delimiters."""
    at = rng.randrange(len(data))
    if rng.random() < 0.5:
        piece = data[at : at + rng.randint(1, 200)]
        return data[:at] + piece * rng.randint(2, 200) + data[at:]
    return data[:at] + bytes([rng.choice(DELIMS)]) * rng.choice([100, 20_000]) + data[at:]


MUTATIONS = {
    "flip": _flip,
    "truncate": _truncate,
    "segments": _segments,
    "delimiters": _delimiters,
    "charset": _charset,
    "endings": _endings,
    "insert": _insert,
    "splice": _splice,
}
WEIGHTS = {k: 1 for k in MUTATIONS} | {"flip": 3, "segments": 2, "delimiters": 2}


def example(i: int, pool: list[tuple[str, bytes]]) -> tuple[str, bytes, list[str]]:
    """Example ``i``: a corpus file with one to three mutations (names in order)."""
    rng = random.Random(f"hutong-fuzz-hl7v2/{i}")
    name, data = rng.choice(pool)
    names = rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()), k=rng.randint(1, 3))
    for mutation in names:
        if len(data) > 1:
            data = MUTATIONS[mutation](data, rng)
    return name, data, names


def check(path: Path) -> Counter:
    """Read ``path``: every record converted or rejected, once; rows fit their schema."""
    outcomes: Counter = Counter()
    seen: set[str] = set()
    for batch in hl7v2.read(path):
        converted = {record_of(loc) for f in batch.tables.values() for loc in f["locator"]}
        rejected = {r.locator for r in batch.rejects}
        assert not converted & rejected and not (converted | rejected) & seen
        assert batch.read == len(converted) + len(batch.rejects), batch
        seen |= converted | rejected
        for reject in batch.rejects:
            assert reject.message and reject.locator and INTERNAL not in reject.message, reject
            outcomes[reject.reason] += 1
        outcomes["converted"] += len(converted)
        for table, frame in batch.tables.items():
            conform(table, frame)
    return outcomes


def test_fuzz_hl7v2(tmp_path):
    pool = seeds()
    fuzz("hl7v2", tmp_path, lambda i: example(i, pool), check)
