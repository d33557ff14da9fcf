"""HL7 v2 adapter: ER7 files and MLLP streams (v2.2–2.8) → canonical rows.

One call per file::

    from hutong.adapters import hl7v2
    for batch in hl7v2.read(Path("feed.hl7")):
        batch.tables["observation"]  # rows; batch.rejects: the messages that could not be

A record is a message. ADT A01/A03/A04/A08 give patients, encounters, diagnoses and procedures;
A40 patient links; ORU^R01 (and OUL^R22) reports and observations; ORM/OML orders; DFT charges;
RDE medications. Every other message type is rejected as ``unsupported``, never dropped.
"""

from __future__ import annotations

import re
from pathlib import Path

from hutong.adapters.hl7v2.reader import read

__all__ = ["read", "sniff"]

# MLLP start byte, UTF-8 BOM and blank lines may come first; then a header segment whose name
# is followed by a field separator and at least three encoding characters, none alphanumeric.
_HEAD = re.compile(rb"\x0b?(?:\xef\xbb\xbf)?[\s\x0b]*(?:MSH|FHS|BHS)[^\w\s](?:[^\w\s]){3}")


def sniff(head: bytes, path: Path) -> bool:
    """True when ``head`` (the first bytes of ``path``) starts like an HL7 v2 file."""
    return _HEAD.match(head) is not None
