"""Code lists as tables: CSV/TSV (any encoding) and XLSX, with their header row found by name.

The national lists circulate as Excel sheets with title rows above the header and the 国临版
dagger/star pairs split over two columns; hospitals re-save them as GBK CSV. Every error names
the file (and sheet) and the row a user sees in Excel.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from hutong.adapters.encoding import decode, has_bad_bytes
from hutong.terminologies.codesystem import CodeListError

EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
TABLE_SUFFIXES = {".csv", ".tsv", *EXCEL_SUFFIXES}
HEADER_ROWS = 30  # title rows above the header are skipped up to this many rows

# Header names in priority order: when a sheet has several, the first one listed wins.
CODE = [
    "主要编码", "疾病编码", "疾病代码", "诊断编码", "诊断代码", "手术操作编码", "手术操作代码",
    "手术编码", "手术代码", "icd编码", "icd代码", "icd-10编码", "icd-9-cm-3编码", "编码", "代码",
    "code",
]  # fmt: skip
NAME = [
    "疾病名称", "诊断名称", "手术操作名称", "手术名称", "名称", "name", "display", "描述",
]  # fmt: skip
EXTRA = ["附加编码", "附加代码"]  # 国临版: the * code paired with the † code of 主要编码


@dataclass
class Grid:
    """One sheet's non-blank rows as (row number, cells), and its label for messages."""

    label: str
    rows: list[tuple[int, list[object]]]


def norm(header: object) -> str:
    """Header cell as compared with the alias lists: no spaces or line breaks, lower case."""
    return re.sub(r"\s+", "", str(header or "")).lower()


def text(value: object, procedure: bool = False) -> str:
    """A cell as text. Excel stores ``36.0700`` as the number 36.07: procedure codes get their
    four decimals back (``00.0100``), other whole numbers lose the ``.0``."""
    if value is None:
        return ""
    if isinstance(value, float):
        if procedure:
            return f"{value:07.4f}"
        return str(int(value)) if value.is_integer() else str(value)
    return str(value).strip().strip("\ufeff").strip()


def normalise_code(raw: str) -> str:
    """Codes carry no spaces; ``A17.000†G01*`` and full-width ``＋``/``＊`` become the 医保 form."""
    code = re.sub(r"\s+", "", raw).replace("＋", "+").replace("＊", "*")
    head, dagger, tail = code.partition("†")
    return f"{head}+{tail}" if dagger and tail else head


def join_pair(main: str, extra: str) -> str:
    """国临版 主要编码 ``A17.000†`` + 附加编码 ``G01`` → ``A17.000+G01*`` (the 医保版 form).

    A non-star 附加编码 (e.g. a morphology code) is joined with ``+`` too, so no row loses it.
    """
    code, extra = normalise_code(main), normalise_code(extra)
    if not extra or "+" in code:
        return code
    if "†" in main and not extra.endswith("*"):
        extra += "*"
    return f"{code}+{extra}"


def read_text(path: Path, encoding: str | None) -> tuple[str, str]:
    """A text file decoded by the project's one detector; (text, encoding used).

    An empty file, or a line holding bytes the encoding cannot decode, is an error naming it.
    """
    data = _bytes(path)
    decoded = decode(data, encoding)
    if decoded.bad_bytes:
        for number, line in enumerate(decoded.text.splitlines(), start=1):
            if has_bad_bytes(line):
                raise _undecodable(path, number, decoded.encoding)
    return decoded.text, decoded.encoding


def read_grids(path: Path, sheet: str | None = None, encoding: str | None = None) -> list[Grid]:
    """The sheets of an XLSX, or the one table of a CSV/TSV, with blank rows dropped."""
    if path.suffix.lower() in EXCEL_SUFFIXES:
        grids = _excel(path, sheet)
    else:
        grids = [_delimited(path, encoding)]
    if not any(g.rows for g in grids):
        raise CodeListError(f"{path}: empty file, no rows / 空文件")
    return grids


def find_header(
    grids: list[Grid], roles: dict[str, list[str]], required: Iterable[str], hint: str
) -> tuple[Grid, int, dict[str, int]]:
    """The first sheet and row naming every required role; (grid, row position, role → column).

    When no row matches, the error lists the columns of the first row so the user can pass the
    right name (``hint`` says which option).
    """
    need = set(required)
    for grid in grids:
        for pos, (_, cells) in enumerate(grid.rows[:HEADER_ROWS]):
            headers = [norm(c) for c in cells]
            found = {}
            for role, aliases in roles.items():
                col = next((headers.index(a) for a in aliases if a in headers), None)
                if col is not None:
                    found[role] = col
            if need <= found.keys():
                return grid, pos, found
    first = next(g for g in grids if g.rows)
    number, cells = first.rows[0]
    columns = ", ".join(text(c) for c in cells if text(c)) or "(none)"
    wanted = "; ".join(f"{r}: {'/'.join(roles[r][:8])}" for r in roles if r in need)
    raise CodeListError(
        f"{first.label}: no header row with the needed columns in the first {HEADER_ROWS} rows "
        f"/ 未找到表头. Columns found (row {number}): {columns}. Expected {wanted}; or pass {hint}"
    )


