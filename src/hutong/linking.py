"""Across input files and systems: one patient, one stay, no dangling rows.

Rows from a HIS table, an LIS HL7 feed, a PACS folder and EMR documents meet here. Patient
merges (HL7 ADT^A40) are applied, rows of the same patient identifier become one patient,
a duplicate stay is rejected, and a row whose stay or patient is missing is rejected as an
orphan (its whole record, once); a clinical row naming a visit nobody sent loses only that link.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from hutong.adapters.batch import record_of
from hutong.model import Reject, is_in

NEEDS_ENCOUNTER = ("diagnosis", "procedure", "charge")
NEEDS_PATIENT = ("order", "report", "observation", "imaging_study", "medication")


def link(
    tables: dict[str, pd.DataFrame], event_sources: set[str] = frozenset()
) -> tuple[dict[str, pd.DataFrame], list[Reject], dict]:
    """Linked tables, the records rejected on the way, and counts worth a note.

    ``event_sources`` are files that describe a stay in several messages (HL7 feeds): their
    repeated visit numbers are merged, not rejected as duplicates.
    """
    tables = _apply_merges(tables)
    tables, rejects = _drop_duplicate_stays(tables, event_sources)
    notes: dict[str, int] = {}
    patients = _one_row_per_patient(tables["patient"])
    known_patients = patients["patient_id"]
    enc = tables["encounter"]
    orphan_enc = ~is_in(enc["patient_id"], known_patients)
    if orphan_enc.any():
        rejects += _orphans(enc[orphan_enc], "patient_id", "patient")
        tables["encounter"] = enc = enc[~orphan_enc]
    stays = enc["mdtrt_id"]
    stay_of = dict(zip(enc["mdtrt_id"], enc["patient_id"], strict=True))
    for table in NEEDS_ENCOUNTER:
        frame = tables[table]
        if frame.empty:
            continue
        orphan = ~is_in(frame["mdtrt_id"], stays)
        if orphan.any():  # filtering copies the whole table: only when a row goes
            rejects += _orphans(frame[orphan], "mdtrt_id", "encounter")
            tables[table] = frame[~orphan]
    for table in NEEDS_PATIENT:
        frame = tables.get(table)
        if frame is None or frame.empty:
            continue
        orphan = ~is_in(frame["patient_id"], known_patients)
        if orphan.any():
            rejects += _orphans(frame[orphan], "patient_id", "patient")
            frame = frame[~orphan]
        if table in ("observation", "medication"):  # a result or drug must say what it is
            nameless = _all_missing(frame, ("local_code", "local_name", "code"))
            rejects += [
                Reject(
                    r.source,
                    r.locator,
                    "missing_value",
                    f"{table} without code or name / 缺少项目代码和名称",
                    "local_code",
                )
                for r in frame[nameless].itertuples()
            ]
            if nameless.any():
                frame = frame[~nameless]
        named = frame["mdtrt_id"].map(stay_of)
        # A visit nobody sent, or a visit of another patient: the row keeps its patient only.
        dangling = frame["mdtrt_id"].notna() & (named.isna() | (named != frame["patient_id"]))
        if dangling.any():
            notes[f"{table}: visit link dropped (visit not sent, or another patient's)"] = int(
                dangling.sum()
            )
            frame = frame.copy(deep=False)  # the caller's frame stays as it was
            frame.loc[dangling, "mdtrt_id"] = None
        tables[table] = frame
    used = [enc["patient_id"]]
    for table in NEEDS_PATIENT:
        if table in tables and not tables[table].empty:
            used.append(tables[table]["patient_id"])
    tables["patient"] = patients[is_in(patients["patient_id"], pd.concat(used))]
    tables, repeated, superseded = _repeated_rows(tables, event_sources)
    notes.update(superseded)
    rejects = _unique(rejects + repeated)
    return _without(tables, {(r.source, record_of(r.locator)) for r in rejects}), rejects, notes


def _repeated_rows(
    tables: dict[str, pd.DataFrame], event_sources: set[str]
) -> tuple[dict, list[Reject], dict]:
    """A result, report, order or drug sent again under the same id. From an event feed the
    later message supersedes the earlier (a final result after a preliminary one); from an
    export, the same content is one row and different content a duplicate record."""
    from hutong.model import KEYS

    rejects: list[Reject] = []
    notes: dict[str, int] = {}
    out = dict(tables)
    for table in NEEDS_PATIENT:
        frame = tables.get(table)
        if frame is None or frame.empty:
            continue
        keys = KEYS[table]
        events = frame["source"].isin(event_sources)
        fed = frame if events.all() else frame[events]  # an HL7 feed: all rows, no copy
        newer = fed.duplicated(keys, keep="last")
        if newer.any():
            notes[f"{table}: superseded by a later message"] = int(newer.sum())
        sent = frame[~events]
        content = [c for c in frame.columns if c not in ("source", "locator", "vendor")]
        sent = sent[~sent.duplicated(content, keep="first")]
        again = sent.duplicated(keys, keep="first")
        for r in sent[again].itertuples():
            key = getattr(r, keys[0])
            rejects.append(
                Reject(
                    r.source,
                    r.locator,
                    "duplicate",
                    f"{table} {key!r} sent again with other content / 同一标识内容不同",
                    keys[0],
                    None if pd.isna(key) else str(key),
                )
            )
        out[table] = _kept(frame, sent[~again], fed, ~newer, keys)
    return out, rejects, notes


def _kept(
    frame: pd.DataFrame, sent: pd.DataFrame, fed: pd.DataFrame, latest: pd.Series, keys: list
) -> pd.DataFrame:
    """``concat([sent, fed[latest]]).drop_duplicates(keys).sort_index()``: rows of ``frame``,
    in its order. The duplicates are found on the key columns alone and the frame is filtered
    once, or not at all when every row stays (the whole table was copied four times)."""
    index = frame.index
    if not (index.is_unique and index.is_monotonic_increasing):
        kept = pd.concat([sent, fed[latest]]).drop_duplicates(keys, keep="first")
        return kept.sort_index()
    both = pd.concat([sent[keys], fed.loc[latest, keys]])
    labels = both.index[~both.duplicated(keys, keep="first").to_numpy()]
    if len(labels) == len(index):  # labels are unique: every row of the frame stays
        return frame
    return frame[index.isin(labels)]


def _without(tables: dict[str, pd.DataFrame], records: set[tuple[str, str]]) -> dict:
    """Tables without any row of the given (source, record): a rejected record is all gone.

    Only rows of a source with a rejected record are looked at, and their record part is
    cut from the locator in one Arrow step (a Python call per row was a third of linking)."""
    if not records:
        return tables
    sources = {s for s, _ in records}
    out = {}
    for table, frame in tables.items():
        if frame.empty:
            out[table] = frame
            continue
        seen = is_in(frame["source"], sources).to_numpy()
        if not seen.any():
            out[table] = frame
            continue
        rows = np.flatnonzero(seen)
        some = slice(None) if len(rows) == len(frame) else rows  # all rows: no copy
        gone = _rejected(frame["source"].iloc[some], frame["locator"].iloc[some], records)
        if gone.any():
            keep = np.ones(len(frame), dtype=np.bool_)
            keep[rows[gone]] = False
            frame = frame[keep]
        out[table] = frame
    return out


def _rejected(sources: pd.Series, locators: pd.Series, records: set[tuple[str, str]]) -> np.ndarray:
    """Whether each row's (source, record of its locator) is one of ``records``."""
    try:
        if not all(isinstance(s, str) and isinstance(r, str) for s, r in records):
            raise pa.ArrowTypeError("a record that is not text")
        source = pa.array(sources.to_numpy(dtype=object), type=pa.large_string())
        locator = pa.array(locators.to_numpy(dtype=object), type=pa.large_string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # not all text: the general path
        keys = zip(sources, locators.map(record_of), strict=True)
        return np.fromiter((k in records for k in keys), dtype=np.bool_, count=len(sources))
    record = pc.list_element(pc.split_pattern(locator, "/", max_splits=1), 0)
    # a NUL joins the two: a file name or locator cannot hold one
    key = pc.binary_join_element_wise(source, record, pa.scalar("\0", pa.large_string()))
    wanted = pa.array([f"{s}\0{r}" for s, r in records], type=pa.large_string())
    found = pc.is_in(key, value_set=wanted)
    return np.asarray(found.fill_null(False), dtype=np.bool_)


def _apply_merges(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Rewrite every merged patient id to the surviving one (chains followed to the end)."""
    links = tables.get("patient_link")
    if links is None or links.empty:
        return tables
    into = dict(zip(links["merged_id"], links["patient_id"], strict=True))

    def final(pid: object) -> object:
        return surviving(pid, into)

    out = {}
    for table, frame in tables.items():
        if table != "patient_link" and "patient_id" in frame.columns and not frame.empty:
            frame = frame.assign(patient_id=_merged(frame["patient_id"], into, final))
        out[table] = frame
    return out


def surviving(pid: object, into: dict) -> object:
    """The patient ``pid`` ends up as after following ``into`` (merged id → surviving id); a
    cycle of merges stops where it would repeat."""
    seen = set()
    while pid in into and pid not in seen:
        seen.add(pid)
        pid = into[pid]
    return pid


def _merged(ids: pd.Series, into: dict, final) -> pd.Series:
    """``ids.map(final)``, calling ``final`` only on the rows naming a merged patient.

    The dtype is inferred from the values as ``map`` infers it (object text becomes ``str``)."""
    if not (pd.api.types.is_object_dtype(ids.dtype) or isinstance(ids.dtype, pd.StringDtype)):
        return ids.map(final)
    values = ids.to_numpy(dtype=object, copy=True)
    # ``isin`` matches every value a dict lookup would (and maybe more): ``final`` decides
    for i in np.flatnonzero(is_in(ids, list(into)).to_numpy()):
        values[i] = final(values[i])
    return pd.Series(values, index=ids.index, name=ids.name).infer_objects()


def _one_row_per_patient(patients: pd.DataFrame) -> pd.DataFrame:
    """Rows with one patient identifier, from several systems, become one patient: the first
    non-empty value of each field wins (inputs are read in a stable order)."""
    if patients.empty:
        return patients
    merged = patients.groupby("patient_id", sort=False, dropna=True).first().reset_index()
    return merged[patients.columns]


def _drop_duplicate_stays(
    tables: dict[str, pd.DataFrame], event_sources: set[str]
) -> tuple[dict, list[Reject]]:
    """The second record of a stay already sent is rejected, with all its rows; rows of one
    stay sent in several event messages (HL7 A01 then A03) are merged instead."""
    enc = tables["encounter"]
    if enc.empty:
        return tables, []
    again = enc.duplicated("mdtrt_id", keep="first")
    owner = enc.groupby("mdtrt_id", sort=False)["patient_id"].transform("first")
    # An event feed may repeat a stay; it may not give one visit number to another patient.
    other_patient = again & (enc["patient_id"] != owner)
    dup = (again & ~enc["source"].isin(event_sources)) | other_patient
    rejects = [
        Reject(
            r.source,
            r.locator,
            "duplicate",
            f"duplicate encounter / 重复就诊: {r.mdtrt_id!r}"
            + (f" already belongs to patient {o!r}" if o != r.patient_id else ""),
            "mdtrt_id",
            r.mdtrt_id,
        )
        for r, o in zip(enc[dup].itertuples(), owner[dup], strict=True)
    ]
    dropped = set(zip(enc.loc[dup, "source"], enc.loc[dup, "locator"].map(record_of), strict=True))
    out = _without(tables, dropped)
    enc = out["encounter"]
    out["encounter"] = enc.groupby("mdtrt_id", sort=False).first().reset_index()[enc.columns]
    return out, rejects


def _orphans(rows: pd.DataFrame, field: str, what: str) -> list[Reject]:
    """One reject per record whose rows point at a missing ``what``."""
    out = []
    for r in rows.drop_duplicates(["source", "locator"]).itertuples():
        value = getattr(r, field)
        out.append(
            Reject(
                r.source,
                record_of(r.locator),
                "orphan",
                f"no converted {what} {value!r} (missing or rejected) / 无对应的已转换记录",
                field,
                None if pd.isna(value) else str(value),
            )
        )
    return out


def _unique(rejects: list[Reject]) -> list[Reject]:
    """One reject per record (a record with several orphan rows is rejected once)."""
    seen: set[tuple[str, str]] = set()
    out = []
    for r in rejects:
        key = (r.source, record_of(r.locator))
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def _all_missing(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.Series:
    """Rows with none of ``columns`` filled (a column the frame lacks counts as empty)."""
    missing = pd.Series(True, index=frame.index)
    for column in columns:
        if column in frame.columns:
            missing &= frame[column].isna()
    return missing
