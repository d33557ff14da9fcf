"""What every adapter yields: canonical rows from a slice of one input file, with its rejects.

One type for all formats (tables, HL7 v2, DICOM, CDA), so the pipeline keeps one set of books:
for each input file, records ``read`` = converted + rejected. A record is the unit a user
would point at: a table row, an HL7 message, a DICOM file, a CDA document.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from hutong.model import Reject


@dataclass
class Batch:
    """Canonical rows (frames by table name) converted from a slice of one input file."""

    source: str
    kind: str  # the adapter's name for what the file is ("case", "hl7v2", "dicom", "cda")
    read: int
    tables: dict[str, pd.DataFrame]
    rejects: list[Reject] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
