"""``read``: an HL7 v2 file → batches of canonical rows, one record per message.

Every message read is either converted (its rows in the batch tables) or rejected (one
:class:`~hutong.model.Reject` with ``file.hl7#n`` and a reason); text outside any message is a
record of its own, rejected. Nothing raises for bad input: a bug in a converter becomes a
``malformed`` reject that says "could not convert", so a run goes on and the fuzz tests see it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cache
from itertools import repeat
from operator import itemgetter
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from hutong.adapters.batch import Batch
from hutong.adapters.hl7v2 import er7
from hutong.adapters.hl7v2.charsets import declared, decode_message
from hutong.adapters.hl7v2.context import Context, Notes, Rejected
from hutong.adapters.hl7v2.framing import Chunk, Envelope, chunks
from hutong.adapters.hl7v2.messages import convert, header
from hutong.adapters.hl7v2.profile import Profile, load
from hutong.gcpause import paused_gc
from hutong.model import SCHEMAS, Reject

KIND = "hl7v2"
INTERNAL = "could not convert"  # marks a converter bug on the reject path


class _Slice:
    """Records, rows, rejects and notes of the batch being filled."""

    def __init__(self) -> None:
        self.read = 0
        self.rows: dict[str, list[tuple]] = {}  # values in schema column order, one per row
        self.rejects: list[Reject] = []
        self.notes = Notes()


def read(
    path: Path, batch_size: int = 5000, profile: Profile | str | Path | None = None
) -> Iterator[Batch]:
    """Yield batches of at most ``batch_size`` messages from one HL7 v2 file."""
    prof = profile if isinstance(profile, Profile) else load(profile)
    source = path.as_posix()
    envelope = Envelope()
    part = _Slice()
    with path.open("rb") as stream:
        bom = stream.read(2)
        stream.seek(0)
        if bom in (b"\xff\xfe", b"\xfe\xff"):
            why = "UTF-16 file: HL7 v2 files are read as byte streams (UTF-8, GB18030, Latin-1)"
            yield Batch(source, KIND, 1, {}, [Reject(source, path.name, "encoding", why)])
            return
        records = chunks(stream, envelope)
        while True:
            with paused_gc():  # never across a yield: the consumer runs with the collector on
                for chunk in records:
                    part.read += 1
                    _record(chunk, path, prof, part)
                    if part.read >= batch_size:
                        break
                else:
                    break
                full = _batch(source, part, [])
            yield full
            part = _Slice()
        notes = envelope.notes()
        if part.read == 0 and not notes and not part.notes.counts:
            notes.append("empty file / 空文件")
        last = _batch(source, part, notes)
    yield last


def _record(chunk: Chunk, path: Path, profile: Profile, part: _Slice) -> None:
    source = path.as_posix()
    if chunk.kind == "stray":
        shown = chunk.lines[0][:40] if chunk.lines else b""
        part.rejects.append(
            Reject(
                source,
                f"{path.name}:{chunk.line}",
                chunk.problem.reason if chunk.problem else "malformed",
                f"text outside any HL7 message (no MSH before it), starting {shown!r}",
            )
        )
        return
    record = f"{path.name}#{chunk.number}"
    try:
        rows, ordered = _message(chunk, source, record, profile, part.notes)
    except Rejected as exc:
        where = f"message {chunk.number} (line {chunk.line})"
        value = None if exc.value is None else str(exc.value)[:200]
        part.rejects.append(Reject(source, record, exc.reason, f"{where}: {exc}", exc.field, value))
        return
    except Exception as exc:  # a converter bug must not stop the run; the fuzz tests look for it
        message = f"{INTERNAL}: {type(exc).__name__}: {exc}"[:300]
        part.rejects.append(Reject(source, record, "malformed", message))
        return
    for table, table_rows in rows.items():
        if table_rows:
            part.rows.setdefault(table, []).extend(_values(table, table_rows))
    for table, values in ordered.items():
        if values:
            part.rows.setdefault(table, []).extend(values)


def _values(table: str, rows: list[dict]) -> list[tuple]:
    """Each row's values in schema column order, taken while the message's rows are fresh (one
    C call per row) so the batch's frame is a transposition, not a lookup per cell."""
    if table not in _PARTIAL:
        try:
            return list(map(_getter(table), rows))
        except KeyError:  # a row without some column: None there, as ``row.get`` gives
            _PARTIAL.add(table)  # converters write such rows of this table: go there first
    names = SCHEMAS[table].names
    return [tuple(map(row.get, names)) for row in rows]


