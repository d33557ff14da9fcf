"""The face sheet's CSV rows and 4101 documents, built a column at a time by Arrow's kernels.

``csv.writer`` and ``orjson.dumps`` take a Python object per cell, about a microsecond each, and
a partition's face sheet has over a million cells. Here every cell is Arrow text (null where
empty), each column is escaped once (the few cells that need more than quotes go through the
reference encoder) and the lines are joined element-wise. The bytes are those of
``csv.writer(out, lineterminator="\\n")`` and of ``orjson.dumps`` of the documents that
:func:`hutong.mapping.facesheet.documents` yields; tests hold both against them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

TEXT = pa.large_string()  # 64-bit offsets: a whole run may be one partition of gigabytes
Columns = Mapping[str, pa.Array]  # a node's cells as Arrow text, null where empty


def _csv_special() -> str:
    """RE2 class of the characters that make ``csv.writer`` quote a field: the delimiter, the
    quote and the line end, and a carriage return where the Python that runs quotes it whatever
    the line end is (3.11 does not); asked of the csv module itself."""
    probe = io.StringIO()
    csv.writer(probe, lineterminator="\n").writerow(["a\rb", "c"])
    return r'[,"\n\r]' if probe.getvalue().startswith('"') else r'[,"\n]'


_CSV_SPECIAL = _csv_special()
_JSON_SPECIAL = r'[\x00-\x1f"\\]'  # what a JSON string must escape; orjson escapes no more


def text(values: list | pa.Array | pa.ChunkedArray) -> pa.Array:
    """Cells (text or None) as one Arrow text array."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        return values if values.type == TEXT else values.cast(TEXT)
    return pa.array(values, type=TEXT)


def _s(value: str) -> pa.Scalar:
    return pa.scalar(value, type=TEXT)


def _join(*parts: pa.Array | str) -> pa.Array:
    """Element-wise concatenation of arrays and constant strings (null where any is null)."""
    return pc.binary_join_element_wise(*(_s(p) if isinstance(p, str) else p for p in parts), _s(""))


def _rows(parts: list[pa.Array | str], rows: int) -> pa.Array:
    """:func:`_join` of ``parts`` for ``rows`` rows, also when every part is a constant."""
    parts = _merged(parts)
    if all(isinstance(p, str) for p in parts):
        return pa.array(["".join(parts)] * rows, type=TEXT)  # type: ignore[arg-type]
    return _join(*parts)


def _body(lines: pa.Array) -> memoryview:
    """The lines' bytes, each followed by a newline, as one buffer (no Python string each)."""
    ended = _join(lines, "\n")
    if isinstance(ended, pa.ChunkedArray):
        ended = ended.combine_chunks()
    if len(ended) == 0:
        return memoryview(b"")
    offsets = np.frombuffer(ended.buffers()[1], dtype=np.int64)
    start, end = int(offsets[ended.offset]), int(offsets[ended.offset + len(ended)])
    return memoryview(ended.buffers()[2])[start:end]


def _mask(matches: pa.Array) -> np.ndarray:
    return np.asarray(matches.fill_null(False), dtype=bool)


def _bytes(special: bytes) -> np.ndarray:
    table = np.zeros(256, dtype=bool)
    table[list(special)] = True
    return table


_CSV_BYTES = _bytes(b',"\n\r')  # a superset of _CSV_SPECIAL's characters, for a quick look
_JSON_BYTES = _bytes(bytes(range(0x20)) + b'"\\')


def _holds(cells: pa.Array, special: np.ndarray) -> bool:
    """Whether any cell holds one of the ``special`` bytes (one pass over the column's text
    bytes: most columns hold none, and then no cell is looked at)."""
    data = cells.buffers()[2]
    if data is None or len(cells) == 0:
        return False
    offsets = np.frombuffer(cells.buffers()[1], dtype=np.int64)
    start, end = offsets[cells.offset], offsets[cells.offset + len(cells)]
    return bool(special[np.frombuffer(data, dtype=np.uint8)[start:end]].any())


