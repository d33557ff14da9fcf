"""Curated mappings in and out of the store: FHIR R4 ConceptMap JSON, and CSV for spreadsheets.

Both round-trip losslessly: export → import into a fresh store → export gives the same document
and the same mapping rows (status, equivalence, score, author, reviewer, comment, target
version). A ConceptMap carries hutong's review state in extensions on each target
(``urn:hutong:ext:map-status``, ``…:author``, ``…:reviewer``, ``…:score``); a reader that ignores
them sees every exported mapping as valid, so export only ``statuses=("approved", "auto")`` for
systems outside hutong.

A local term with no local code is an element with a ``display`` and no ``code`` (R4 allows an
element without a code); a term with no name has no ``display``. The ConceptMap ``version`` is a
digest of the mapped content: equal content, equal version.

>>> doc = export_conceptmap(store, "vendor-a:diagnosis", "icd10-yb-2.0")  # doctest: +SKIP
>>> import_conceptmap(other_store, doc, user="alice")  # doctest: +SKIP
{'created': 12, 'updated': 0, 'unchanged': 0}
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import select

from hutong.terminologies import tables as db
from hutong.terminologies.tables import (
    APPLIED,
    EQUIVALENCES,
    STATUSES,
    add_mapping,
    change,
    clean,
    demote_others,
    displays,
    lock_term,
    system_row,
    term_id,
    unknown_codes,
)

if TYPE_CHECKING:
    from hutong.terminologies.curation import Mapping
    from hutong.terminologies.store import Store

LOCAL_PREFIX = "urn:hutong:cs:local:"
SYSTEM_PREFIX = "urn:hutong:cs:"
EXT = {
    "status": ("urn:hutong:ext:map-status", "valueCode"),
    "author": ("urn:hutong:ext:author", "valueString"),
    "reviewer": ("urn:hutong:ext:reviewer", "valueString"),
    "score": ("urn:hutong:ext:score", "valueDecimal"),
}
CSV_COLUMNS = [
    "local_system", "local_code", "local_name", "target", "code", "display", "status",
    "equivalence", "score", "author", "reviewer", "comment", "target_version",
]  # fmt: skip


def export_conceptmap(
    store: Store, local_system: str, target: str, statuses: Sequence[str] | None = None
) -> dict[str, Any]:
    """The mappings of ``local_system`` into ``target`` as a FHIR R4 ConceptMap (JSON dict)."""
    rows = store.mappings(local_system=local_system, target=target, statuses=statuses)
    source, target_uri = f"{LOCAL_PREFIX}{local_system}", f"{SYSTEM_PREFIX}{target}"
    groups = []
    for version, in_version in groupby(sorted(rows, key=_order), lambda m: m.target_version):
        elements = []
        for (code, name), of_term in groupby(in_version, lambda m: (m.local_code, m.local_name)):
            element: dict[str, Any] = {"code": code, "display": name}
            element = {k: v for k, v in element.items() if v}
            element["target"] = [_target(m) for m in of_term]
            elements.append(element)
        groups.append(
            {"source": source, "target": target_uri, "targetVersion": version, "element": elements}
        )
    digest = hashlib.sha256(json.dumps(groups, sort_keys=True).encode()).hexdigest()[:16]
    pending = any(m.status in ("unreviewed", "flagged") for m in rows)
    return {
        "resourceType": "ConceptMap",
        "url": f"urn:hutong:conceptmap:{local_system}:{target}",
        "identifier": {"system": "urn:hutong:conceptmap", "value": f"{local_system}|{target}"},
        "version": digest,
        "title": f"{local_system} → {target}",
        "status": "draft" if pending else "active",
        "sourceUri": source,
        "targetUri": target_uri,
        "group": groups,
    }


def import_conceptmap(store: Store, data: dict[str, Any], user: str) -> dict[str, int]:
    """Load a ConceptMap (as exported by hutong) into ``store``, in one transaction.

    The document must validate as a FHIR R4 ConceptMap, name a hutong local system as its
    source and a stored code system (and version) as each group's target. Targets without
    hutong's extensions come in as ``unreviewed`` candidates authored by ``user``.
    """
    from fhir.resources.R4B.conceptmap import ConceptMap

    ConceptMap.model_validate(data)
    local_system = _strip(data.get("sourceUri"), LOCAL_PREFIX, "sourceUri")
    records = []
    for g, group in enumerate(data.get("group", [])):
        if group.get("source", data["sourceUri"]) != data["sourceUri"]:
            raise ValueError(f"group[{g}]: source {group['source']} is not {data['sourceUri']}")
        target = _strip(group.get("target", data.get("targetUri")), SYSTEM_PREFIX, "target")
        for e, element in enumerate(group.get("element", [])):
            for t, mapped in enumerate(element.get("target", [])):
                ext = {x["url"]: x for x in mapped.get("extension", [])}
                found = {k: ext[url][value] for k, (url, value) in EXT.items() if url in ext}
                records.append(
                    {
                        "at": f"group[{g}].element[{e}].target[{t}]",
                        "local_system": local_system, "local_code": element.get("code"),
                        "local_name": element.get("display"), "target": target,
                        "target_version": group.get("targetVersion"), "code": mapped.get("code"),
                        "display": mapped.get("display"), "equivalence": mapped["equivalence"],
                        "comment": mapped.get("comment"), **found,
                    }
                )  # fmt: skip
    return import_mappings(store, records, user)


def export_csv(
    store: Store,
    path: Path,
    local_system: str | None = None,
    target: str | None = None,
    statuses: Sequence[str] | None = None,
) -> int:
    """Write mappings to a CSV (UTF-8 with BOM, for Excel); returns the number of rows.

    Columns: ``local_system, local_code, local_name, target, code, display, status,
    equivalence, score, author, reviewer, comment, target_version``.
    """
    rows = store.mappings(local_system=local_system, target=target, statuses=statuses)
    frame = pd.DataFrame(
        [{c: getattr(m, c) for c in CSV_COLUMNS} for m in rows], columns=CSV_COLUMNS
    )
    frame.to_csv(Path(path), index=False, encoding="utf-8-sig", lineterminator="\n")
    return len(frame)


def import_csv(store: Store, path: Path, user: str) -> dict[str, int]:
    """Load mappings from a CSV written by :func:`export_csv` (or edited from one).

    ``target_version`` may be absent or empty (the current version); errors name the line.
    """
    path = Path(path)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    if missing := [c for c in CSV_COLUMNS[:-1] if c not in frame.columns]:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
    records = []
    for line, row in enumerate(frame.to_dict("records"), start=2):
        record = {k: (v if v != "" else None) for k, v in row.items()}
        try:
            score = None if record["score"] is None else float(record["score"])
        except ValueError:
            raise ValueError(f"{path}:{line}: score {record['score']!r} is not a number") from None
        records.append({**record, "at": f"{path}:{line}", "score": score})
    return import_mappings(store, records, user)


def import_mappings(store: Store, records: list[dict[str, Any]], user: str) -> dict[str, int]:
    """Create or update mappings from records (one transaction, each change audited).

    A record names its local term, target system (and version: ``None`` means current), code,
    and review fields; its ``at`` locates it in the input for error messages. A mapping whose
    fields already match is left alone; applied ones are written last, demoting others.
    """
    if not clean(user):
        raise ValueError("an import needs the importing user")
    records = [_checked(r, user) for r in records]
    _one_applied_per_term(records)
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    with store._write() as conn:  # the store's own write transaction: all or nothing
        for record in sorted(records, key=lambda r: r["status"] in APPLIED):
            system = system_row(conn, record["target"], record["target_version"])
            name = displays(conn, system, [record["code"]]).get(record["code"])
            if name is None:
                raise ValueError(f"{record['at']}: {unknown_codes(system, [record['code']])}")
            term = term_id(
                conn, record["local_system"], record["local_code"], record["local_name"],
                record["target"],
            )  # fmt: skip
            lock_term(conn, term)
            values = {k: record[k] for k in _FIELDS} | {"target_version": system.version}
            values["display"] = values["display"] or name
            key = {"local_term_id": term, "target_system": record["target"]}
            row = conn.execute(
                select(db.mapping).where(
                    *[db.mapping.c[k] == v for k, v in key.items()],
                    db.mapping.c.code == record["code"],
                )
            ).mappings().first()  # fmt: skip
            if values["status"] in APPLIED:
                demote_others(conn, row or {"id": None, **key}, user)
            if row is None:
                add_mapping(conn, {**key, "code": record["code"], **values}, user, "import")
                counts["created"] += 1
            elif diff := {k: v for k, v in values.items() if row[k] != v}:
                change(conn, row, diff, user, "import")
                counts["updated"] += 1
            else:
                counts["unchanged"] += 1
    return counts


_FIELDS = ("display", "status", "equivalence", "score", "author", "reviewer", "comment")


def _checked(record: dict[str, Any], user: str) -> dict[str, Any]:
    at = record.get("at", "record")
    out = {**record, "at": at}
    for key in ("local_system", "local_code", "local_name", "target", "code"):
        out[key] = clean(record.get(key))
    for key in ("local_system", "target", "code"):
        if not out[key]:
            raise ValueError(f"{at}: {key} is empty")
    if not out["local_code"] and not out["local_name"]:
        raise ValueError(f"{at}: a local term needs a code or a name (both are empty)")
    out["status"] = record.get("status") or "unreviewed"
    out["equivalence"] = record.get("equivalence") or "equivalent"
    out["author"] = record.get("author") or user
    for key, allowed in (("status", STATUSES), ("equivalence", EQUIVALENCES)):
        if out[key] not in allowed:
            raise ValueError(f"{at}: {key} {out[key]!r} is not one of {', '.join(allowed)}")
    for key in ("display", "reviewer", "comment", "score", "target_version"):
        out[key] = record.get(key)
    if out["score"] is not None:
        out["score"] = float(out["score"])
    return out


def _one_applied_per_term(records: list[dict[str, Any]]) -> None:
    seen: dict[tuple[str, ...], str] = {}
    for r in records:
        if r["status"] in APPLIED:
            key = (r["local_system"], r["local_code"], r["local_name"], r["target"])
            if key in seen:
                raise ValueError(
                    f"{r['at']}: a second applied mapping for {key[1] or '-'} {key[2]} into "
                    f"{key[3]} (first at {seen[key]}); a term has at most one"
                )
            seen[key] = r["at"]


def _target(m: Mapping) -> dict[str, Any]:
    values = {"status": m.status, "author": m.author, "reviewer": m.reviewer, "score": m.score}
    extension = [
        {"url": url, kind: values[key]}
        for key, (url, kind) in EXT.items()
        if values[key] is not None
    ]
    target = {"code": m.code, "display": m.display, "equivalence": m.equivalence}
    if m.comment:
        target["comment"] = m.comment
    return {"extension": extension, **target}


def _order(m: Mapping) -> tuple[str, str, str, str]:
    return (m.target_version, m.local_code, m.local_name, m.code)


def _strip(uri: str | None, prefix: str, what: str) -> str:
    if not uri or not uri.startswith(prefix) or len(uri) == len(prefix):
        raise ValueError(f"{what} {uri!r} is not a hutong system URI ({prefix}<name>)")
    return uri[len(prefix) :]
