"""The NHSA settlement-list face sheet (医疗保障基金结算清单) in the national 4101 layout.

``build_facesheet`` turns canonical tables into the four 4101 node tables (setlinfo, diseinfo,
oprninfo, iteminfo), keyed by ``mdtrt_id``, with the national field codes and coded values.
``write_facesheet`` writes them as CSV (UTF-8 with BOM, so Excel opens the Chinese text) plus
``4101.ndjson`` (one 4101-shaped document per case); ``read_facesheet`` reads such a folder back
with the same types, which is what ``hutong qc`` checks.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from itertools import repeat
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa

from hutong.mapping import facesheet_lines, facesheet_text

NODES = ("setlinfo", "diseinfo", "oprninfo", "iteminfo")

# Field types beyond plain strings: everything else in the 4101 layout is text or a code.
DATETIME_FIELDS = {
    "adm_time",
    "dscg_time",
    "dcla_time",
    "oprn_oprt_date",
    "scs_cutd_inpool_time",
    "scs_cutd_exit_time",
}
DATE_FIELDS = {"brdy", "setl_begn_date", "setl_end_date", "opsp_mdtrt_date"}
NUMBER_FIELDS = {
    "age",
    "nwb_age",
    "nwb_bir_wt",
    "nwb_adm_wt",
    "act_ipt_days",
    "diag_code_cnt",
    "oprn_oprt_code_cnt",
    "bld_amt",
    "spga_nurscare_days",
    "lv1_nurscare_days",
    "scd_nurscare_days",
    "lv3_nurscare_days",
    "psn_selfpay",
    "psn_ownpay",
    "acct_pay",
    "psn_cashpay",
    "amt",
    "claa_sumfee",
    "clab_amt",
    "fulamt_ownpay_amt",
    "oth_amt",
}
MONEY_FIELDS = {
    "amt",
    "claa_sumfee",
    "clab_amt",
    "fulamt_ownpay_amt",
    "oth_amt",
    "psn_selfpay",
    "psn_ownpay",
    "acct_pay",
    "psn_cashpay",
}


@cache
def layout() -> dict[str, list[str]]:
    """4101 field codes per node, in interface order (from the shipped field list)."""
    path = resources.files("hutong.mapping").joinpath("data/nhsa_4101_fields.csv")
    with resources.as_file(path) as p:
        fields = pd.read_csv(p, comment="#", dtype=str)
    return {
        node: list(group.sort_values("seq", key=lambda s: s.astype(int))["field"])
        for node, group in fields.groupby("node", sort=False)
    }


def columns(node: str) -> list[str]:
    """CSV columns of a node: ``mdtrt_id`` first (the key), then the 4101 fields."""
    fields = layout()[node]
    return fields if node == "setlinfo" else ["mdtrt_id", *fields]


@dataclass
class FaceSheet:
    """The four 4101 node tables of a set of cases, typed (times, dates, numbers)."""

    setlinfo: pd.DataFrame
    diseinfo: pd.DataFrame
    oprninfo: pd.DataFrame
    iteminfo: pd.DataFrame

    def node(self, name: str) -> pd.DataFrame:
        return getattr(self, name)

    def __len__(self) -> int:
        return len(self.setlinfo)


def _age_parts(brdy: pd.Series, adm: pd.Series) -> tuple[pd.Series, pd.Series]:
    """实足年龄 in years at admission, and age in days when under one year (结算清单 rule)."""
    b = pd.to_datetime(brdy)
    a = pd.to_datetime(adm).dt.normalize()
    years = (
        a.dt.year
        - b.dt.year
        - ((a.dt.month < b.dt.month) | ((a.dt.month == b.dt.month) & (a.dt.day < b.dt.day)))
    )
    days = (a - b).dt.days
    nwb = days.where(years < 1)
    return years.astype("Float64"), nwb.astype("Float64")


def _stay_days(adm: pd.Series, dscg: pd.Series, same_day: int = 1) -> pd.Series:
    """实际住院天数: discharge date − admission date; a same-day stay counts ``same_day``."""
    days = (pd.to_datetime(dscg).dt.normalize() - pd.to_datetime(adm).dt.normalize()).dt.days
    return days.where(days != 0, same_day).astype("Float64")


def _setlinfo(
    enc: pd.DataFrame, pat: pd.DataFrame, dx: pd.DataFrame, px: pd.DataFrame
) -> pd.DataFrame:
    pat_cols = pat.drop(columns=["source", "locator", "vendor", "medcasno"], errors="ignore")
    s = enc.merge(pat_cols, on="patient_id", how="left", validate="many_to_one")
    s = s.rename(columns={"name": "psn_name"})
    years, days = _age_parts(s["brdy"], s["adm_time"])
    s["age"] = s["age"].astype("Float64").fillna(years)
    s["nwb_age"] = s["nwb_age"].astype("Float64").fillna(days)
    s["act_ipt_days"] = (
        s["act_ipt_days"].astype("Float64").fillna(_stay_days(s["adm_time"], s["dscg_time"]))
    )
    s["setl_begn_date"] = pd.to_datetime(s["adm_time"]).dt.normalize()
    s["setl_end_date"] = pd.to_datetime(s["dscg_time"]).dt.normalize()
    s["diag_code_cnt"] = (
        s["mdtrt_id"].map(dx.groupby("mdtrt_id").size()).fillna(0).astype("Float64")
    )
    s["oprn_oprt_code_cnt"] = (
        s["mdtrt_id"].map(px.groupby("mdtrt_id").size()).fillna(0).astype("Float64")
    )
    # 西医诊断疾病代码 (wm_dise_code) is the code of the 门（急）诊诊断 made before admission,
    # not of the main discharge diagnosis (that one is in diseinfo). It is kept as the vendor
    # gave it, often a local code: mapping it to 医保版 2.0 is a later step.
    # coner_addr, emp_name, emp_addr and emp_tel come with the patient columns of the merge.
    s["wm_dise_code"] = s.get("otp_wm_dise_code")
    return s.reindex(columns=columns("setlinfo"))


def _diseinfo(dx: pd.DataFrame) -> pd.DataFrame:
    d = dx.copy()
    d["diag_code"] = d["code"].fillna(d["local_code"])
    d["diag_name"] = d["name"].fillna(d["local_name"])
    d["diag_type"] = d["diag_type"].fillna("1")
    d = d.sort_values(["mdtrt_id", "seq"], kind="mergesort")
    return d.reindex(columns=columns("diseinfo")).reset_index(drop=True)


def _oprninfo(px: pd.DataFrame) -> pd.DataFrame:
    p = px.sort_values(["mdtrt_id", "seq"], kind="mergesort").copy()
    p["oprn_oprt_code"] = p["code"].fillna(p["local_code"])
    p["oprn_oprt_name"] = p["name"].fillna(p["local_name"])
    first = ~p.duplicated("mdtrt_id")
    p["oprn_oprt_type"] = p["oprn_oprt_type"].fillna(
        pd.Series(np.where(first, "1", "2"), index=p.index)
    )
    return p.reindex(columns=columns("oprninfo")).reset_index(drop=True)


def _iteminfo(charge: pd.DataFrame) -> pd.DataFrame:
    money = ["amt", "claa_sumfee", "clab_amt", "fulamt_ownpay_amt", "oth_amt"]
    c = charge.copy()
    for m in money:
        c[m] = c[m].astype("float64")
    items = c.groupby(["mdtrt_id", "med_chrgitm"], sort=True, dropna=False)[money].sum(min_count=1)
    items = items.round(2).reset_index()
    return items.reindex(columns=columns("iteminfo"))


def build_facesheet(tables: dict[str, pd.DataFrame]) -> FaceSheet:
    """Face sheet of every encounter in ``tables`` (canonical frames by table name)."""
    enc = tables["encounter"].sort_values("mdtrt_id", kind="mergesort").reset_index(drop=True)
    diseinfo = _diseinfo(tables["diagnosis"])
    oprninfo = _oprninfo(tables["procedure"])
    setlinfo = _setlinfo(enc, tables["patient"], diseinfo, oprninfo)
    return typed(
        FaceSheet(
            setlinfo=setlinfo,
            diseinfo=diseinfo,
            oprninfo=oprninfo,
            iteminfo=_iteminfo(tables["charge"]),
        )
    )


def typed(sheet: FaceSheet) -> FaceSheet:
    """Give each node the one set of dtypes both the builder and the reader use."""
    for node in NODES:
        frame = sheet.node(node)
        for col in frame.columns:
            if col in DATETIME_FIELDS:
                frame[col] = pd.to_datetime(frame[col], errors="coerce", format="mixed")
            elif col in DATE_FIELDS:
                frame[col] = pd.to_datetime(
                    frame[col], errors="coerce", format="mixed"
                ).dt.normalize()
            elif col in NUMBER_FIELDS:
                frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("Float64")
            else:
                frame[col] = frame[col].astype("string")
    return sheet


def _column_text(v: pd.Series, col: str) -> pa.Array:
    """One column's values as the interface writes them, as Arrow text (null where empty):
    times to the second, money to 0.01 and numbers as Python formats them, without a Python
    object per cell where the column is Arrow already (text) or can be made so (numbers)."""
    if col in MONEY_FIELDS:
        return facesheet_text.money_text(v)
    if col in NUMBER_FIELDS:
        return facesheet_text.numbers_text(v)
    if col in DATETIME_FIELDS or col in DATE_FIELDS:
        pattern = "%Y-%m-%d %H:%M:%S" if col in DATETIME_FIELDS else "%Y-%m-%d"
        values = v.dt.strftime(pattern)
    elif isinstance(v.dtype, pd.StringDtype) and v.dtype.storage == "pyarrow":
        return pa.array(v.array)  # the column as it is stored
    else:
        values = v
    return pa.array(values.to_numpy(dtype=object, na_value=None), type=pa.large_string())


def _arrow_cells(frame: pd.DataFrame) -> dict[str, pa.Array]:
    return {col: _column_text(frame[col], col) for col in frame.columns}


Cells = dict[str, list]  # a node's columns as lists of text (None where empty)


def _cells(frame: pd.DataFrame) -> Cells:
    return {col: cells.to_pylist() for col, cells in _arrow_cells(frame).items()}


def _text(frame: pd.DataFrame) -> pd.DataFrame:
    """Values as the interface writes them (times to the second, money to 0.01), None if empty."""
    out = {
        col: pd.Series(cells, index=frame.index, dtype=object)
        for col, cells in _cells(frame).items()
    }
    return pd.DataFrame(out, index=frame.index, columns=frame.columns)


def write_facesheet(sheet: FaceSheet, folder: Path) -> dict[str, Path]:
    """Write the four node CSVs and ``4101.ndjson`` into ``folder``; returns the paths.

    The CSVs hold the bytes ``DataFrame.to_csv(index=False, encoding="utf-8-sig",
    lineterminator="\\n")`` writes of :func:`_text`, the documents those ``orjson.dumps``
    gives of :func:`documents`; both are built column-wise (see :mod:`.facesheet_lines`)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    nodes = {node: _arrow_cells(sheet.node(node)) for node in NODES}
    for node, columns in nodes.items():
        paths[node] = folder / f"{node}.csv"
        with paths[node].open("wb") as out:
            out.write(codecs.BOM_UTF8)
            out.write(facesheet_lines.csv_bytes(columns))
    paths["4101"] = folder / "4101.ndjson"
    with paths["4101"].open("wb") as out:
        body = facesheet_lines.documents_bytes(nodes)
        if body is not None:
            out.write(body)
        else:  # ids missing or repeated: the general path, a document at a time
            _write_documents(nodes, out)
    return paths


