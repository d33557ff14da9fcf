"""Find personal data left in an output folder before it leaves the hospital (PIPL 第28条).

``scan(folder, names)`` reads every text file under ``folder`` and reports 居民身份证 numbers
with a valid GB 11643 check digit, mainland mobile numbers, street-level addresses and any of
the given names::

    hits = scan(Path("out"), names={"张伟"})
    for hit in hits:
        print(hit)          # out/setlinfo.csv:2 name 张*

The patterns are shared with :mod:`hutong.mapping.deid_text`, so what de-identification scrubs
is exactly what the scanner looks for.
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

TEXT_SUFFIXES = {".csv", ".ndjson", ".json", ".html", ".htm", ".txt", ".xml"}

# ASCII letters count as part of a run too: an 11-digit stretch inside a hex id is no phone.
_EDGE_BEFORE = r"(?<![0-9A-Za-z])"
_EDGE_AFTER = r"(?![0-9A-Za-z])"
CERTNO_18 = re.compile(_EDGE_BEFORE + r"\d{17}[\dXx]" + _EDGE_AFTER)
CERTNO_15 = re.compile(_EDGE_BEFORE + r"\d{15}" + _EDGE_AFTER)
MOBILE = re.compile(_EDGE_BEFORE + r"(?:\+?86[- ]?)?1[3-9]\d{9}" + _EDGE_AFTER)
# Fixed lines (0xx-xxxxxxxx) are scrubbed from free text but not scanned for: too many codes
# look like them.
LANDLINE = re.compile(_EDGE_BEFORE + r"0\d{2,3}-?\d{7,8}" + _EDGE_AFTER)
_HAN = r"\u4e00-\u9fff"
_NUMBER = r"[0-9０-９一二三四五六七八九十百零〇]+"
# A street word followed by a door number: 银河南路12号, 幸福村261号, 3弄5室, 12栋3单元.
ADDRESS = re.compile(
    rf"[{_HAN}]{{1,20}}(?:路|街|大道|巷|弄|村|胡同|里|小区|社区|组|苑)"
    rf"[{_HAN}0-9\-]{{0,12}}?{_NUMBER}(?:号楼|号院|号|弄|巷|室|栋|幢|单元)"
)

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def valid_certno(text: str) -> bool:
    """True for an 18-digit GB 11643 number with a correct check digit, or a 15-digit one
    whose chars 7-12 are a valid YYMMDD date (the old format has no check digit)."""
    if len(text) == 18 and text[:17].isdigit():
        total = sum(int(c) * w for c, w in zip(text[:17], _WEIGHTS, strict=True))
        return _CHECK[total % 11] == text[17].upper()
    if len(text) == 15 and text.isdigit():
        try:
            dt.date(1900 + int(text[6:8]), int(text[8:10]), int(text[10:12]))
        except ValueError:
            return False
        return True
    return False


def mask(text: str) -> str:
    """First and last character kept, the rest starred: enough to find it, not to read it."""
    if len(text) <= 2:
        return text[:1] + "*"
    return text[0] + "*" * (len(text) - 2) + text[-1]


@dataclass(frozen=True)
class PiiHit:
    """One piece of personal data: where it is, what kind, and the text found."""

    file: Path
    line: int
    kind: str  # name, certno, mobile, address
    text: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line} {self.kind} {mask(self.text)}"

    def to_dict(self) -> dict:
        """The hit for a manifest: the matched text masked, never in clear."""
        return {
            "file": str(self.file),
            "line": self.line,
            "kind": self.kind,
            "text": mask(self.text),
        }


def find(text: str, names: Iterable[str] = ()) -> Iterator[tuple[int, str, str]]:
    """(offset, kind, matched text) of each piece of personal data in ``text``."""
    for pattern in (CERTNO_18, CERTNO_15):
        for m in pattern.finditer(text):
            if valid_certno(m.group()):
                yield m.start(), "certno", m.group()
    for m in MOBILE.finditer(text):
        yield m.start(), "mobile", m.group()
    for m in ADDRESS.finditer(text):
        yield m.start(), "address", m.group()
    named = names_pattern(names)
    if named is not None:
        for m in named.finditer(text):
            yield m.start(), "name", m.group()


def names_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    """One alternation of the names of two or more characters, longest first (李娜之女 before
    李娜); None when there is none."""
    usable = sorted({n.strip() for n in names if n and len(n.strip()) >= 2}, key=len, reverse=True)
    if not usable:
        return None
    # A Latin name is a word of its own ("OR" is not found inside "OBR"); Han names have no
    # word boundaries to rely on.
    parts = [
        rf"(?<![A-Za-z]){re.escape(n)}(?![A-Za-z])" if n.isascii() else re.escape(n) for n in usable
    ]
    return re.compile("|".join(parts))


def scan(folder: Path, names: Iterable[str] = frozenset()) -> list[PiiHit]:
    """Every piece of personal data in the text files under ``folder``, by file and line."""
    names = list(names)
    hits: list[PiiHit] = []
    for path in sorted(Path(folder).rglob("*")):
        if not path.is_file() or path.suffix.lower() not in TEXT_SUFFIXES:
            continue
        text = _read(path)
        newlines = [m.start() for m in re.finditer("\n", text)]
        for offset, kind, found in find(text, names):
            line = bisect.bisect_left(newlines, offset) + 1
            hits.append(PiiHit(path, line, kind, found))
    return sorted(hits, key=lambda h: (str(h.file), h.line, h.kind, h.text))


def _read(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # A file that is not UTF-8 is still scanned: its ASCII digits decode either way.
        return data.decode("utf-8", errors="replace")
