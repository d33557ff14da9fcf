"""Keyed pseudonyms: HMAC-SHA256 of a namespace and a value, so the same identifier gives the
same token in every table, file and run that uses the same key, and nothing without the key.

The namespace keeps a 病案号 and a 就诊ID that happen to be equal from getting equal tokens.
"""

from __future__ import annotations

import hashlib
import hmac

import pandas as pd


def digest(key: bytes, namespace: str, value: str) -> bytes:
    """HMAC-SHA256(key, namespace + US + value); US (0x1f) cannot occur in either part."""
    return hmac.new(key, f"{namespace}\x1f{value}".encode(), hashlib.sha256).digest()


def token(key: bytes, namespace: str, prefix: str, value: str) -> str:
    """A short stable pseudonym: ``prefix`` + 16 hex characters (64 bits) of the HMAC."""
    return prefix + digest(key, namespace, value).hex()[:16]


def dicom_uid(key: bytes, value: str) -> str:
    """A valid DICOM UID for ``value``: ``2.25.`` + 128 bits of the HMAC as a decimal (the
    UUID-derived root of PS3.5 B.2, at most 44 characters)."""
    return "2.25." + str(int.from_bytes(digest(key, "dicom-uid", value)[:16], "big"))


def shift_days(key: bytes, patient_id: str, limit: int) -> int:
    """The patient's date offset in days: in −limit..+limit, never 0."""
    n = int.from_bytes(digest(key, "date-shift", patient_id)[:8], "big")
    magnitude = n % limit + 1
    return magnitude if (n >> 32) & 1 else -magnitude


def pseudonymise(values: pd.Series, make) -> pd.Series:
    """``make(value)`` for each distinct non-empty value of the column; empty stays empty."""
    present = values.notna() & (values.astype("string").str.strip() != "")
    distinct = values[present].astype(str).unique()
    tokens = {v: make(v) for v in distinct}
    out = values.astype(object).where(~present, None)
    out[present] = values[present].astype(str).map(tokens)
    return out
