"""Load a DIP catalog (病种目录库) CSV: ``load_catalog(Path("catalog.csv"), Path("params.toml"))``.

One row per group, UTF-8 (a BOM is fine), ``#`` lines (such as ``# source:``) and blank lines
skipped, columns in any order (extra ones ignored):

- ``dip_code`` — unique group code.
- ``kind`` — ``core`` (核心病种) or ``integrated`` (综合病种).
- ``dx`` — core: ICD-10 subcategory, the first five characters of a 医保版 code (``K80.1``);
  integrated: a category (``K80``) or a category range (``K80-K87``).
- ``procedures`` — core only: empty (or ``保守治疗``) for conservative treatment, else a
  combination: ``+`` joins terms that must all be present, ``/`` separates alternatives inside a
  term, and ``+`` binds looser than ``/``: ``51.2300+51.2200/51.2301`` = 51.2300 and (51.2200 or
  51.2301).
- ``treatment`` — integrated only: 保守治疗 | 诊断性操作 | 治疗性操作 | 相关手术.
- ``name``, ``base_score`` (> 0), ``avg_cost`` (> 0, or empty: no outlier check).

Every error names the file, the line and the field (``DipCatalogError``).
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from hutong.quality.dip.params import (
    CONSERVATIVE,
    PROCEDURE_CODE,
    TREATMENTS,
    DipParams,
    DipParamsError,
    load_params,
)

COLUMNS = ("dip_code", "kind", "dx", "procedures", "treatment", "name", "base_score", "avg_cost")
CORE, INTEGRATED = "core", "integrated"
SUBCATEGORY = re.compile(r"^[A-Z]\d{2}\.[0-9x]$")
CATEGORY = re.compile(r"^[A-Z]\d{2}$")


class DipCatalogError(ValueError):
    """A catalog or parameter file that cannot be used: file, line and field are in the message."""


@dataclass(frozen=True)
class DipGroup:
    """One catalog row, compiled."""

    dip_code: str
    kind: str
    dx: str  # core: K80.1; integrated: K80 or K80-K87
    name: str
    base_score: float
    avg_cost: float | None
    terms: tuple[frozenset[str], ...] = ()  # core: all terms, each any-of; () = 保守治疗
    treatment: str = CONSERVATIVE  # integrated: the treatment type it takes
    procedures: str = ""  # the combination as written
    line: int = 0

    @property
    def codes(self) -> frozenset[str]:
        """Every procedure code the combination names."""
        return frozenset().union(*self.terms) if self.terms else frozenset()

    def satisfied_by(self, procedures: set[str]) -> bool:
        return bool(self.terms) and all(term & procedures for term in self.terms)

    @property
    def category_range(self) -> tuple[str, str]:
        lo, _, hi = self.dx.partition("-")
        return lo, hi or lo


@dataclass
class DipCatalog:
    """Groups indexed for grouping, plus the settlement parameters."""

    path: Path
    groups: dict[str, DipGroup]
    params: DipParams
    core: dict[str, list[DipGroup]] = field(default_factory=dict)  # subcategory -> groups
    integrated: dict[tuple[str, str], DipGroup] = field(default_factory=dict)  # (cat, treatment)
    ranges: list[DipGroup] = field(default_factory=list)  # integrated range groups, narrowest first

    def __len__(self) -> int:
        return len(self.groups)


def parse_procedures(text: str) -> tuple[frozenset[str], ...]:
    """``A+B/C`` → ({A}, {B, C}); '' or 保守治疗 → (). Raises ValueError on a malformed string."""
    text = text.strip()
    if text in ("", CONSERVATIVE):
        return ()
    terms = []
    for term in text.split("+"):
        codes = [c.strip() for c in term.split("/")]
        for code in codes:
            if not code:
                raise ValueError(f"empty code in {text!r} / 手术操作组合中有空项")
            if not PROCEDURE_CODE.match(code):
                raise ValueError(f"{code!r} is not an ICD-9-CM-3 code / 非手术操作编码")
        terms.append(frozenset(codes))
    return tuple(terms)


def _number(value: str, optional: bool) -> float | None:
    value = value.strip()
    if not value and optional:
        return None
    number = float(value)  # ValueError names the text
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"must be a number > 0 / 须为大于0的数值 (got {value!r})")
    return number


def _group(row: dict[str, str], line: int, where: str) -> DipGroup:
    def fail(col: str, why: str) -> DipCatalogError:
        return DipCatalogError(f"{where}:{line}: {col}: {why}")

    code = row["dip_code"].strip()
    if not code:
        raise fail("dip_code", "empty / 病种编码为空")
    kind = row["kind"].strip()
    if kind not in (CORE, INTEGRATED):
        raise fail("kind", f"{kind!r} is not core or integrated / 病种类型应为 core 或 integrated")
    dx = row["dx"].strip()
    procedures = row["procedures"].strip()
    treatment = row["treatment"].strip()
    numbers = {}
    for col, optional in (("base_score", False), ("avg_cost", True)):
        try:
            numbers[col] = _number(row[col], optional)
        except ValueError as exc:
            raise fail(col, f"not a number > 0 / 须为大于0的数值 ({exc})") from None
    common = {
        "dip_code": code,
        "kind": kind,
        "dx": dx,
        "name": row["name"].strip(),
        "line": line,
        **numbers,
    }
    if kind == CORE:
        if not SUBCATEGORY.match(dx):
            raise fail("dx", f"{dx!r} is not an ICD-10 subcategory like K80.1 / 应为亚目如 K80.1")
        if treatment:
            raise fail(
                "treatment", "only integrated groups have a treatment / 核心病种不填治疗方式"
            )
        try:
            terms = parse_procedures(procedures)
        except ValueError as exc:
            raise fail("procedures", str(exc)) from None
        return DipGroup(**common, terms=terms, procedures=procedures)
    lo, sep, hi = dx.partition("-")
    if not CATEGORY.match(lo) or (sep and (not CATEGORY.match(hi) or hi < lo)):
        raise fail(
            "dx", f"{dx!r} is not a category like K80 or range like K80-K87 / 应为类目或范围"
        )
    if procedures:
        raise fail("procedures", "integrated groups take no procedures / 综合病种不填手术操作")
    if treatment not in TREATMENTS:
        raise fail(
            "treatment",
            f"{treatment!r} is not one of {' | '.join(TREATMENTS)} / 治疗方式不在取值范围内",
        )
    return DipGroup(**common, treatment=treatment)


def _rows(path: Path):
    """(line number, cells) of every data line; the first one is the header."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DipCatalogError(f"{path}: no such catalog file / 目录库文件不存在") from None
    except UnicodeDecodeError as exc:
        raise DipCatalogError(f"{path}: not UTF-8 / 非UTF-8编码 ({exc})") from None
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip() and not line.lstrip().startswith("#"):
            yield n, next(csv.reader([line]))


