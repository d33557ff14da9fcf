"""国临版 → 医保版 crosswalks (CSV/XLSX): source code and name, target code, many-to-one.

A row with no target is kept as a source concept without a target (``CodeSystem.unmapped``)
rather than refused: the official tables have 国临 codes that 医保版 2.0 dropped, and refusing
them would make the whole table unusable. A source mapped to two different targets, in
contrast, is an error: a crosswalk must be a function.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hutong.terminologies.codesystem import CodeListError, CodeSystem, build
from hutong.terminologies.loaders_table import (
    aliases,
    cell,
    find_header,
    join_pair,
    norm,
    read_grids,
    unique,
)


def _names(prefixes: list[str], middles: list[str], suffixes: list[str]) -> list[str]:
    return [norm(p + m + s) for p in prefixes for m in middles for s in suffixes]


_GL = ["国临版", "国家临床版", "临床版", "国临", "国临版2.0", "国家临床版2.0", "临床版2.0"]
_YB = ["医保版", "医保", "医保版2.0"]
_OF = ["", "疾病", "诊断", "手术", "手术操作"]
SOURCE = [*_names(_GL, _OF, ["编码", "代码", "主要编码"]), "source_code", "gl_code"]
SOURCE_NAME = [*_names(_GL, _OF, ["名称"]), "source_name", "gl_name"]
SOURCE_EXTRA = _names(_GL, [""], ["附加编码", "附加代码"])
TARGET = [*_names(_YB, _OF, ["编码", "代码", "主要编码"]), "target_code", "yb_code"]
TARGET_EXTRA = _names(_YB, [""], ["附加编码", "附加代码"])


def read_crosswalk(
    path: Path,
    system_id: str,
    version: str,
    chapter: Callable[[str], str | None] | None,
    procedure: bool,
    code_column: str | None = None,
    name_column: str | None = None,
    target_column: str | None = None,
    sheet: str | None = None,
    encoding: str | None = None,
) -> CodeSystem:
    """A crosswalk as a code system of source codes whose ``targets`` give the target codes."""
    roles = {
        "source": aliases(code_column, SOURCE),
        "name": aliases(name_column, SOURCE_NAME),
        "target": aliases(target_column, TARGET),
        "source_extra": SOURCE_EXTRA,
        "target_extra": TARGET_EXTRA,
    }
    grids = read_grids(path, sheet, encoding)
    hint = "code_column=/name_column=/target_column="
    grid, pos, cols = find_header(grids, roles, ("source", "name", "target"), hint)
    header_source = norm(grid.rows[pos][1][cols["source"]])
    rows, targets, target_row = [], {}, {}
    for number, cells in grid.rows[pos + 1 :]:
        source = cell(cells, cols["source"], procedure)
        name = cell(cells, cols["name"])
        target = cell(cells, cols["target"], procedure)
        if (not source and not name and not target) or norm(source) == header_source:
            continue
        if not source:
            raise CodeListError(f"{grid.label}:{number}: empty source code for {name!r} / 编码为空")
        if not name:
            raise CodeListError(f"{grid.label}:{number}: empty name for {source} / 名称为空")
        code = join_pair(source, cell(cells, cols.get("source_extra")))
        rows.append((number, code, name))
        if not target:
            continue
        target = join_pair(target, cell(cells, cols.get("target_extra")))
        if code in targets and targets[code] != target:
            raise CodeListError(
                f"{grid.label}:{number}: {code} mapped to {target}, but row {target_row[code]} "
                f"maps it to {targets[code]} / 一码多映射"
            )
        targets[code], target_row[code] = target, target_row.get(code, number)
    pairs = unique(rows, grid.label)
    if not pairs:
        raise CodeListError(f"{grid.label}: no codes below the header / 表头下无编码")
    if not targets:
        raise CodeListError(
            f"{grid.label}: no row has a target code; is the target column right? / 无映射目标"
        )
    system = build(system_id, version, grid.label, pairs, chapter=chapter)
    system.targets = targets
    return system
