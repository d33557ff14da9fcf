"""What every adapter yields: canonical rows from a slice of one input file, with its rejects.

One type for all formats (tables, HL7 v2, DICOM, CDA), so the pipeline keeps one set of books:
for each input file, records ``read`` = converted + rejected. A record is the unit a user
would point at: a table row, an HL7 message, a DICOM file, a CDA document.

Every row's ``locator`` names its record, optionally followed by ``/`` and the part of the
record the row comes from: ``file.csv:17/其他诊断3``, ``file.hl7#3/OBX[2]``, ``doc.xml/section``.
:func:`record_of` gives the record back, so a rejected record takes all its rows with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa

from hutong.model import Reject

# LZ4 (GB/s) roughly halves what the spill and the partitions put on disk.
IPC_WRITE = pa.ipc.IpcWriteOptions(compression="lz4")


@dataclass(frozen=True)
class Spilled:
    """A conformed table as the bytes of one Arrow IPC stream, made in the worker that
    converted it: the driver appends bytes to the run's spill (see
    :class:`~hutong.partitions.Spill`) instead of unpickling a table and writing it again,
    and the pickle that crosses the processes is one compressed buffer."""

    rows: int
    data: bytes

    @classmethod
    def of(cls, table: pa.Table, schema: pa.Schema) -> Spilled:
        """``table`` as a stream of ``schema`` (its canonical one: a table of another schema
        fails here, as it would writing into the spill's own stream)."""
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, schema, options=IPC_WRITE) as writer:
            writer.write_table(table)
        return cls(table.num_rows, sink.getvalue().to_pybytes())

    def __len__(self) -> int:
        return self.rows


@dataclass
class Batch:
    """Canonical rows (frames by table name) converted from a slice of one input file."""

    source: str
    kind: str  # the adapter's name for what the file is ("case", "hl7v2", "dicom", "cda")
    read: int
    tables: dict[str, pd.DataFrame | pa.Table | Spilled]  # Arrow, Spilled: when asked
    rejects: list[Reject] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def record_of(locator: str) -> str:
    """The record part of a row locator (``file.hl7#3/OBX[2]`` → ``file.hl7#3``)."""
    return locator.split("/", 1)[0]
