"""Which HL7 v2 version a message is read as, and whether its structure exists there.

hl7apy ships the message structures of every v2 version it knows (2.1 … 2.8.2); the fast reader
does not need them to split a message, but they tell a sender's typo (``2.3.z``, ``ORU_R01X``)
from a real version, and the nearest known version to read a newer one as.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache

from hutong.adapters.hl7v2.er7 import Malformed

_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


@cache
def known() -> dict[tuple[int, ...], str]:
    """Versions hl7apy has libraries for, by number tuple."""
    from hl7apy import SUPPORTED_LIBRARIES

    return {tuple(int(p) for p in v.split(".")): v for v in SUPPORTED_LIBRARIES}


@lru_cache(maxsize=256)  # a feed repeats a few MSH-12 values; a refused one is not kept
def version_of(msh12: str) -> tuple[str, str | None]:
    """(version to read the message as, note when it differs from MSH-12); raise
    :class:`Malformed` when MSH-12 is empty or not a v2 version."""
    written = msh12.strip()
    if not written:
        raise Malformed("MSH-12 version id is empty / 缺少版本号", "MSH-12")
    match = _VERSION.match(written)
    if match is None or match.group(1) != "2":
        raise Malformed(f"MSH-12 {written!r} is not an HL7 v2 version", "MSH-12", written)
    number = tuple(int(g) for g in match.groups() if g is not None)
    versions = known()
    if number in versions and match.end() == len(written):
        return versions[number], None
    if number in versions:
        nearest = versions[number]
    else:
        lower = [v for v in versions if v <= number]
        nearest = versions[max(lower)] if lower else versions[min(versions)]
    return nearest, f"MSH-12 {written!r} is not a version hl7apy knows; read as {nearest}"


@cache
def structures(version: str) -> frozenset[str]:
    """Message structure names (``ADT_A01``) of a version, from hl7apy's library."""
    from hl7apy import load_library

    return frozenset(load_library(version).MESSAGES)


def structure_note(version: str, structure: str) -> str | None:
    """A note when MSH-9.3 names a structure the version does not define."""
    if not structure or structure in structures(version):
        return None
    return f"MSH-9.3 {structure!r} is not a v{version} message structure"
