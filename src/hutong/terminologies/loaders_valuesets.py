"""One national value set out of ``valuesets.json`` (the compiled reference in ../shared).

The file mixes three shapes: ``{"codes": {...}}`` blocks (face sheet), bare ``code → name``
maps with ``_source`` notes (20号文), and ``{"values": [...]}`` label lists whose labels are
their own codes. The catalogue entry (block, key, field) says where a set lives.
"""

from __future__ import annotations

import json
from pathlib import Path

from hutong.terminologies.codesystem import CodeListError, CodeSystem, Concept
from hutong.terminologies.loaders_systems import SystemInfo


def read_valueset(path: Path, info: SystemInfo, version: str) -> CodeSystem:
    """The value set ``info`` names, as a flat code system (no parents, no chapters)."""
    if not path.is_file():
        raise CodeListError(f"{path}: no such file / 文件不存在")
    raw = path.read_bytes()
    if not raw.strip():
        raise CodeListError(f"{path}: empty file / 空文件")
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise CodeListError(f"{path}: not UTF-8 (byte {exc.start}) / 编码错误") from exc
    except json.JSONDecodeError as exc:
        raise CodeListError(f"{path}:{exc.lineno}: not JSON ({exc.msg})") from exc
    assert info.entry is not None, info.name
    block, key = info.entry
    where = f"{path}#{block}.{key}"
    entry = data.get(block, {}).get(key) if isinstance(data, dict) else None
    codes = _codes(entry, info.field)
    if codes is None:
        raise CodeListError(f"{where}: no code list for value set {info.name} / 值域不存在")
    concepts = {}
    for code, name in codes.items():
        if not str(code).strip() or not isinstance(name, str) or not name.strip():
            raise CodeListError(f"{where}[{code!r}]: empty code or name / 编码或名称为空")
        concepts[str(code).strip()] = Concept(str(code).strip(), name.strip())
    if not concepts:
        raise CodeListError(f"{where}: value set {info.name} has no codes / 值域为空")
    return CodeSystem(info.name, version, where, concepts, title=info.title)


def _codes(entry: object, field: str | None) -> dict[str, object] | None:
    if not isinstance(entry, dict):
        return None
    if field is not None or "codes" in entry:
        codes = entry.get(field or "codes")
        return codes if isinstance(codes, dict) else None
    if isinstance(entry.get("values"), list):
        return {str(v): str(v) for v in entry["values"]}
    if entry.keys() & {"source", "status", "note"}:
        return None  # a described block without a transcribed code list
    return {k: v for k, v in entry.items() if not k.startswith("_")}