def _index(catalog: DipCatalog, group: DipGroup, where: str) -> None:
    if group.kind == CORE:
        for other in catalog.core.get(group.dx, []):
            if other.terms == group.terms:
                raise DipCatalogError(
                    f"{where}:{group.line}: procedures: same dx and procedures as "
                    f"{other.dip_code} (line {other.line}) / 与已有核心病种重复"
                )
        catalog.core.setdefault(group.dx, []).append(group)
    elif "-" in group.dx:
        for other in catalog.ranges:
            if other.dx == group.dx and other.treatment == group.treatment:
                raise DipCatalogError(
                    f"{where}:{group.line}: treatment: same range and treatment as "
                    f"{other.dip_code} (line {other.line}) / 与已有综合病种重复"
                )
        catalog.ranges.append(group)
    else:
        key = (group.dx, group.treatment)
        if other := catalog.integrated.get(key):
            raise DipCatalogError(
                f"{where}:{group.line}: treatment: same category and treatment as "
                f"{other.dip_code} (line {other.line}) / 与已有综合病种重复"
            )
        catalog.integrated[key] = group


def _span(group: DipGroup) -> tuple[int, str]:
    lo, hi = group.category_range
    width = (ord(hi[0]) - ord(lo[0])) * 100 + int(hi[1:]) - int(lo[1:])
    return width, group.dip_code


def load_catalog(path_csv: Path, params_toml: Path | None = None) -> DipCatalog:
    """Read and check a catalog CSV and its parameter TOML (shipped defaults when None)."""
    path = Path(path_csv)
    try:
        params = load_params(params_toml)
    except DipParamsError as exc:
        raise DipCatalogError(str(exc)) from None
    rows = _rows(path)
    first = next(rows, None)
    if first is None:
        raise DipCatalogError(f"{path}: no header line / 缺少表头")
    header_line, header = first
    header = [h.strip() for h in header]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise DipCatalogError(
            f"{path}:{header_line}: {missing[0]}: missing column / 缺少列 "
            f"(found: {', '.join(header)})"
        )
    catalog = DipCatalog(path=path, groups={}, params=params)
    for line, cells in rows:
        if len(cells) != len(header):
            raise DipCatalogError(
                f"{path}:{line}: {len(cells)} fields, header has {len(header)} / 列数与表头不符"
            )
        group = _group(dict(zip(header, cells, strict=True)), line, str(path))
        if other := catalog.groups.get(group.dip_code):
            raise DipCatalogError(
                f"{path}:{line}: dip_code: {group.dip_code} already on line {other.line} "
                "/ 病种编码重复"
            )
        catalog.groups[group.dip_code] = group
        _index(catalog, group, str(path))
    if not catalog.groups:
        raise DipCatalogError(f"{path}: no groups / 目录库为空")
    catalog.ranges.sort(key=_span)
    return catalog
