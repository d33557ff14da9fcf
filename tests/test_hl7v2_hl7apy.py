"""The fast ER7 reader against hl7apy on every corpus message hl7apy can parse: the same segments
in the same order, and the same values in a sample of fields.

hl7apy re-serialises what it parsed through its data-type model (trailing empty components
dropped, numbers normalised, withdrawn components removed), so values are compared on the first
three components of each repetition, blanks trimmed, which is what the converters read.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import SHARED, need
from hutong.adapters.hl7v2.er7 import Message
from hutong.adapters.hl7v2.reader import messages

hl7apy_parser = pytest.importorskip("hl7apy.parser")

SAMPLE = {  # fields the converters read
    "MSH": (3, 4, 7, 9, 10, 11, 12),
    "EVN": (2,),
    "PID": (3, 5, 7, 8, 11, 18),
    "PV1": (2, 3, 7, 10, 19, 36, 44, 45),
    "MRG": (1,),
    "DG1": (3, 6, 15),
    "PR1": (3, 5),
    "ORC": (1, 2, 3, 5, 9, 12),
    "OBR": (2, 3, 4, 7, 22, 24, 25),
    "OBX": (2, 3, 6, 7, 8, 11, 14),
    "FT1": (7, 10, 11),
    "RXE": (2, 3, 5),
    "RXR": (1,),
    "TQ1": (3, 7, 8, 9),
}


def _normal(reps: list[str], component: str) -> list[list[str]]:
    out = [[c.strip() for c in rep.split(component)[:3]] for rep in reps]
    out = [rep[: max((i + 1 for i, c in enumerate(rep) if c), default=0)] for rep in out]
    while out and not out[-1]:
        out.pop()
    return out


def _er7(msg: Message) -> str:
    """The message as ER7 again, from the reader's own fields (MSH-1/2 folded back)."""
    sep = msg.syntax.delimiters.field
    lines = []
    for seg in msg.segments:
        fields = seg.fields[2:] if seg.name == "MSH" else seg.fields[1:]
        lines.append(seg.name + sep + sep.join(fields))
    return "\r".join(lines)


def _differences(ours: Message, theirs) -> list[str]:
    names = [c.name for c in theirs.children]
    if names != [s.name for s in ours.segments]:
        return [f"segments differ: {names} != {[s.name for s in ours.segments]}"]
    comp = ours.syntax.delimiters.component
    out = []
    for seg, other in zip(ours.segments, theirs.children, strict=True):
        for n in SAMPLE.get(seg.name, ()):
            hl7apy_reps = [c.to_er7() for c in other.children if c.name == f"{seg.name}_{n}"]
            if _normal(hl7apy_reps, comp) != _normal(seg.reps(n), comp):
                out.append(f"{seg.label}-{n}: {hl7apy_reps!r} != {seg.raw(n)!r}")
    return out


def test_fast_reader_agrees_with_hl7apy():
    from hl7apy.consts import VALIDATION_LEVEL

    corpus = need(SHARED / "corpus" / "hl7v2", "the HL7 v2 corpus (../shared/corpus/hl7v2)")
    files = sorted(p for p in corpus.iterdir() if p.suffix in (".hl7", ".mllp"))
    compared, refused, problems = 0, [], []
    for path in files:
        for record, msg in messages(path):
            text = _er7(msg)
            try:
                theirs = hl7apy_parser.parse_message(
                    text, find_groups=False, validation_level=VALIDATION_LEVEL.TOLERANT
                )
            except Exception as exc:  # hl7apy refuses 2.3.z, 5 encoding characters, ...
                refused.append(f"{record}: {type(exc).__name__}")
                continue
            compared += 1
            problems += [f"{record} {d}" for d in _differences(msg, theirs)]
    assert problems == []
    assert compared >= 80, refused  # 83 of the 90 messages the reader parses, as of hl7apy 1.3.5
    # how much faster the reader is: measured in benchmarks/hl7_fhir.py, never asserted here


def test_the_reader_parses_what_hl7apy_refuses(tmp_path: Path):
    """The reader parses what hl7apy refuses: a v2.7 truncation character in a 2.5.1 message."""
    text = "MSH|^~\\&#|A|B|||20250101||ORU^R01|1|P|2.5.1\rPID|1||42"
    path = tmp_path / "m.hl7"
    path.write_text(text, "utf-8")
    (record, msg), *_ = list(messages(path))
    assert record == "m.hl7#1" and msg.syntax.delimiters.truncation == "#"