def aliases(given: str | None, default: list[str]) -> list[str]:
    """The user's column name when given (only that one), else the default alias list."""
    return [norm(given)] if given else default


def cell(cells: list[object], col: int | None, procedure: bool = False) -> str:
    return text(cells[col], procedure) if col is not None and col < len(cells) else ""


def unique(rows: Iterable[tuple[int, str, str]], label: str) -> list[tuple[str, str]]:
    """(code, name) pairs in order; a code repeated with another name names both rows."""
    seen: dict[str, tuple[int, str]] = {}
    for number, code, name in rows:
        if code in seen:
            first, other = seen[code]
            if other != name:
                raise CodeListError(
                    f"{label}:{number}: code {code} listed again with another name {name!r} "
                    f"(row {first}: {other!r}) / 重复编码"
                )
            continue
        seen[code] = (number, name)
    return [(code, name) for code, (_, name) in seen.items()]


def read_table(
    path: Path,
    procedure: bool,
    code_column: str | None = None,
    name_column: str | None = None,
    sheet: str | None = None,
    encoding: str | None = None,
) -> tuple[list[tuple[str, str]], str]:
    """(code, name) pairs of a CSV/XLSX code list, and the label of the sheet they came from."""
    roles = {"code": aliases(code_column, CODE), "name": aliases(name_column, NAME), "extra": EXTRA}
    grids = read_grids(path, sheet, encoding)
    grid, pos, cols = find_header(grids, roles, ("code", "name"), "code_column=/name_column=")
    header_code = norm(grid.rows[pos][1][cols["code"]])

    def rows() -> Iterable[tuple[int, str, str]]:
        for number, cells in grid.rows[pos + 1 :]:
            raw, name = cell(cells, cols["code"], procedure), cell(cells, cols["name"])
            extra = cell(cells, cols.get("extra"))
            if (not raw and not name and not extra) or norm(raw) == header_code:
                continue  # section rows of the national sheets; repeated headers
            if not raw:
                raise CodeListError(f"{grid.label}:{number}: empty code for {name!r} / 编码为空")
            if not name:
                raise CodeListError(f"{grid.label}:{number}: empty name for {raw} / 名称为空")
            yield number, join_pair(raw, extra), name

    pairs = unique(rows(), grid.label)
    if not pairs:
        raise CodeListError(f"{grid.label}: no codes below the header / 表头下无编码")
    return pairs, grid.label


def _bytes(path: Path) -> bytes:
    if not path.is_file():
        raise CodeListError(f"{path}: no such file / 文件不存在")
    data = path.read_bytes()
    if not data.strip():
        raise CodeListError(f"{path}: empty file / 空文件")
    return data


def _undecodable(label: object, number: int, encoding: str) -> CodeListError:
    return CodeListError(
        f"{label}:{number}: bytes that do not decode as {encoding} (wrong encoding? pass "
        f"encoding=) / 编码错误"
    )


def _delimited(path: Path, encoding: str | None) -> Grid:
    data = _bytes(path)
    decoded = decode(data, encoding)
    first = next((line for line in decoded.text.splitlines() if line.strip()), "")
    tab = path.suffix.lower() == ".tsv" or first.count("\t") > first.count(",")
    reader = csv.reader(io.StringIO(decoded.text, newline=""), delimiter="\t" if tab else ",")
    rows = []
    for cells in reader:
        if any(has_bad_bytes(c) for c in cells):
            raise _undecodable(path, reader.line_num, decoded.encoding)
        if any(c.strip() for c in cells):
            rows.append((reader.line_num, list(cells)))
    return Grid(str(path), rows)


def _excel(path: Path, sheet: str | None) -> list[Grid]:
    from openpyxl import load_workbook  # heavy; only for Excel files

    _bytes(path)
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile/KeyError/InvalidFileException alike
        raise CodeListError(f"{path}: not a readable .xlsx file ({exc}) / 无法读取") from exc
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise CodeListError(
                f"{path}: no sheet {sheet!r}; sheets: {', '.join(book.sheetnames)} / 工作表不存在"
            )
        names = [sheet] if sheet is not None else book.sheetnames
        grids = []
        for name in names:
            worksheet = book[name]
            worksheet.reset_dimensions()  # exporters often write a wrong <dimension>; read all
            rows = [
                (number, list(values))
                for number, values in enumerate(worksheet.iter_rows(values_only=True), start=1)
                if any(text(v) for v in values)
            ]
            grids.append(Grid(f"{path}[{name}]", rows))
        return grids
    finally:
        book.close()