def _write_documents(nodes: dict[str, dict[str, pa.Array]], out: BinaryIO) -> None:
    import orjson  # compact, non-ASCII kept: the bytes json.dumps(ensure_ascii=False) gives

    cells = {n: {c: a.to_pylist() for c, a in columns.items()} for n, columns in nodes.items()}
    lines = []
    for doc in _documents(cells):
        lines.append(orjson.dumps(doc, option=orjson.OPT_APPEND_NEWLINE))
        if len(lines) == 1000:
            out.write(b"".join(lines))
            lines.clear()
    out.write(b"".join(lines))


def documents(texts: dict[str, pd.DataFrame]):
    """Yield one 4101 request body per case: setlinfo plus its child node lists."""
    yield from _documents({n: {c: texts[n][c].tolist() for c in texts[n].columns} for n in NODES})


def _documents(nodes: dict[str, Cells]):
    """Each case's dicts are built as it is written, so they die young (no GC of the lot)."""
    diseinfo, oprninfo, iteminfo = (_children(nodes[n]) for n in NODES[1:])
    setl = nodes["setlinfo"]
    names = list(setl)
    for rec in map(dict, map(zip, repeat(names), zip(*setl.values(), strict=True))):
        key = rec["mdtrt_id"]
        yield {
            "setlinfo": rec,
            "payinfo": [],
            "opspdiseinfo": [],
            "diseinfo": diseinfo(key),
            "iteminfo": iteminfo(key),
            "oprninfo": oprninfo(key),
            "icuinfo": [],
        }