def csv_bytes(columns: Columns) -> bytes | memoryview:
    """The header and rows ``csv.writer(lineterminator="\\n")`` writes for these columns."""
    header = io.StringIO()
    writer = csv.writer(header, lineterminator="\n")
    writer.writerow(columns)
    cells = [text(c) for c in columns.values()]
    if len(cells) < 2 or len(cells[0]) == 0:  # a one-field row has its own rules: csv's own
        writer.writerows(zip(*(c.to_pylist() for c in cells), strict=True))
        return header.getvalue().encode("utf-8")
    parts: list[pa.Array | str] = []
    for i, cell in enumerate(cells):
        if i:
            parts.append(",")
        if cell.null_count == len(cell):
            continue  # an empty field
        if _holds(cell, _CSV_BYTES):
            quoted = _join('"', pc.replace_substring(cell, '"', '""'), '"')
            cell = pc.if_else(pc.match_substring_regex(cell, _CSV_SPECIAL), quoted, cell)
        parts.append(cell.fill_null(_s("")) if cell.null_count else cell)
    return header.getvalue().encode("utf-8") + _body(_rows(parts, len(cells[0])))


def _json_values(cells: pa.Array) -> pa.Array:
    """Each cell as its JSON value: a quoted string, or ``null``."""
    values = _join('"', cells, '"')
    if _holds(cells, _JSON_BYTES):  # quotes, backslashes, control characters: orjson's way
        special = _mask(pc.match_substring_regex(cells, _JSON_SPECIAL))
        spelled = [orjson.dumps(v).decode("utf-8") for v in cells.filter(special).to_pylist()]
        values = pc.replace_with_mask(values, pa.array(special), pa.array(spelled, type=TEXT))
    return values.fill_null(_s("null"))


def _object(columns: dict[str, pa.Array]) -> list[pa.Array | str]:
    """The parts of one JSON object per row, ``{"name":value,...}``: constants where a column
    is all null, quotes in the constants where it has no null and nothing to escape."""
    parts: list[pa.Array | str] = ["{"]
    for i, (name, cells) in enumerate(columns.items()):
        cells = text(cells)
        key = ("," if i else "") + orjson.dumps(name).decode("utf-8") + ":"
        if cells.null_count == len(cells):
            parts.append(key + "null")
        elif cells.null_count == 0 and not _holds(cells, _JSON_BYTES):
            parts += [key + '"', cells, '"']
        else:
            parts += [key, _json_values(cells)]
    parts.append("}")
    return _merged(parts)


def _merged(parts: list[pa.Array | str]) -> list[pa.Array | str]:
    """Neighbouring constant strings as one (fewer arguments to the join)."""
    out: list[pa.Array | str] = []
    for p in parts:
        if isinstance(p, str) and out and isinstance(out[-1], str):
            out[-1] += p
        else:
            out.append(p)
    return out


def _lists(node: Columns, keys: pa.Array, rows: int) -> pa.Array:
    """Per case (in the order of ``keys``), its rows of ``node`` as JSON objects joined with
    commas, in their order in the node; rows of no listed case are left out."""
    columns = {name: text(c) for name, c in node.items()}
    own = columns.pop("mdtrt_id")
    objects = _rows(_object(columns), len(own))
    position = pc.index_in(own, value_set=keys)
    where = np.asarray(position.fill_null(-1), dtype=np.int64)
    kept = np.flatnonzero(where >= 0)
    order = kept[np.argsort(where[kept], kind="stable")]  # by case, node order within one
    offsets = np.zeros(rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(where[kept], minlength=rows), out=offsets[1:])
    per_case = pa.LargeListArray.from_arrays(pa.array(offsets), objects.take(pa.array(order)))
    return pc.binary_join(per_case, _s(","))


def documents_bytes(nodes: Mapping[str, Columns]) -> memoryview | None:
    """The 4101 documents, one line per setlinfo row (``None`` when its ``mdtrt_id`` values are
    missing or repeated: the general path decides what such cases get)."""
    setl = {name: text(c) for name, c in nodes["setlinfo"].items()}
    keys = setl["mdtrt_id"]
    rows = len(keys)
    if keys.null_count or pc.count_distinct(keys).as_py() != rows:
        return None
    if rows == 0:
        return memoryview(b"")
    parts: list[pa.Array | str] = ['{"setlinfo":', *_object(setl)]
    parts.append(',"payinfo":[],"opspdiseinfo":[]')
    for node in ("diseinfo", "iteminfo", "oprninfo"):  # the order the documents hold them
        parts += [f',"{node}":[', _lists(nodes[node], keys, rows), "]"]
    parts.append(',"icuinfo":[]}')
    return _body(_rows(parts, rows))
