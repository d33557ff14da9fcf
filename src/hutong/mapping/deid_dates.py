"""Per-patient date shifting: every date and time of a patient moves by the same number of
days, so lengths of stay and ages in days stay exact while the calendar dates do not.

Ages (实足年龄, 新生儿天数) and 实际住院天数 are filled from the identified dates first, with the
face sheet's own rules, because a calendar age can change by a day when both dates move
(29 February, month ends): the face sheet built from shifted dates then shows the true values.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from hutong import model
from hutong.mapping.deid_pseudonym import shift_days
from hutong.mapping.facesheet import _age_parts, _stay_days

# Tables without patient_id reach their patient through another table.
VIA = {
    "diagnosis": ("mdtrt_id", "encounter"),
    "procedure": ("mdtrt_id", "encounter"),
    "charge": ("mdtrt_id", "encounter"),
    "imaging_series": ("study_uid", "imaging_study"),
    "imaging_instance": ("study_uid", "imaging_study"),
}


def date_columns(table: str, frame: pd.DataFrame) -> list[str]:
    """Columns holding dates or times: by the canonical schema, and any datetime64 column."""
    schema = model.SCHEMAS.get(table)
    typed = set()
    if schema is not None:
        typed = {
            f.name for f in schema if pa.types.is_timestamp(f.type) or pa.types.is_date(f.type)
        }
    return [
        c
        for c in frame.columns
        if c in typed or pd.api.types.is_datetime64_any_dtype(frame[c].dtype)
    ]


def fill_ages(enc: pd.DataFrame, pat: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The encounters with empty age, nwb_age and act_ipt_days filled from identified dates."""
    out = enc.copy()
    births = pat.drop_duplicates("patient_id").set_index("patient_id")["brdy"]
    years, days = _age_parts(out["patient_id"].map(births), out["adm_time"])
    stay = _stay_days(out["adm_time"], out["dscg_time"])
    filled = 0
    for col, value in (("age", years), ("nwb_age", days), ("act_ipt_days", stay)):
        before = out[col].astype("Float64")
        after = before.fillna(value.set_axis(out.index))
        filled += int((before.isna() & after.notna()).sum())
        out[col] = after.astype("float64")
    return out, filled


def row_patients(tables: dict[str, pd.DataFrame]) -> dict[str, pd.Series]:
    """The (identified) patient of each row of each table, merged identities resolved; NA when
    the row reaches no patient (an orphan diagnosis, a series of a missing study)."""
    links = tables.get("patient_link")
    merged = {}
    if links is not None and len(links):
        merged = dict(zip(links["merged_id"], links["patient_id"], strict=True))
    direct = {t: f["patient_id"] for t, f in tables.items() if "patient_id" in f.columns}
    out = {}
    for table, frame in tables.items():
        if table in direct:
            who = direct[table]
        elif table in VIA and VIA[table][1] in tables:
            key, parent = VIA[table]
            owners = tables[parent].drop_duplicates(key).set_index(key)["patient_id"]
            who = frame[key].map(owners)
        else:
            who = pd.Series(pd.NA, index=frame.index, dtype=object)
        out[table] = who.map(lambda p: merged.get(p, p), na_action="ignore")
    return out


def offsets(
    tables: dict[str, pd.DataFrame], key: bytes, limit: int
) -> tuple[dict[str, pd.Series], int]:
    """Days to shift each row by, and how many rows reach no patient.

    A row with no patient is shifted by an offset of its own link value (its 就诊ID or study
    UID), so its dates never leave in clear and rows of the same orphan stay consistent.
    """
    patients = row_patients(tables)
    cache: dict[str, int] = {}

    def days(name: str) -> int:
        if name not in cache:
            cache[name] = shift_days(key, name, limit)
        return cache[name]

    out, orphans = {}, 0
    for table, frame in tables.items():
        who = patients[table].astype(object)
        lost = who.isna()
        if lost.any():
            orphans += int(lost.sum())
            link = VIA.get(table, ("mdtrt_id", None))[0]
            stand_in = frame[link] if link in frame.columns else pd.Series("", index=frame.index)
            who = who.where(~lost, "unlinked:" + stand_in.astype(str))
        out[table] = who.map(days).astype("int64")
    return out, orphans


def shift(values: pd.Series, days: pd.Series) -> pd.Series:
    """``values`` moved by ``days``; datetime64 stays datetime64, python dates stay dates."""
    delta = pd.to_timedelta(days, unit="D")
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return (values + delta.values).astype(values.dtype)
    as_time = pd.to_datetime(values, errors="coerce")
    moved = (as_time + delta.values).dt.date
    return moved.astype(object).where(as_time.notna(), None)
