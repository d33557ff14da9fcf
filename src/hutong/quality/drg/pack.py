"""Load a CHS-DRG rule pack from a folder: ``load_pack(Path(".../chs-drg-2.0"))``.

A pack folder holds nine files, read as they are (UTF-8):

- ``adrg.txt`` — ``CODE NAME`` per line, ADRGs in rule order. 1st letter = MDC; 2nd letter =
  kind (A–J surgical, K–Q non-OR procedure, R–Z medical).
- ``drg.tsv`` — ``DRGCODE<TAB>NAME``; DRG = ADRG + suffix 1 (MCC), 3 (CC), 5 (neither), 9 (no
  split). The suffixes present for an ADRG say how it splits.
- ``mdc_rules.json`` — ``[{"code": "MDCB", "name": ..., "identifyingDiagnoses": [...]}]``;
  MDCZ has ``"mdczCategories": {"头颈部创伤": [...], ...}`` instead.
- ``adrg_rules.json`` — ``[{"code", "name", "rule": {"sections": {name: [codes]},
  "logic": str, "_logicRPN": [{"type": "SECTION", "name": ...} | "&&" | "||"], and optional
  flags "requiredProcedureGroups", "requiredReferencedADRGs", "referencedADRGs",
  "anyProcedureRequired", "zeroProceduresRequired"}}]``. A section name containing 主要 is
  principal-only, 其他 secondary-only, otherwise any position; 诊断 = diagnosis section,
  手术/操作 = procedure section.
- ``mcc_codes.json``, ``cc_codes.json`` — ``{icd10: exclusion-table id}``.
- ``cce_codes.json`` — ``{principal icd10: exclusion-table id}``.
- ``zd_invalid.json``, ``ss_invalid.json`` — ``{code: true}``: diagnoses that cannot be a
  principal, procedures that never drive grouping.

The pack's name is the folder name. Everything grouping needs is precomputed once, including
per-MDC indexes (index.py) so a case is matched without scanning every ADRG. Two readings go
beyond the file format, both needed for the official tables to work (docs/drg-pack.md):
referenced ADRGs' procedures match at any position, and MDCP ADRGs whose name gives no age are
for neonates (< 29 days). ``sample_pack_path()`` (package root) is a small hand-made pack.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

from hutong.quality.drg.index import MdcIndex, build_index

FILES = (
    "adrg.txt",
    "drg.tsv",
    "mdc_rules.json",
    "adrg_rules.json",
    "mcc_codes.json",
    "cc_codes.json",
    "cce_codes.json",
    "zd_invalid.json",
    "ss_invalid.json",
)
PRE_MDC = ("A", "P", "Y", "Z")
SURGICAL, NON_OR, MEDICAL = "surgical", "non-OR procedure", "medical"


class DrgPackError(ValueError):
    """A pack folder that is incomplete or malformed (the message names the file)."""


@dataclass(frozen=True)
class Section:
    """One named code list of an ADRG rule, with where in the case it may match."""

    name: str
    kind: str  # "dx" or "px"
    position: str  # "principal", "secondary" or "any"
    codes: frozenset[str]


@dataclass(frozen=True)
class Adrg:
    """An ADRG and its entry rule, compiled."""

    code: str
    name: str
    sections: tuple[Section, ...] = ()
    rpn: tuple[str, ...] = ()  # section names and "&&" / "||"; empty = default combination
    procedure_groups: tuple[frozenset[str], ...] = ()
    referenced: tuple[str, ...] = ()
    # the referenced ADRGs' procedure codes, one set per ADRG, matched at any position
    referenced_codes: tuple[frozenset[str], ...] = ()
    all_referenced: bool = False
    any_procedure: bool = False
    zero_procedures: bool = False
    suffixes: frozenset[str] = frozenset()
    age_days: tuple[float, float] | None = None  # [lo, hi) from the name (＜29天); MDCP: NEONATE
    birth_weight: tuple[float, float] | None = None  # [lo, hi) grams, e.g. 1500-1999g

    @property
    def mdc(self) -> str:
        return self.code[0]

    @property
    def kind(self) -> str:
        letter = self.code[1]
        return SURGICAL if letter <= "J" else NON_OR if letter <= "Q" else MEDICAL


@dataclass(frozen=True)
class DrgPack:
    """A loaded CHS-DRG pack: MDC lists, compiled ADRG rules, CC/MCC tables, invalid codes.

    Read-only once loaded (what is worked out from it, such as :attr:`named_codes`, is kept)."""

    name: str
    folder: Path
    adrgs: dict[str, Adrg]
    by_mdc: dict[str, tuple[Adrg, ...]]
    mdc_names: dict[str, str]
    mdc_of: dict[str, tuple[str, ...]]  # principal code -> MDC letters (code order, no A/P/Y/Z)
    mdcp_codes: frozenset[str]
    mdcy_codes: frozenset[str]
    mdcz_categories: dict[str, frozenset[str]]
    mcc: dict[str, str]
    cc: dict[str, str]
    cce: dict[str, str]
    zd_invalid: frozenset[str]
    ss_invalid: frozenset[str]
    or_procedures: frozenset[str]  # named by some surgical ADRG: these trigger QY
    drg_names: dict[str, str] = field(default_factory=dict)
    index: dict[str, MdcIndex] = field(default_factory=dict)  # per MDC letter, see index.py
    trauma_of: dict[str, tuple[str, ...]] = field(default_factory=dict)  # code → MDCZ regions

    @property
    def version(self) -> str:
        return self.name

    @cached_property
    def named_codes(self) -> tuple[frozenset[str], frozenset[str]]:
        """The diagnosis and procedure codes some table of the pack names: a code outside
        them hits no rule and shows in no trace, so grouping may leave it out of its keys."""
        dx: set[str] = set(self.mdc_of) | self.mdcp_codes | self.mdcy_codes | set(self.trauma_of)
        dx |= set(self.mcc) | set(self.cc) | set(self.cce) | self.zd_invalid
        for codes in self.mdcz_categories.values():
            dx |= codes
        px: set[str] = set(self.or_procedures)
        adrgs = [*self.adrgs.values(), *(a for group in self.by_mdc.values() for a in group)]
        for adrg in adrgs:
            for section in adrg.sections:
                (dx if section.kind == "dx" else px).update(section.codes)
            for codes in (*adrg.procedure_groups, *adrg.referenced_codes):
                px.update(codes)
        return frozenset(dx), frozenset(px)


def _read(folder: Path, name: str):
    path = folder / name
    if not path.is_file():
        raise DrgPackError(f"DRG pack {folder}: missing file {name}")
    text = path.read_text(encoding="utf-8")
    if not name.endswith(".json"):
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DrgPackError(f"DRG pack {folder}: {name} is not valid JSON ({exc})") from None


def _pairs(text: str, sep: str | None, name: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.strip().split(sep, 1)
        if len(parts) != 2:
            raise DrgPackError(f"{name} line {n}: expected CODE and NAME, got {line!r}")
        out[parts[0].strip()] = parts[1].strip()
    return out


def _section(name: str, codes: list[str]) -> Section:
    kind = "dx" if "诊断" in name else "px" if ("手术" in name or "操作" in name) else ""
    if not kind:
        raise DrgPackError(f"adrg_rules.json: section {name!r} is neither 诊断 nor 手术/操作")
    position = "principal" if "主要" in name else "secondary" if "其他" in name else "any"
    return Section(name, kind, position, frozenset(codes))


def _age_days(name: str) -> tuple[float, float] | None:
    """Age gate written in an ADRG name: ＜29天 → [0, 29); 29天≤…＜1周岁 → [29, 365)."""
    lo = re.search(r"(\d+)天≤", name)
    hi = re.search(r"[＜<](\d+)天", name)
    if not lo and not hi:
        return None
    top = float(hi.group(1)) if hi else 365.0 if "＜1周岁" in name else math.inf
    return (float(lo.group(1)) if lo else 0.0, top)


# MDCP ADRGs are for neonates (出生年龄＜29天) unless the name says otherwise: only PV1 is
# "29天≤出生年龄＜1周岁". Without this gate PU1, which lists 441 of PV1's 443 codes, would take
# every infant and PV1 could never be reached.
NEONATE = (0.0, 29.0)


def _birth_weight(name: str) -> tuple[float, float] | None:
    """Birth-weight band in an ADRG name, as [lo, hi) grams: ＜1500g, 1500-1999g, ＞2499g."""
    if m := re.search(r"(\d+)-(\d+)g", name):
        return (float(m.group(1)), float(m.group(2)) + 1)
    if m := re.search(r"[＜<](\d+)g", name):
        return (0.0, float(m.group(1)))
    if m := re.search(r"[＞>](\d+)g", name):
        return (float(m.group(1)) + 1, math.inf)
    return None


def _adrg(entry: dict, name: str, suffixes: frozenset[str]) -> Adrg:
    rule = entry.get("rule") or {}
    rpn = tuple(t["name"] if isinstance(t, dict) else t for t in rule.get("_logicRPN") or [])
    required = rule.get("requiredReferencedADRGs") or []
    return Adrg(
        code=entry["code"],
        name=name,
        sections=tuple(_section(k, v) for k, v in (rule.get("sections") or {}).items()),
        rpn=rpn,
        procedure_groups=tuple(frozenset(g) for g in rule.get("requiredProcedureGroups") or []),
        referenced=tuple(required or rule.get("referencedADRGs") or []),
        all_referenced=bool(required),
        any_procedure=bool(rule.get("anyProcedureRequired")),
        zero_procedures=bool(rule.get("zeroProceduresRequired")),
        suffixes=suffixes,
        age_days=_age_days(name) or (NEONATE if entry["code"][0] == "P" else None),
        birth_weight=_birth_weight(name),
    )


def _referenced_codes(adrg: Adrg, adrgs: dict[str, Adrg]) -> tuple[frozenset[str], ...]:
    """The procedure codes of each ADRG that ``adrg`` refers to (CB2 → CB4, CB5).

    A combined operation (CB2 玻璃体…联合晶状体手术) is two procedures, so they are matched at any
    position: the referenced sections are principal-only and disjoint, so requiring each at the
    principal position could never hold.
    """
    out = []
    for ref in adrg.referenced:
        if ref not in adrgs:
            raise DrgPackError(f"adrg_rules.json: {adrg.code} refers to unknown ADRG {ref}")
        out.append(frozenset(c for s in adrgs[ref].sections if s.kind == "px" for c in s.codes))
    return tuple(out)


def load_pack(folder: Path | str) -> DrgPack:
    """Read a CHS-DRG pack folder (the nine files above); the pack is named after the folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DrgPackError(f"DRG pack folder not found: {folder}")
    names = _pairs(_read(folder, "adrg.txt"), None, "adrg.txt")
    drg_names = _pairs(_read(folder, "drg.tsv"), "\t", "drg.tsv")
    suffixes: dict[str, set[str]] = {}
    for drg in drg_names:
        suffixes.setdefault(drg[:3], set()).add(drg[3:])
    rules = {e["code"]: e for e in _read(folder, "adrg_rules.json")}
    missing = [c for c in names if c not in rules]
    if missing:
        raise DrgPackError(f"adrg_rules.json: no rule for ADRG {', '.join(missing[:5])}")
    adrgs = {c: _adrg(rules[c], n, frozenset(suffixes.get(c, ()))) for c, n in names.items()}
    for code, a in adrgs.items():
        if a.referenced:
            adrgs[code] = replace(a, referenced_codes=_referenced_codes(a, adrgs))
    by_mdc: dict[str, list[Adrg]] = {}
    for a in adrgs.values():
        by_mdc.setdefault(a.mdc, []).append(a)

    mdc_names, mdc_of, mdcy, mdcz = {}, {}, frozenset(), {}
    for m in _read(folder, "mdc_rules.json"):
        letter = m["code"][-1]
        mdc_names[letter] = m.get("name", "")
        codes = m.get("identifyingDiagnoses") or []
        if letter == "Y":
            mdcy = frozenset(codes)
        elif letter == "Z":
            mdcz = {k: frozenset(v) for k, v in (m.get("mdczCategories") or {}).items()}
        elif letter not in PRE_MDC:
            for code in codes:
                mdc_of.setdefault(code, ())
                if letter not in mdc_of[code]:
                    mdc_of[code] += (letter,)
    mdc_of = {c: tuple(sorted(v)) for c, v in mdc_of.items()}
    # MDCP ships no identifying list: its entry list is the union of its ADRGs' diagnoses.
    mdcp = frozenset(
        code for a in by_mdc.get("P", ()) for s in a.sections if s.kind == "dx" for code in s.codes
    )
    trauma_of: dict[str, tuple[str, ...]] = {}
    for region, codes in mdcz.items():
        for code in codes:
            trauma_of[code] = (*trauma_of.get(code, ()), region)
    surgical = [a for a in adrgs.values() if a.kind == SURGICAL]
    or_procedures = frozenset(
        code
        for a in surgical
        for codes in [*(s.codes for s in a.sections if s.kind == "px"), *a.procedure_groups]
        for code in codes
    )
    return DrgPack(
        name=folder.name,
        folder=folder,
        adrgs=adrgs,
        by_mdc={k: tuple(v) for k, v in by_mdc.items()},
        mdc_names=mdc_names,
        mdc_of=mdc_of,
        mdcp_codes=mdcp,
        mdcy_codes=mdcy,
        mdcz_categories=mdcz,
        mcc={k: str(v) for k, v in _read(folder, "mcc_codes.json").items()},
        cc={k: str(v) for k, v in _read(folder, "cc_codes.json").items()},
        cce={k: str(v) for k, v in _read(folder, "cce_codes.json").items()},
        zd_invalid=frozenset(k for k, v in _read(folder, "zd_invalid.json").items() if v),
        ss_invalid=frozenset(k for k, v in _read(folder, "ss_invalid.json").items() if v),
        or_procedures=or_procedures,
        drg_names=drg_names,
        index={mdc: build_index(group) for mdc, group in by_mdc.items()},
        trauma_of=trauma_of,
    )
