"""Stable resource ids: UUIDv5 of ``identifier system + "|" + identifier value``.

The same case exported twice, or converted on two machines, gets the same FHIR ids, so a re-run
overwrites rather than duplicates on a FHIR server.
"""

from __future__ import annotations

import uuid
from hashlib import sha1
from typing import TYPE_CHECKING

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


# The RFC 4122 variant bits (10xx) set on the first hex digit of the clock sequence.
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def _uuid5(prefix: bytes, name: str) -> str:
    """``str(uuid.uuid5(namespace, name))`` (RFC 4122 §4.3) without building UUID objects;
    ``prefix`` is the namespace's bytes. The version (5) and variant are set on the hex text."""
    h = sha1(prefix + name.encode("utf-8"), usedforsecurity=False).hexdigest()
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}"


def _uuid5s(start: _Hash, names: list[str]) -> list[str]:
    """:func:`_uuid5` of each name, from ``start``, a SHA-1 that has hashed the namespace."""
    out = []
    append = out.append
    copy = start.copy
    variant = _VARIANT
    for name in names:
        digest = copy()
        digest.update(name.encode("utf-8"))
        h = digest.hexdigest()
        append(f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{variant[h[16]]}{h[17:20]}-{h[20:32]}")
    return out


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
