"""CDA adapter: HL7 CDA R2 documents (C-CDA, WS/T 500) → canonical rows, one document a record.

>>> from pathlib import Path
>>> batch = next(read(Path("samples/cda/C0032_2024123308.xml")))  # doctest: +SKIP

A WS/T 500.52 住院病案首页 becomes the full face sheet (patient, encounter, diagnoses, procedures,
fees); any other CDA document its patient and encounter from the header plus the C-CDA sections
it knows (problems, procedures, results, medications, vital signs); an unstructured body or a
header-only document its patient and encounter, with a note. A document that is hostile, not
XML, not a ClinicalDocument or without a patient id is one reject; no input raises.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
from lxml import etree

from hutong.adapters.batch import Batch
from hutong.adapters.cda import ccda, header, wst500
from hutong.adapters.cda.document import V3, Doc, local
from hutong.adapters.cda.safe import Refused, head_text, parse, prolog
from hutong.model import SCHEMAS, Reject

__all__ = ["read", "sniff"]

KIND = "cda"
VENDOR = "cda"
ROOT = "ClinicalDocument"


def sniff(head: bytes, path: Path) -> bool:
    """Whether ``head`` (the first KB of ``path``) starts an HL7 v3 ClinicalDocument.

    A DOCTYPE is looked past, so a hostile document is still read here (and refused).
    """
    _, rest = prolog(head_text(head))
    if rest is None:
        text = head_text(head)
        found = re.search(r"<([\w.-]+:)?ClinicalDocument\b", text)
        rest = text[found.start() :] if found else None
    if rest is None:
        return False
    start = re.match(r"<(?:([\w.-]+):)?ClinicalDocument\b([^>]*)", rest)
    if start is None:
        return False
    prefix, attrs = start.group(1), start.group(2)
    xmlns = rf"xmlns:{re.escape(prefix)}" if prefix else r"xmlns"
    return re.search(rf"{xmlns}\s*=\s*[\"']{re.escape(V3)}[\"']", attrs) is not None


def read(path: Path, batch_size: int = 500) -> Iterator[Batch]:
    """One batch for the file's one document (``batch_size`` is for the adapters' common API)."""
    source = path.as_posix()
    try:
        tables, notes = convert(parse(path), path.name)
    except Refused as refused:
        reject = Reject(
            source,
            refused.locator or path.name,
            refused.reason,
            refused.message,
            field=refused.field,
        )
        yield Batch(source, KIND, 1, {}, [reject], [])
        return
    frames = {
        table: _frame(table, rows, source, path.name) for table, rows in tables.items() if rows
    }
    yield Batch(source, KIND, 1, frames, [], notes)


def convert(root, name: str) -> tuple[dict[str, list[dict]], list[str]]:
    """Rows by table and notes for one parsed document; raises :class:`Refused`."""
    if local(root) != ROOT or etree.QName(root).namespace != V3:
        raise Refused("unsupported", f"root element is {root.tag!r}, not a CDA ClinicalDocument")
    doc = Doc(root, name)
    patient = header.patient(doc)
    facesheet = wst500.is_facesheet(root)
    encounter = header.encounter(doc, patient, facesheet)
    tables: dict[str, list[dict]] = {"patient": [patient]}
    if facesheet:
        encounter = encounter or {"patient_id": patient["patient_id"], "enc_class": "IMP"}
        tables.update(wst500.convert(doc, encounter))
    else:
        if wst500.is_wst500(root):
            doc.notes.append("WS/T 500 document other than 住院病案首页: header and C-CDA sections")
        mdtrt_id = encounter["mdtrt_id"] if encounter else None
        tables.update(ccda.convert(doc, patient["patient_id"], mdtrt_id))
    if encounter:
        tables["encounter"] = [encounter]
    return tables, [f"{name}: {note}" for note in doc.notes]


def _frame(table: str, rows: list[dict], source: str, name: str) -> pd.DataFrame:
    """A canonical frame with provenance, typed by its schema (a mistyped value fails here, at
    the adapter, not in an emitter); a key outside the schema is a bug, not data."""
    schema = SCHEMAS[table]
    unknown = {k for row in rows for k in row} - set(schema.names)
    if unknown:
        raise ValueError(f"cda adapter wrote columns not in {table}: {sorted(unknown)}")
    provenance = {"source": source, "locator": name, "vendor": VENDOR}
    typed = pa.Table.from_pylist([{**provenance, **row} for row in rows], schema=schema)
    return typed.to_pandas()
