"""Help for integrators: what is this file, and does a profile cover it?

``inspect`` names the format, encoding, HL7 version and message types, DICOM modality, CDA
template, and for tables the columns, sample values and the built-in profile that fits best.
``check_profile`` lists the columns and values a profile does not cover.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from hutong.adapters.detect import detect, head_of
from hutong.adapters.encoding import decode
from hutong.adapters.profile import Group, Profile, builtin_profiles, load_profile
from hutong.adapters.raw import read_raw
from hutong.terminologies.valuesets import valuesets

SAMPLES = 3


def inspect(path: Path) -> dict:
    """A description of ``path`` as plain data (the CLI prints it)."""
    fmt = detect(path)
    info: dict = {
        "file": path.as_posix(),
        "format": fmt or "unrecognized",
        "bytes": path.stat().st_size,
    }
    if fmt == "table":
        info.update(_table(path))
    elif fmt == "hl7v2":
        info.update(_hl7(path))
    elif fmt == "dicom":
        info.update(_dicom(path))
    elif fmt == "cda":
        info.update(_cda(path))
    return info


def _table(path: Path) -> dict:
    raw = read_raw(path)
    samples = {}
    for i, column in enumerate(raw.header):
        values = [r[i].strip() for r in raw.rows if i < len(r) and r[i].strip()]
        samples[column] = list(dict.fromkeys(values))[:SAMPLES]
    ranked = sorted(
        ((score, name) for name, score in profile_scores(path, raw.header).items()), reverse=True
    )
    best = ranked[0] if ranked and ranked[0][0] > 0 else None
    return {
        "encoding": raw.encoding,
        "records": len(raw.rows),
        "columns": raw.header,
        "samples": samples,
        "profile": best[1] if best else None,
        "profile_scores": {name: round(score, 2) for score, name in ranked},
        "notes": raw.notes,
    }


def profile_scores(path: Path, header: list[str]) -> dict[str, float]:
    """How well each built-in profile fits a table: share of a file kind's key columns present."""
    scores = {}
    columns = set(header)
    for name in builtin_profiles():
        profile = load_profile(name)
        best = 0.0
        for kind in profile.files.values():
            wanted = set(kind.header) | set(kind.required)
            share = len(wanted & columns) / len(wanted) if wanted else 0.0
            best = max(best, share + (0.01 if kind.matches_name(path) else 0.0))
        scores[name] = best
    return scores


def guess_profile(paths: list[Path]) -> Profile:
    """The built-in profile whose file kinds fit these table files best (all key columns).

    Raises ``ProfileMismatch`` naming each profile's fit when none fits a file fully.
    """
    from hutong.adapters.table import ProfileMismatch

    totals: Counter = Counter()
    for path in paths:
        header = read_raw(path).header
        scores = profile_scores(path, header)
        if max(scores.values(), default=0.0) < 1.0:
            fits = ", ".join(f"{n} {s:.0%}" for n, s in sorted(scores.items()))
            raise ProfileMismatch(
                f"{path}: no built-in profile fits this table / 没有匹配的配置 ({fits}); "
                f"write one and pass --profile (columns: {', '.join(header[:20])})"
            )
        totals.update(scores)
    return load_profile(max(sorted(totals), key=lambda name: totals[name]))


_MSH = re.compile(r"(?:^|[\r\n\x0b])(MSH.{4})([^\r\n\x1c]*)")


def _hl7(path: Path) -> dict:
    text = decode(path.read_bytes()).text
    versions, types = Counter(), Counter()
    for m in _MSH.finditer(text):
        sep = m.group(1)[3]
        fields = (m.group(1) + m.group(2)).split(sep)
        component = m.group(1)[4]
        kind = fields[8].split(component)[:2] if len(fields) > 8 else ["?"]
        types["^".join(k for k in kind if k) or "?"] += 1
        versions[
            fields[11].split(component)[0] if len(fields) > 11 and fields[11] else "(empty)"
        ] += 1
    return {
        "messages": sum(types.values()),
        "versions": dict(versions),
        "message_types": dict(types),
    }


def _dicom(path: Path) -> dict:
    import pydicom

    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
    except Exception as exc:  # any pydicom failure is a finding here, not a crash
        return {"error": f"not readable as DICOM: {exc}"}
    return {
        "modality": str(ds.get("Modality", "")) or None,
        "sop_class": str(getattr(ds.get("SOPClassUID"), "name", ds.get("SOPClassUID", ""))) or None,
        "charset": ds.get("SpecificCharacterSet"),
        "transfer_syntax": str(getattr(ds.file_meta, "TransferSyntaxUID", "")) or None,
        "study_description": str(ds.get("StudyDescription", "")) or None,
    }


_TEMPLATE = re.compile(rb'<templateId[^>]*root="([0-9.]+)"')
_CODE = re.compile(rb'<code[^>]*code="([^"]+)"[^>]*codeSystem="([0-9.]+)"')


def _cda(path: Path) -> dict:
    head = head_of(path, 64 * 1024)  # the header is at the top; never parse the whole file here
    templates = [t.decode() for t in _TEMPLATE.findall(head)[:5]]
    code = _CODE.search(head)
    info = {"templates": templates, "document_code": None}
    if code:
        info["document_code"] = f"{code.group(1).decode()} ({code.group(2).decode()})"
    if "2.16.156.10011.2.1.1.52" in templates:
        info["document"] = "WS/T 500.52 住院病案首页"
    return info


def check_profile(profile: Profile, path: Path) -> dict:
    """Columns the profile expects but the file lacks, file columns it does not use, and local
    values its value tables do not cover (with counts)."""
    raw = read_raw(path, profile.encoding)
    kind = profile.kind_of(path, raw.header)
    if kind is None:
        return {"file": path.as_posix(), "kind": None, "columns": raw.header}
    used: dict[str, str] = {}
    for _, group in profile.groups_for(kind.name):
        for n in group.instances():
            for field, column in group.columns.items():
                used[Group.fill(column, n)] = field
    present = set(raw.header)
    # Columns of repeated groups are optional (an export may stop at 其他诊断8); others are not.
    fixed = {
        c for _, g in profile.groups_for(kind.name) if g.repeat is None for c in g.columns.values()
    }
    missing = sorted(c for c in fixed if c not in present)
    uncovered: dict[str, dict[str, int]] = {}
    for column, field in used.items():
        if column not in present or (field not in profile.values and field not in valuesets()):
            continue
        table = profile.values.get(field, {})
        national = valuesets().get(field)
        i = raw.header.index(column)
        counts = Counter(r[i].strip() for r in raw.rows if i < len(r) and r[i].strip())
        bad = {
            v: n
            for v, n in counts.items()
            if v not in table and (national is None or v not in national)
        }
        if bad:
            uncovered[f"{column} ({field})"] = dict(sorted(bad.items()))
    return {
        "file": path.as_posix(),
        "kind": kind.name,
        "missing_required": [c for c in kind.required if c not in present],
        "missing_mapped": missing,
        "unused_columns": [c for c in raw.header if c not in used],
        "uncovered_values": uncovered,
    }
