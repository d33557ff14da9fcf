"""Canonical tables: the hub every adapter writes to and every emitter reads from.

Each table is a fixed Arrow schema. Every row carries its provenance (``source`` file,
``locator`` such as ``file.csv:17``, ``vendor``), and coded columns keep the local code and
name beside the standard code, its system and the mapping status, so nothing a vendor sent is
lost on the way to a standard.

Adapters build pandas frames with these columns; :func:`conform` casts them to the schema so a
missing or mistyped column is caught at the hub, not in an emitter.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

PROVENANCE = [
    pa.field("source", pa.string(), nullable=False),
    pa.field("locator", pa.string(), nullable=False),
    pa.field("vendor", pa.string(), nullable=False),
]


def coded(prefix: str) -> list[pa.Field]:
    """The five columns of a coded value: local code/name beside the standard code."""
    return [
        pa.field(f"{prefix}local_code", pa.string()),
        pa.field(f"{prefix}local_name", pa.string()),
        pa.field(f"{prefix}code", pa.string()),
        pa.field(f"{prefix}code_system", pa.string()),
        pa.field(f"{prefix}map_status", pa.string()),
    ]


TS = pa.timestamp("s")

PATIENT = pa.schema(
    [
        pa.field("patient_id", pa.string(), nullable=False),
        pa.field("medcasno", pa.string()),
        pa.field("name", pa.string()),
        pa.field("gend", pa.string()),
        pa.field("gend_local", pa.string()),
        pa.field("brdy", pa.date32()),
        pa.field("patn_cert_type", pa.string()),
        pa.field("certno", pa.string()),
        pa.field("ntly", pa.string()),
        pa.field("naty", pa.string()),
        pa.field("prfs", pa.string()),
        pa.field("marry", pa.string()),
        pa.field("curr_addr", pa.string()),
        # 工作单位 (单位名称/地址/电话): '-' when the patient has none, as the face sheet asks
        pa.field("emp_name", pa.string()),
        pa.field("emp_addr", pa.string()),
        pa.field("emp_tel", pa.string()),
        pa.field("poscode", pa.string()),
        pa.field("tel", pa.string()),
        pa.field("coner_name", pa.string()),
        pa.field("patn_rlts", pa.string()),
        pa.field("coner_addr", pa.string()),
        pa.field("coner_tel", pa.string()),
        *PROVENANCE,
    ]
)

ENCOUNTER = pa.schema(
    [
        pa.field("mdtrt_id", pa.string(), nullable=False),
        pa.field("patient_id", pa.string(), nullable=False),
        pa.field("medcasno", pa.string()),
        # FHIR v3 ActCode class: IMP inpatient, AMB outpatient, EMER emergency; empty = unknown.
        # Only inpatient (IMP) stays get a face sheet; a 病案首页 profile sets IMP.
        pa.field("enc_class", pa.string()),
        pa.field("fixmedins_code", pa.string()),
        pa.field("fixmedins_name", pa.string()),
        pa.field("hi_type", pa.string()),
        pa.field("hi_no", pa.string()),
        pa.field("insuplc", pa.string()),
        pa.field("ipt_med_type", pa.string()),
        pa.field("adm_way", pa.string()),
        pa.field("trt_type", pa.string()),
        pa.field("adm_time", TS),
        pa.field("dscg_time", TS),
        pa.field("adm_caty", pa.string()),
        pa.field("dscg_caty", pa.string()),
        pa.field("act_ipt_days", pa.int32()),
        # 门（急）诊诊断 made before admission (not the discharge diagnosis): name, and its code
        # as the vendor wrote it (often a local code; not mapped to 医保版 2.0 yet).
        pa.field("otp_wm_dise", pa.string()),
        pa.field("otp_wm_dise_code", pa.string()),
        pa.field("age", pa.int32()),
        pa.field("nwb_age", pa.int32()),
        pa.field("nwb_adm_type", pa.string()),
        pa.field("nwb_bir_wt", pa.float64()),
        pa.field("nwb_adm_wt", pa.float64()),
        pa.field("dscg_way", pa.string()),
        pa.field("dscg_way_local", pa.string()),
        pa.field("acp_medins_name", pa.string()),
        pa.field("acp_optins_code", pa.string()),
        pa.field("days_rinp_flag_31", pa.string()),
        pa.field("days_rinp_pup_31", pa.string()),
        pa.field("chfpdr_name", pa.string()),
        pa.field("chfpdr_code", pa.string()),
        pa.field("hi_paymtd", pa.string()),
        pa.field("setl_id", pa.string()),
        pa.field("bill_code", pa.string()),
        pa.field("bill_no", pa.string()),
        pa.field("biz_sn", pa.string()),
        pa.field("medins_fill_dept", pa.string()),
        pa.field("medins_fill_psn", pa.string()),
        *PROVENANCE,
    ]
)

DIAGNOSIS = pa.schema(
    [
        pa.field("mdtrt_id", pa.string(), nullable=False),
        pa.field("seq", pa.int32(), nullable=False),
        pa.field("maindiag_flag", pa.string()),
        pa.field("diag_type", pa.string()),
        *coded(""),
        pa.field("name", pa.string()),
        pa.field("adm_cond_type", pa.string()),
        *PROVENANCE,
    ]
)

PROCEDURE = pa.schema(
    [
        pa.field("mdtrt_id", pa.string(), nullable=False),
        pa.field("seq", pa.int32(), nullable=False),
        pa.field("main_flag", pa.string()),
        pa.field("oprn_oprt_type", pa.string()),
        *coded(""),
        pa.field("name", pa.string()),
        pa.field("oprn_oprt_date", TS),
        pa.field("oprn_lv", pa.string()),
        pa.field("anst_way", pa.string()),
        pa.field("oper_dr_name", pa.string()),
        pa.field("oper_dr_code", pa.string()),
        pa.field("anst_dr_name", pa.string()),
        pa.field("anst_dr_code", pa.string()),
        *PROVENANCE,
    ]
)

CHARGE = pa.schema(
    [
        pa.field("mdtrt_id", pa.string(), nullable=False),
        pa.field("item_local_code", pa.string()),
        pa.field("item_local_name", pa.string()),
        pa.field("med_chrgitm", pa.string()),
        pa.field("amt", pa.float64()),
        pa.field("claa_sumfee", pa.float64()),
        pa.field("clab_amt", pa.float64()),
        pa.field("fulamt_ownpay_amt", pa.float64()),
        pa.field("oth_amt", pa.float64()),
        *PROVENANCE,
    ]
)

# ---- clinical tables of LIS / PACS / EMR feeds (HL7 v2, DICOM, CDA) -------------------------
# mdtrt_id is empty when the source names no visit (an outpatient lab result, a PACS study).

ORDER = pa.schema(
    [
        pa.field("order_id", pa.string(), nullable=False),  # placer (or filler) order number
        pa.field("patient_id", pa.string(), nullable=False),
        pa.field("mdtrt_id", pa.string()),
        *coded(""),
        pa.field("name", pa.string()),
        pa.field("status", pa.string()),  # FHIR request-status
        pa.field("priority", pa.string()),
        pa.field("ordered_time", TS),
        pa.field("requester", pa.string()),
        *PROVENANCE,
    ]
)

REPORT = pa.schema(
    [
        pa.field("report_id", pa.string(), nullable=False),
        pa.field("patient_id", pa.string(), nullable=False),
        pa.field("mdtrt_id", pa.string()),
        pa.field("order_id", pa.string()),
        *coded(""),
        pa.field("name", pa.string()),
        pa.field("category", pa.string()),  # LAB, RAD, ... (v2 0074 diagnostic service section)
        pa.field("status", pa.string()),  # FHIR diagnostic-report-status
        pa.field("effective_time", TS),
        pa.field("issued_time", TS),
        pa.field("conclusion", pa.string()),
        pa.field("study_uid", pa.string()),  # imaging report → its study
        *PROVENANCE,
    ]
)

OBSERVATION = pa.schema(
    [
        pa.field("observation_id", pa.string(), nullable=False),
        pa.field("patient_id", pa.string(), nullable=False),
        pa.field("mdtrt_id", pa.string()),
        pa.field("report_id", pa.string()),
        pa.field("seq", pa.int32()),
        *coded(""),
        pa.field("name", pa.string()),
        pa.field("value_type", pa.string()),  # v2 0125: NM, ST, TX, CE/CWE, SN, DT, TS ...
        pa.field("value_num", pa.float64()),
        pa.field("value_text", pa.string()),
        pa.field("value_code", pa.string()),
        pa.field("value_system", pa.string()),
        pa.field("unit", pa.string()),
        pa.field("ref_range", pa.string()),
        pa.field("ref_low", pa.float64()),
        pa.field("ref_high", pa.float64()),
        pa.field("abnormal_flag", pa.string()),  # v2 0078 (H, L, N, A, ...)
        pa.field("status", pa.string()),  # FHIR observation-status
        pa.field("effective_time", TS),
        pa.field("category", pa.string()),  # laboratory, vital-signs, imaging, ...
        *PROVENANCE,
    ]
)

IMAGING_STUDY = pa.schema(
    [
        pa.field("study_uid", pa.string(), nullable=False),
        pa.field("patient_id", pa.string(), nullable=False),
        pa.field("mdtrt_id", pa.string()),
        pa.field("accession", pa.string()),
        pa.field("study_time", TS),
        pa.field("description", pa.string()),
        pa.field("modalities", pa.string()),  # space-separated DICOM modality codes
        pa.field("series_count", pa.int32()),
        pa.field("instance_count", pa.int32()),
        pa.field("referrer", pa.string()),
        *PROVENANCE,
    ]
)

IMAGING_SERIES = pa.schema(
    [
        pa.field("series_uid", pa.string(), nullable=False),
        pa.field("study_uid", pa.string(), nullable=False),
        pa.field("number", pa.int32()),
        pa.field("modality", pa.string()),
        pa.field("body_part", pa.string()),
        pa.field("description", pa.string()),
        pa.field("series_time", TS),
        pa.field("instance_count", pa.int32()),
        *PROVENANCE,
    ]
)

IMAGING_INSTANCE = pa.schema(
    [
        pa.field("sop_instance_uid", pa.string(), nullable=False),
        pa.field("series_uid", pa.string(), nullable=False),
        pa.field("study_uid", pa.string(), nullable=False),
        pa.field("sop_class_uid", pa.string()),
        pa.field("number", pa.int32()),
        *PROVENANCE,
    ]
)

MEDICATION = pa.schema(
    [
        pa.field("med_id", pa.string(), nullable=False),
        pa.field("patient_id", pa.string(), nullable=False),
        pa.field("mdtrt_id", pa.string()),
        pa.field("order_id", pa.string()),
        *coded(""),
        pa.field("name", pa.string()),
        pa.field("dose", pa.float64()),
        pa.field("dose_unit", pa.string()),
        pa.field("route", pa.string()),
        pa.field("frequency", pa.string()),
        pa.field("start_time", TS),
        pa.field("end_time", TS),
        pa.field("status", pa.string()),  # FHIR medicationrequest-status
        *PROVENANCE,
    ]
)

# A patient identity merged into another (HL7 ADT^A40): every row of merged_id belongs to
# patient_id after the run applies the links.
PATIENT_LINK = pa.schema(
    [
        pa.field("patient_id", pa.string(), nullable=False),
        pa.field("merged_id", pa.string(), nullable=False),
        pa.field("linked_time", TS),
        *PROVENANCE,
    ]
)

SCHEMAS: dict[str, pa.Schema] = {
    "patient": PATIENT,
    "encounter": ENCOUNTER,
    "diagnosis": DIAGNOSIS,
    "procedure": PROCEDURE,
    "charge": CHARGE,
    "order": ORDER,
    "report": REPORT,
    "observation": OBSERVATION,
    "imaging_study": IMAGING_STUDY,
    "imaging_series": IMAGING_SERIES,
    "imaging_instance": IMAGING_INSTANCE,
    "medication": MEDICATION,
    "patient_link": PATIENT_LINK,
}

# Keys that identify a row of each table (used for stable ordering and de-duplication).
KEYS: dict[str, list[str]] = {
    "patient": ["patient_id"],
    "encounter": ["mdtrt_id"],
    "diagnosis": ["mdtrt_id", "seq"],
    "procedure": ["mdtrt_id", "seq"],
    "charge": ["mdtrt_id", "med_chrgitm", "item_local_code", "locator"],
    "order": ["order_id"],
    "report": ["report_id"],
    "observation": ["observation_id"],
    "imaging_study": ["study_uid"],
    "imaging_series": ["series_uid"],
    "imaging_instance": ["sop_instance_uid"],
    "medication": ["med_id"],
    "patient_link": ["merged_id", "patient_id"],
}

DIAGNOSIS_SYSTEM = "icd10-yb-2.0"
PROCEDURE_SYSTEM = "icd9cm3-yb-2.0"


def empty(table: str) -> pd.DataFrame:
    """An empty frame with the table's columns and dtypes."""
    return SCHEMAS[table].empty_table().to_pandas()