_PARTIAL: set[str] = set()  # tables whose rows were found without some of their columns


@cache
def _getter(table: str) -> Callable[[dict], tuple]:
    return itemgetter(*SCHEMAS[table].names)


def _message(
    chunk: Chunk, source: str, record: str, profile: Profile, notes: Notes
) -> tuple[dict[str, list[dict]], dict[str, list[tuple]]]:
    """The message's rows by table: as dicts, and as values in schema order."""
    if chunk.problem is not None:
        raise Rejected(chunk.problem.reason, chunk.problem.message, chunk.problem.field)
    text = decode_message(b"\r".join(chunk.lines), declared(chunk.lines[0]))
    if text.note:
        notes.add(text.note, record)
    if text.bad_bytes:
        raise Rejected(
            "encoding", f"{text.bad_bytes} bytes not decodable as {text.codec} / 无法解码"
        )
    try:
        msg = er7.parse(text.text.split("\r"), text.codec)
        head, head_notes = header(msg)
    except er7.Malformed as exc:
        raise Rejected("malformed", str(exc), exc.field, exc.value) from None
    for note in [*msg.notes, *head_notes]:
        notes.add(note, record)
    vendor = head.sender or "hl7v2"
    ctx = Context(msg, source, record, vendor, profile, notes)
    convert(ctx, head)
    for where in sorted(msg.syntax.truncated):
        notes.add(f"{where}: value truncated by the sender (truncation character)", record)
    return ctx.rows, ctx.ordered


def _batch(source: str, part: _Slice, notes: list[str]) -> Batch:
    tables = {t: _frame(t, rows) for t, rows in part.rows.items() if rows}
    return Batch(source, KIND, part.read, tables, part.rejects, [*part.notes.lines(), *notes])


def frame(table: str, rows: list[dict]) -> pd.DataFrame:
    """Rows as a frame with the table's canonical columns and dtypes."""
    return _frame(table, _values(table, rows))


def _frame(table: str, rows: list[tuple]) -> pd.DataFrame:
    """Rows of values in schema column order as a frame with the canonical dtypes.

    Arrow reads the rows as structs in one pass (transposing them in Python walked every row
    once per column: most of the cost) and gives the columns as a canonical table would have
    them (text as Arrow strings). Values Arrow refuses for their column's type take the Python
    path, which keeps them as they are, for ``conform`` to name."""
    if rows:
        try:
            structs = pa.array(rows, type=_struct(table))
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
            pass
        else:
            return pa.Table.from_struct_array(structs).to_pandas(types_mapper=_DTYPES.get)
    return _python_frame(table, rows)


_DTYPES = {pa.int32(): pd.Int32Dtype()}  # whole numbers stay whole when some are missing


@cache
def _struct(table: str) -> pa.StructType:
    return pa.struct(list(SCHEMAS[table]))


def _python_frame(table: str, rows: list[tuple]) -> pd.DataFrame:
    """:func:`_frame` a column at a time, values kept as Python objects."""
    columns = {}
    names = SCHEMAS[table].names
    transposed = zip(*rows, strict=True) if rows else repeat((), len(names))
    for f, values in zip(SCHEMAS[table], transposed, strict=True):
        values = list(values)
        if pa.types.is_timestamp(f.type):
            dtype = "datetime64[s]"
        elif pa.types.is_integer(f.type):
            dtype = "Int32"
        elif pa.types.is_floating(f.type):
            dtype = "float64"
            values = np.array(values, dtype=np.float64)  # None becomes NaN
        else:
            dtype = "object"  # strings and dates (date32) stay Python objects, None for null
        columns[f.name] = pd.Series(values, dtype=dtype)
    return pd.DataFrame(columns, copy=False)


def messages(path: Path) -> Iterator[tuple[str, er7.Message]]:
    """(record, parsed message) for every message of ``path`` that ER7 syntax accepts, without
    converting it: the fast reader alone, for checks and benchmarks."""
    with path.open("rb") as stream:
        for chunk in chunks(stream, Envelope()):
            if chunk.kind != "message" or chunk.problem is not None:
                continue
            text = decode_message(b"\r".join(chunk.lines), declared(chunk.lines[0]))
            try:
                yield f"{path.name}#{chunk.number}", er7.parse(text.text.split("\r"), text.codec)
            except er7.Malformed:
                continue
