"""Versioned code systems: concepts with display, parent, chapter, active and gray flags.

The national lists come as one ``CODE NAME`` per line (医保版 2.0 files); :func:`read_code_list`
reads that format, and ``hutong.terminologies.loaders`` reads the others (Excel/CSV with
detected columns, crosswalks, WHO ICD-10, value sets). A ``<stem>-gray.txt`` file beside a list
is its gray-code list (codes that must not be uploaded in the settlement list).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

DIAGNOSIS = "icd10-yb-2.0"
PROCEDURE = "icd9cm3-yb-2.0"

TITLES = {
    DIAGNOSIS: "医保疾病诊断分类与代码 ICD-10 医保版 2.0",
    PROCEDURE: "医保手术操作分类与代码 ICD-9-CM-3 医保版 2.0",
    "icd10-gl-2.0": "疾病分类代码国家临床版 2.0",
    "icd9cm3-gl-2.0": "手术操作分类代码国家临床版 2.0",
    "icd10-who-2019": "WHO ICD-10 2019 (English)",
}


class CodeListError(ValueError):
    """A code-system file that cannot be loaded; the message names the file and the row."""


@dataclass
class Concept:
    """One code of a system."""

    code: str
    display: str
    parent: str | None = None
    chapter: str | None = None
    active: bool = True
    gray: bool = False


@dataclass
class CodeSystem:
    """A versioned code system: its concepts by code, in the order of the source file."""

    id: str
    version: str
    source: str
    concepts: dict[str, Concept] = field(default_factory=dict)
    title: str = ""
    # For crosswalks (国临→医保): source code → target code, and the two systems' ids.
    targets: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.title = self.title or TITLES.get(self.id, self.id)

    def __contains__(self, code: object) -> bool:
        return code in self.concepts

    def __len__(self) -> int:
        return len(self.concepts)

    @property
    def names(self) -> dict[str, str]:
        """Code → display, for look-ups that need only the name."""
        return {c.code: c.display for c in self.concepts.values()}

    @property
    def gray(self) -> set[str]:
        return {c.code for c in self.concepts.values() if c.gray}

    @property
    def unmapped(self) -> list[str]:
        """Crosswalk source codes that have no target, in file order (empty for other systems)."""
        if not self.targets:
            return []
        return [code for code in self.concepts if code not in self.targets]

    def mark_gray(self, codes: set[str]) -> set[str]:
        """Flag ``codes`` as gray; returns the ones this system does not have."""
        unknown = codes - set(self.concepts)
        for code in codes & set(self.concepts):
            self.concepts[code].gray = True
        return unknown


# ICD-10 chapters by category range (WHO ICD-10; the 医保版 keeps WHO's chapters).
ICD10_CHAPTERS = [
    ("A00", "B99", "I"), ("C00", "D48", "II"), ("D50", "D89", "III"), ("E00", "E90", "IV"),
    ("F00", "F99", "V"), ("G00", "G99", "VI"), ("H00", "H59", "VII"), ("H60", "H95", "VIII"),
    ("I00", "I99", "IX"), ("J00", "J99", "X"), ("K00", "K93", "XI"), ("L00", "L99", "XII"),
    ("M00", "M99", "XIII"), ("N00", "N99", "XIV"), ("O00", "O99", "XV"), ("P00", "P96", "XVI"),
    ("Q00", "Q99", "XVII"), ("R00", "R99", "XVIII"), ("S00", "T98", "XIX"), ("V01", "Y98", "XX"),
    ("Z00", "Z99", "XXI"), ("U00", "U99", "XXII"),
]  # fmt: skip

_CATEGORY = re.compile(r"^([A-Z]\d{2})")
_PROC = re.compile(r"^(\d{2})\.")


def icd10_chapter(code: str) -> str | None:
    """Roman chapter number of an ICD-10 code (``I25.103`` → ``IX``)."""
    m = _CATEGORY.match(code)
    if not m:
        return None
    cat = m.group(1)
    return next((ch for lo, hi, ch in ICD10_CHAPTERS if lo <= cat <= hi), None)


def icd9_chapter(code: str) -> str | None:
    """ICD-9-CM-3 chapter as its two-digit block (``36.0700`` → ``36``)."""
    m = _PROC.match(code)
    return m.group(1) if m else None


def parent_of(code: str, known: dict[str, Concept] | set[str]) -> str | None:
    """The nearest broader code present in ``known``.

    医保版 codes nest by extension: ``I10.x00x002`` under ``I10.x00``; ``I25.103`` under
    ``I25.100``; ``36.0701`` under ``36.0700``; dagger/star pairs under their dagger code.
    """
    base = code.split("+", 1)[0]
    candidates = []
    if base != code:
        candidates.append(base)
    if "x" in base[4:] and len(base) > 7:  # x-extension: I10.x00x002 → I10.x00
        candidates.append(base[:7])
    if len(base) == 7 and base[0].isalpha() and base[3] == ".":  # I25.113 → I25.110 / I25.100
        candidates += [base[:-1] + "0", base[:5] + "00"]
    if len(base) == 7 and base[0].isdigit() and base[2] == ".":  # 36.0701 → 36.0700
        candidates.append(base[:5] + "00")
    for c in candidates:
        if c != code and c in known:
            return c
    return None


def read_code_list(path: Path, text: str | None = None) -> list[tuple[str, str]]:
    """Parse a ``CODE NAME`` file: (code, name) pairs in file order.

    A line without a name, or a code listed twice with different names, is an error naming the
    file and line; nothing is returned half-read. ``text``, when given, is the file already
    decoded (the loaders detect GBK lists); ``path`` then only names the file in errors.
    """
    if text is None:
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise CodeListError(
                f"{path}: not UTF-8 (byte {exc.start}) / 文件不是 UTF-8 编码"
            ) from exc
    pairs: list[tuple[str, str]] = []
    seen: dict[str, tuple[int, str]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        code, _, name = line.partition(" ")
        name = name.strip()
        if not name:
            raise CodeListError(f"{path}:{number}: expected 'CODE NAME', found {line!r}")
        if code in seen:
            first, other = seen[code]
            if other != name:
                raise CodeListError(
                    f"{path}:{number}: code {code} listed again with another name "
                    f"(line {first}: {other!r}) / 重复编码"
                )
            continue
        seen[code] = (number, name)
        pairs.append((code, name))
    return pairs


def build(
    system_id: str,
    version: str,
    source: str,
    pairs: list[tuple[str, str]],
    chapter: Callable[[str], str | None] | None = None,
) -> CodeSystem:
    """A code system from (code, display) pairs, with parents and chapters derived.

    ``chapter`` overrides the chapter rule guessed from the id (crosswalk and custom ids do not
    start with ``icd9``/``icd10``).
    """
    concepts = {code: Concept(code, name) for code, name in pairs}
    if chapter is None:
        chapter = icd9_chapter if system_id.startswith("icd9") else icd10_chapter
    for concept in concepts.values():
        concept.parent = parent_of(concept.code, concepts)
        concept.chapter = chapter(concept.code)
    return CodeSystem(system_id, version, source, concepts)


def load_code_system(system_id: str, path: Path, version: str = "2.0") -> CodeSystem:
    """Load a ``CODE NAME`` list and, when present, its ``-gray`` sibling."""
    system = build(system_id, version, path.as_posix(), read_code_list(path))
    gray_path = path.with_name(f"{path.stem}-gray{path.suffix}")
    if gray_path.exists():
        system.mark_gray({code for code, _ in read_code_list(gray_path)})
    return system


def sample_code_system(system_id: str) -> CodeSystem:
    """The small hand-picked sample of a national list shipped with hutong (demo, tests)."""
    folder = resources.files("hutong.terminologies").joinpath("data")
    with resources.as_file(folder.joinpath(f"sample-{system_id}.txt")) as path:
        system = load_code_system(system_id, path)
    system.source = f"builtin:sample-{system_id}"
    return system