@functools.cache
def _empty(table: str) -> pd.DataFrame:
    """:func:`empty`, made once (callers copy it)."""
    return empty(table)


def conform(table: str, frame: pd.DataFrame) -> pa.Table:
    """Cast a frame to the canonical schema: missing columns become nulls, extras are dropped.

    Raises ``pyarrow.ArrowInvalid`` naming the column when a value cannot be cast: that is a
    bug in the adapter, since adapters parse and validate values before they reach the hub.
    """
    schema = SCHEMAS[table]
    columns = {}
    for field in schema:
        if field.name in frame.columns:
            values = frame[field.name]
            if pa.types.is_string(field.type):
                columns[field.name] = _text_array(values, field.type)
            else:
                columns[field.name] = pa.array(values, type=field.type, from_pandas=True)
        else:
            columns[field.name] = pa.nulls(len(frame), type=field.type)
    return pa.table(columns, schema=schema)


def _text_array(values: pd.Series, to: pa.DataType) -> pa.Array:
    """A text column as Arrow without a Python object per cell where that can be avoided.

    Arrow-backed strings (the pandas default) are taken as they are; an object column is
    converted as it is, pyarrow's ``from_pandas`` making None, NaN and NA null (no ``isna``
    pass). A missing value pyarrow does not know (NaT, a NumPy float32 NaN) makes it refuse
    the column, and what pyarrow refuses takes the general path, which nulls what ``notna``
    says is missing: the result, or the failure, is the same as before."""
    dtype = values.dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        array = pa.array(values.array, type=to)  # chunked when read from several batches
        return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    if pd.api.types.is_object_dtype(dtype):
        try:
            return pa.array(values.to_numpy(), type=to, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
            pass
    values = values.astype("object").where(values.notna(), None)
    return pa.array(values, type=to, from_pandas=True)


def is_in(values: pd.Series, members: Iterable[object] | pd.Series) -> pd.Series:
    """``values.isin(members)``, fast for Arrow-backed text: pandas 3 makes a pyarrow scalar
    of every member first (seconds for a set of a partition's visit numbers).

    ``members`` may be a text Series (its values are the set, missing ones included) or any
    iterable; missing members match missing values, as they do in pandas."""
    dtype = values.dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        try:
            if isinstance(members, pd.Series):
                chosen = _text_array(members, pa.large_string())
            else:
                chosen = pa.array(list(members), type=pa.large_string(), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            chosen = None  # members that are not text: pandas' own rules
        if chosen is not None:
            column = pa.array(values.array)  # the column as it is stored, not a copy
            found = pc.is_in(column, value_set=chosen.cast(column.type))
            return pd.Series(np.asarray(found, dtype=np.bool_), index=values.index)
    return values.isin(members)


def canonical(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """The frame conformed to the canonical schema (as pandas) in a stable, deterministic order
    of its key columns, missing keys last.

    Sorted while still Arrow: Arrow's sort is stable, like pandas' mergesort, and ``conform``
    has made every missing number null (never NaN), so both give the same order. Sorting before
    the conversion spares pandas' key factorizing and its per-column take."""
    if len(frame) == 0:  # most of a run's tables are empty in most partitions: ~3 ms each
        return _empty(table).copy()
    conformed = conform(table, frame)
    keys = [(k, "ascending") for k in KEYS[table] if k in conformed.column_names]
    if keys and conformed.num_rows > 1:
        conformed = conformed.take(pc.sort_indices(conformed, sort_keys=keys))
    return conformed.to_pandas()


# Reasons a record can be rejected for; the manifest counts rejects by these.
REJECT_REASONS = {
    "missing_value": "必填值缺失 / required value missing",
    "bad_datetime": "日期时间格式错误 / malformed date or time",
    "bad_number": "数值格式错误 / malformed number",
    "unknown_code": "未知代码 / local value not in the value table",
    "truncated": "记录不完整 / truncated record",
    "bad_row": "字段数多于表头 / more fields than the header",
    "unsupported": "不支持的消息或文档类型 / unsupported message or document type",
    "unrecognized": "无法识别的文件 / no adapter recognizes this file",
    "malformed": "格式错误 / malformed message, document or file",
    "hostile": "拒绝的危险输入 / refused hostile input (entities, size, depth)",
    "encoding": "编码错误 / bytes not decodable in the file's encoding",
    "orphan": "无对应就诊记录 / no matching encounter",
    "duplicate": "重复记录 / duplicate record",
}


@dataclass(frozen=True)
class Reject:
    """A record that could not be converted: where it is, which field, and why."""

    source: str
    locator: str
    reason: str
    message: str
    field: str | None = None
    value: str | None = None

    def __post_init__(self) -> None:
        if self.reason not in REJECT_REASONS:
            raise ValueError(f"unknown reject reason {self.reason!r}")

    def line(self) -> str:
        """The one-line error users read: file:row field: message."""
        where = f"{self.locator} {self.field}" if self.field else self.locator
        return f"{where}: {self.message}"

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "locator": self.locator,
            "reason": self.reason,
            "field": self.field,
            "value": self.value,
            "message": self.message,
        }
