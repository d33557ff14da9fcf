"""Stable resource ids: UUIDv5 of ``identifier system + "|" + identifier value``.

The same case exported twice, or converted on two machines, gets the same FHIR ids, so a re-run
overwrites rather than duplicates on a FHIR server.
"""

from __future__ import annotations

import uuid
from hashlib import sha1
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from hutong.mapping.fhir.datatypes import per_value, text
from hutong.mapping.fhir.systems import namespace, vendor_system

if TYPE_CHECKING:
    from hashlib import _Hash


def resource_id(system: str, value: str) -> str:
    """The id of the resource whose first identifier is ``system|value``.

    >>> resource_id("urn:hutong:sid:vendor-a:medcasno", "B0001")
    '83937204-3b59-5d12-9361-ce689cafa32b'
    """
    return str(uuid.uuid5(namespace(), f"{system}|{value}"))


def resource_ids(systems: pd.Series, values: pd.Series) -> pd.Series:
    """Column form of :func:`resource_id` (``uuid5`` has no vectorised kernel; this is the one
    per-value step, and it works on plain strings: Python lists, not the Arrow-backed Series)."""
    firsts, seconds = systems.tolist(), values.tolist()
    if all(type(s) is str for s in firsts) and all(type(v) is str for v in seconds):
        keys = [f"{s}|{v}" for s, v in zip(firsts, seconds, strict=True)]
    else:
        keys = (systems.astype(str) + "|" + values.astype(str)).tolist()
    start = sha1(namespace().bytes, usedforsecurity=False)
    return pd.Series(_uuid5s(start, keys), index=systems.index, dtype=object)


def _uuid5s(start: _Hash, names: list[str]) -> list[str]:
    """``str(uuid.uuid5(namespace, name))`` (RFC 4122 §4.3) of each name without building UUID
    objects, from ``start``, a SHA-1 that has hashed the namespace's bytes.

    Only the hashing is per name; the version and variant bits, the hex digits and the dashes
    are set on all the digests at once with NumPy (spelling each id alone was half the time)."""
    if not names:
        return []
    copy = start.copy
    digests = []
    append = digests.append
    for name in names:
        digest = copy()
        digest.update(name.encode("utf-8"))
        append(digest.digest())
    raw = np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(-1, 20)[:, :16].copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x50  # version 5
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # the RFC 4122 variant, 10xx
    digits = np.frombuffer(raw.tobytes().hex().encode("ascii"), dtype=np.uint8).reshape(-1, 32)
    spelled = np.full((len(names), 37), ord("-"), dtype=np.uint8)
    for start_at, (first, last) in zip(_GROUPS, _SPANS, strict=True):
        spelled[:, start_at : start_at + last - first] = digits[:, first:last]
    spelled[:, 36] = ord("\n")  # one split cuts the ids apart
    return spelled.tobytes().decode("ascii").split("\n")[:-1]


# Where each group of a UUID's 32 hex digits goes among its 36 characters (8-4-4-4-12).
_SPANS = ((0, 8), (8, 12), (12, 16), (16, 20), (20, 32))
_GROUPS = (0, 9, 14, 19, 24)


def vendor_keyed(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """The frame with the resource ``id`` from the vendor's identifier ``column`` (``order_id``,
    ``report_id``, ...): ``key_system`` is ``urn:hutong:sid:<vendor>:<column>``, ``key_value``
    the column's value."""
    out = frame.assign(
        key_system=per_value(text(frame["vendor"]), lambda v: vendor_system(v, column)),
        key_value=text(frame[column]),
    )
    out["id"] = resource_ids(out["key_system"], out["key_value"])
    return out