def _children(cells: Cells) -> Callable[[str], list[dict]]:
    """A node's rows of one case (without ``mdtrt_id``), in their order in the node.

    The builder writes each case's rows together (sorted by ``mdtrt_id``), so a case is one
    slice of the columns; rows of a case scattered through the node are gathered one by one."""
    cells = dict(cells)
    keys = cells.pop("mdtrt_id")
    names, cols = list(cells), list(cells.values()) or [keys]  # no fields: {} per row
    k = np.array(keys, dtype=object)
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]]).tolist() if len(k) else []
    runs = dict(zip(k[starts].tolist(), map(slice, starts, [*starts[1:], len(k)]), strict=True))
    if len(runs) == len(starts):  # one run per case: slice the columns
        none = slice(0, 0)
        return lambda key: _case_rows(names, [c[runs.get(key, none)] for c in cols])
    grouped: dict[str, list] = {}
    for i, key in enumerate(keys):
        grouped.setdefault(key, []).append(i)
    return lambda key: _case_rows(names, [[c[i] for i in grouped.get(key, ())] for c in cols])


def _case_rows(names: list[str], cols: list[list]) -> list[dict]:
    """The rows of the (sliced) columns as dicts; ``map`` runs in C, ``zip(strict=True)`` per
    row would cost a keyword-argument call each."""
    return list(map(dict, map(zip, repeat(names), zip(*cols, strict=True))))


class FaceSheetError(ValueError):
    """A face-sheet folder that cannot be read (missing node file or key column)."""


def read_facesheet(folder: Path) -> FaceSheet:
    """Read a face-sheet folder (the four node CSVs) with the builder's types."""
    frames = {}
    for node in NODES:
        path = folder / f"{node}.csv"
        if not path.exists():
            raise FaceSheetError(
                f"{path}: missing 4101 node file {node}.csv / 缺少结算清单节点文件"
            )
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        frame = frame.replace("", None)
        if "mdtrt_id" not in frame.columns:
            raise FaceSheetError(
                f"{path}: no mdtrt_id column / 缺少就诊ID列 (found: {', '.join(frame.columns)})"
            )
        frames[node] = frame.reindex(columns=columns(node))
    return typed(FaceSheet(**frames))
