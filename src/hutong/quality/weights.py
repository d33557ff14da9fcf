"""DRG relative weights and the case-mix index (CMI) per discharge department.

>>> weights = load_weights(Path("weights.csv"))            # doctest: +SKIP
>>> groups, missing = case_weights(group_facesheet(sheet, pack), weights)  # doctest: +SKIP
>>> write_cmi(cmi(groups, sheet), out / "cmi.csv")         # doctest: +SKIP

The CHS-DRG 2.0 tables define the groups, not their weights (the reference pack has no weight
file): relative weights (相对权重) are set per pooling region (统筹地区) from local cost data. So
weights come from a file the user supplies, ``drg,weight`` with a header line and ``# source:``
comment lines saying where they come from.

CMI (病例组合指数) = total weight of the cases / number of cases, the usual definition (not
checked against a national text here). Only cases with a DRG and a known weight enter the
division: an ungroupable (0000) case or a DRG missing from the weight file has no weight, and
counting it as zero would understate the index; the table shows both counts so the gap is seen.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from hutong.quality.kinds import texts

if TYPE_CHECKING:
    from hutong.mapping.facesheet import FaceSheet

UNGROUPABLE = "0000"
CMI_COLUMNS = ["dept", "cases", "grouped", "weighted_cases", "total_weight", "cmi"]
HOSPITAL = "全院"  # the hospital-wide row's dept value
NO_DEPT = "未填"  # the dept value of cases without a discharge department (dscg_caty)


class WeightsError(ValueError):
    """A weights file that cannot be used; the message names the file, line and field."""


def load_weights(path: Path | str) -> dict[str, float]:
    """Read a ``drg,weight`` CSV (UTF-8, BOM allowed) into ``{drg: weight}``.

    The first line that is not blank and not a ``#`` comment is the header; it must name a
    ``drg`` and a ``weight`` column (other columns, e.g. a group name, are ignored). A duplicate
    DRG, a missing, non-numeric, infinite or negative weight is an error: every bad line is
    listed in one :class:`WeightsError`, and nothing is returned half-read.
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise WeightsError(f"{path}: not UTF-8 (byte {exc.start}) / 文件不是 UTF-8 编码") from exc
    lines = [
        (n, line)
        for n, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines:
        raise WeightsError(f"{path}: no header line 'drg,weight' / 缺少表头")
    header_no, header_line = lines[0]
    header = [h.strip().lower() for h in next(csv.reader([header_line]))]
    if "drg" not in header or "weight" not in header:
        raise WeightsError(
            f"{path}:{header_no}: header must name the columns drg and weight, "
            f"found {', '.join(header)} / 表头须含 drg 与 weight 列"
        )
    i_drg, i_weight = header.index("drg"), header.index("weight")
    weights: dict[str, float] = {}
    first: dict[str, int] = {}
    errors: list[str] = []
    for number, line in lines[1:]:
        row = next(csv.reader([line]))
        drg = row[i_drg].strip() if i_drg < len(row) else ""
        raw = row[i_weight].strip() if i_weight < len(row) else ""
        where = f"{path}:{number}"
        if not drg:
            errors.append(f"{where}: field drg: empty / DRG 编码为空")
            continue
        if drg in first:
            errors.append(
                f"{where}: field drg: {drg} listed again (first on line {first[drg]}) / DRG 重复"
            )
            continue
        first[drg] = number
        try:
            weight = float(raw)
        except ValueError:
            errors.append(f"{where}: field weight: {raw!r} is not a number / 权重不是数字")
            continue
        if not math.isfinite(weight):
            errors.append(f"{where}: field weight: {raw!r} is not a finite number / 权重无效")
        elif weight < 0:
            errors.append(f"{where}: field weight: {raw} is negative / 权重为负数")
        else:
            weights[drg] = weight
    if errors:
        raise WeightsError("\n".join(errors))
    return weights


def weight_of(drg: object, weights: Mapping[str, float] | None) -> float:
    """The weight of one DRG code; NaN for 0000, a blank or a DRG the weights do not have."""
    if weights is None or not isinstance(drg, str) or drg in ("", UNGROUPABLE):
        return math.nan
    return float(weights.get(drg, math.nan))


def case_weights(
    groups: pd.DataFrame, weights: Mapping[str, float]
) -> tuple[pd.DataFrame, list[str]]:
    """``groups`` (from ``group_facesheet``) with a ``weight`` column, and the DRGs lacking one.

    The weight is NaN for an ungroupable case (0000) and for a DRG the weights do not list
    (e.g. a 歧义组 ``xQY``); those DRGs are returned sorted so a run can report them.
    """
    out = groups.copy()
    out["weight"] = pd.Series(
        [weight_of(d, weights) for d in texts(out["drg"])], index=out.index, dtype="float64"
    )
    drgs = out["drg"].astype("string")
    unknown = drgs.notna() & (drgs != "") & (drgs != UNGROUPABLE) & out["weight"].isna()
    return out, sorted(set(drgs[unknown].dropna()))


def cmi(
    groups: pd.DataFrame, sheet: FaceSheet, dept_names: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """CMI per discharge department (setlinfo ``dscg_caty``) and for the whole hospital.

    ``groups`` needs ``mdtrt_id``, ``drg`` and ``weight`` (see :func:`case_weights`). Columns:
    ``dept`` (``dept_name`` too when ``dept_names`` is given), ``cases`` (discharges), ``grouped``
    (DRG other than 0000), ``weighted_cases`` (grouped with a known weight), ``total_weight``
    and ``cmi`` = total_weight / weighted_cases (NaN when no case has a weight). Departments
    come in code order; cases without a department are ``未填``; the last row is ``全院``.
    """
    setl = sheet.setlinfo[["mdtrt_id", "dscg_caty"]].drop_duplicates("mdtrt_id")
    frame = setl.merge(groups[["mdtrt_id", "drg", "weight"]], on="mdtrt_id", how="left")
    dept = frame["dscg_caty"].astype("string").str.strip()
    frame["dept"] = dept.mask(dept.isna() | (dept == ""), NO_DEPT)
    drg = frame["drg"].astype("string")
    frame["grouped"] = (drg.notna() & (drg != "") & (drg != UNGROUPABLE)).astype(bool)
    frame["weight"] = frame["weight"].astype("float64").where(frame["grouped"])
    frame["weighted"] = frame["weight"].notna()

    def summary(part: pd.DataFrame) -> tuple[int, int, int, float]:
        return (
            len(part),
            int(part["grouped"].sum()),
            int(part["weighted"].sum()),
            float(part["weight"].sum()),
        )

    rows = [(name, *summary(part)) for name, part in frame.groupby("dept", sort=True)]
    rows.append((HOSPITAL, *summary(frame)))
    out = pd.DataFrame(rows, columns=CMI_COLUMNS[:-1])
    out["cmi"] = out["total_weight"] / out["weighted_cases"].where(out["weighted_cases"] > 0)
    if dept_names is not None:
        names = {**dept_names, HOSPITAL: "全院 / hospital"}
        out.insert(1, "dept_name", out["dept"].map(names).astype("string"))
    return out


def write_cmi(frame: pd.DataFrame, path: Path | str) -> Path:
    """Write the CMI table as CSV (UTF-8 with BOM for Excel, ``\\n`` line ends, 4 decimals)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\n", float_format="%.4f")
    return path


def combine_cmi(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """One CMI table from the tables of a run's parts: counts and weights add up per department
    (and for the hospital), the CMI is computed again from the sums."""
    frame = pd.concat(parts, ignore_index=True)
    frame["dept"] = frame["dept"].astype(str)
    frame = frame[frame["dept"] != HOSPITAL]
    sums = ["cases", "grouped", "weighted_cases", "total_weight"]
    rows = frame.groupby("dept", sort=True)[sums].sum().reset_index()
    total = pd.DataFrame([[HOSPITAL, *(rows[c].sum() for c in sums)]], columns=["dept", *sums])
    out = pd.concat([rows, total], ignore_index=True)
    for c in sums[:-1]:
        out[c] = out[c].astype(int)
    out["total_weight"] = out["total_weight"].astype(float)
    out["cmi"] = out["total_weight"] / out["weighted_cases"].where(out["weighted_cases"] > 0)
    return out[CMI_COLUMNS]
