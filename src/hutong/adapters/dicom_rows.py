"""DICOM records → canonical rows: one instance row per file, aggregated into series and studies.

A record is read from a chain of data sets, first one holding a value wins: a file and its
file meta, or a DICOMDIR's instance record and the series, study and patient records above
it. A record with a value missing or of the wrong shape is rejected with the element's tag,
like a bad cell of a table row; dates are converted a batch at a time by the project's one
date parser.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pandas as pd
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

from hutong.adapters.cells import parse_datetimes
from hutong.adapters.dicom_header import Refused
from hutong.adapters.dicom_values import MAX_VALUE, Charset, label, raw, readable, text_of, uid_of
from hutong.model import Reject

# column: (kind, tags by preference: the file's element, a DICOMDIR record's reference to it,
# the file meta).
FIELDS: dict[str, tuple[str, tuple[int, ...]]] = {
    "sop_instance_uid": ("uid", (0x00080018, 0x00041511, 0x00020003)),
    "sop_class_uid": ("uid", (0x00080016, 0x00041510, 0x00020002)),
    "series_uid": ("uid", (0x0020000E,)),
    "study_uid": ("uid", (0x0020000D,)),
    "number": ("text", (0x00200013,)),  # InstanceNumber
    "series_number": ("text", (0x00200011,)),
    "modality": ("text", (0x00080060,)),
    "body_part": ("text", (0x00180015,)),
    "series_description": ("text", (0x0008103E,)),
    "series_date": ("text", (0x00080021,)),
    "series_clock": ("text", (0x00080031,)),
    "patient_id": ("text", (0x00100020,)),
    "mdtrt_id": ("text", (0x00380010,)),  # AdmissionID: the visit, when the modality has it
    "accession": ("text", (0x00080050,)),
    "study_date": ("text", (0x00080020,)),
    "study_clock": ("text", (0x00080030,)),
    "study_description": ("text", (0x00081030,)),
    "referrer": ("name", (0x00080090,)),
    "name": ("name", (0x00100010,)),
    "gend_local": ("text", (0x00100040,)),
    "birth_date": ("text", (0x00100030,)),
    "manufacturer": ("text", (0x00080070,)),
}
TAGS = sorted({t for _, tags in FIELDS.values() for t in tags if t >> 16 != 0x0002})
# FIELDS as :func:`record` walks them: column, is a UID, is a person name, tags
_PLAN = tuple((c, kind == "uid", kind == "name", tags) for c, (kind, tags) in FIELDS.items())
REQUIRED = ("sop_instance_uid", "series_uid", "study_uid", "patient_id")

# DICOM PatientSex (PS3.3 C.7.1.1) → GB/T 2261.1-2003 人的性别代码; anything else is 0 未知.
SEX = {"M": "1", "F": "2", "O": "9"}

INSTANCE = ["sop_instance_uid", "series_uid", "study_uid", "sop_class_uid", "number"]
# Columns an instance row carries beside its canonical ones, so that :func:`aggregate` can
# rebuild series and studies from the instances of a whole run.
SERIES_OF_INSTANCE = ["series_number", "modality", "body_part", "series_description"]
STUDY_OF_INSTANCE = ["patient_id", "mdtrt_id", "accession", "study_description", "referrer"]
PROVENANCE = ["source", "locator", "vendor"]
TIMES = ["series_time", "study_time"]
PATIENT = ["name", "gend", "gend_local", "brdy"]
COLUMNS = [*INSTANCE, *SERIES_OF_INSTANCE, *STUDY_OF_INSTANCE, *TIMES, *PATIENT, *PROVENANCE]

# series and study columns ← the instance columns they are taken from, by :func:`aggregate`
SERIES_FROM = {
    "study_uid": "study_uid",
    "number": "series_number",
    "modality": "modality",
    "body_part": "body_part",
    "description": "series_description",
    "source": "source",
    "locator": "locator",
    "vendor": "vendor",
}
STUDY_FROM = {
    "patient_id": "patient_id",
    "mdtrt_id": "mdtrt_id",
    "accession": "accession",
    "description": "study_description",
    "referrer": "referrer",
    "source": "source",
    "locator": "locator",
    "vendor": "vendor",
}
KEYS = ["sop_instance_uid", "series_uid"]
AGGREGATED = list(dict.fromkeys([*KEYS, *SERIES_FROM.values(), *STUDY_FROM.values(), *TIMES]))

# timestamp column: the date and time elements it is made of
STAMPS = {
    "study_time": ("study_date", "study_clock"),
    "series_time": ("series_date", "series_clock"),
    "brdy": ("birth_date", None),
}
DA = re.compile(r"\d{8}")
TM = re.compile(r"\d\d|\d{4}|\d{6}")


def record(chain: Iterable[tuple[Dataset, Charset]], source: str, locator: str) -> dict:
    """The values of one record; raises :class:`Refused` for a value missing or unreadable."""
    # each data set's elements by plain int tag, once: pydicom's tag objects compare slowly
    links = [({int(t): e for t, e in ds.items()}, charset) for ds, charset in chain]
    notes: list[str] = []
    values: dict = {}
    for column, is_uid, person, tags in _PLAN:
        value = None
        for tag in tags:
            for elements, charset in links:
                elem = elements.get(tag)
                if elem is None:
                    continue
                found = elem.value if type(elem) is RawDataElement else None
                if (
                    type(found) is bytes
                    and len(found) <= MAX_VALUE
                    and found.isascii()
                    and 0x1B not in found
                ):  # plain ASCII as read (nearly every value): what :func:`raw` hands on
                    if is_uid:
                        value = uid_of(found, tag)
                    else:
                        first = found.decode("ascii").split("\\", 1)[0].strip(" \x00")
                        value = readable(first) if person else first or None
                elif is_uid:
                    value = uid_of(raw(elem, tag), tag)
                else:
                    value = text_of(raw(elem, tag), tag, charset, notes, person)
                if value is not None:
                    break
            if value is not None:
                break
        values[column] = value
    for column in REQUIRED:
        if values[column] is None:
            raise Refused("missing_value", "required value missing / 必填值缺失", _label(column))
    series_date = values["series_date"] or values["study_date"]
    sex = (values["gend_local"] or "").upper()
    return {
        **{c: values[c] for c in (*INSTANCE, *SERIES_OF_INSTANCE, *STUDY_OF_INSTANCE)},
        "number": _number(values, "number"),
        "series_number": _number(values, "series_number"),
        "study_time": _stamp(values, "study_date", values["study_date"], "study_clock"),
        "series_time": _stamp(values, "series_date", series_date, "series_clock"),
        "brdy": _stamp(values, "birth_date", values["birth_date"], None),
        "name": values["name"],
        "gend": SEX.get(sex, "0"),
        "gend_local": values["gend_local"],
        "source": source,
        "locator": locator,
        "vendor": values["manufacturer"] or "dicom",
        "notes": notes,
    }


def _label(column: str) -> str:
    return label(FIELDS[column][1][0])


def _number(values: dict, column: str) -> int | None:
    """An IS value as an integer that fits int32."""
    value = values[column]
    if value is None:
        return None
    try:
        number = int(value.strip())
    except ValueError:
        number = None
    if number is None or abs(number) >= 2**31:
        raise Refused("bad_number", f"not an integer / 非整数: {value!r}", _label(column))
    return number


def _stamp(values: dict, column: str, date: str | None, clock: str | None) -> str | None:
    """DA and TM as YYYYMMDDHHMMSS, for the one date parser to check and convert.

    The ACR-NEMA forms (YYYY.MM.DD, HH:MM:SS) are accepted, a fraction of a second is dropped,
    HH and HHMM are padded, and 00000000, a common blank date, means none.
    """
    day = (date or "").replace(".", "").strip()
    if not day or set(day) == {"0"}:
        return None
    if not DA.fullmatch(day):
        raise Refused("bad_datetime", f"malformed date / 日期格式错误: {date!r}", _label(column))
    raw = values[clock] if clock else None
    time = (raw or "").replace(":", "").split(".", 1)[0].strip()
    if time and not TM.fullmatch(time):
        raise Refused("bad_datetime", f"malformed time / 时间格式错误: {raw!r}", _label(clock))
    return day + time.ljust(6, "0")


def typed(records: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame, list[Reject]]:
    """Instance rows (with their series and study columns) and patient rows of ``records``;
    records whose date or time is not a real one (20040231, 256000) are rejected."""
    n = len(records)
    stamps = pd.Series([r[c] for c in STAMPS for r in records], dtype=object)
    parsed, bad = parse_datetimes(stamps, ("%Y%m%d%H%M%S",))
    rejects: dict[int, Reject] = {}
    if bad.any():
        days = stamps[bad].str[:8] + "000000"
        _, bad_day = parse_datetimes(days, ("%Y%m%d%H%M%S",))
        for at in bad[bad].index:
            row, (day, clock) = at % n, list(STAMPS.values())[at // n]
            message = f"not a real date or time / 日期时间无效: {stamps[at]!r}"
            field = _label(day if bad_day[at] or clock is None else clock)
            reject = Reject(
                records[row]["source"], records[row]["locator"], "bad_datetime", message,
                field, stamps[at],
            )  # fmt: skip
            rejects.setdefault(row, reject)
    columns: dict = {c: [r[c] for r in records] for c in COLUMNS}
    for i, column in enumerate(STAMPS):
        columns[column] = parsed.array[i * n : (i + 1) * n]
    for column in ("number", "series_number"):
        columns[column] = pd.array(columns[column], dtype="Int64")
    frame = pd.DataFrame(columns)
    frame["brdy"] = frame["brdy"].dt.date
    if rejects:
        frame = frame.drop(index=list(rejects)).reset_index(drop=True)
    instances = frame[[*INSTANCE, *SERIES_OF_INSTANCE, *STUDY_OF_INSTANCE, *TIMES, *PROVENANCE]]
    patients = frame[["patient_id", *PATIENT, *PROVENANCE]].drop_duplicates("patient_id")
    return instances, patients.reset_index(drop=True), [rejects[r] for r in sorted(rejects)]


def aggregate(
    instances: pd.DataFrame, studies: pd.DataFrame | None = None, series: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Study and series rows from instance rows, of one batch or of a whole run.

    Call it on the instances of all batches together so that a study split over batches is
    counted once: counts are of distinct SOP Instance UIDs, the other values the first present
    in read order, the time the earliest, modalities the sorted set of the study's series.

    ``studies`` and ``series``, when given, are rows made before (per batch, or by another
    adapter): they fill the values the instance rows do not carry (an instance frame cut to
    its canonical columns keeps only the UIDs), and their studies and series without any
    instance row are kept as they are.
    """
    made_studies, made_series = _aggregate(instances)
    return _merge(made_studies, studies, "study_uid"), _merge(made_series, series, "series_uid")


def _merge(made: pd.DataFrame, given: pd.DataFrame | None, key: str) -> pd.DataFrame:
    if given is None or given.empty:
        return made
    given = given.drop_duplicates(key).set_index(key)
    merged = made.set_index(key).combine_first(given[given.columns.intersection(made.columns)])
    return merged.reset_index()[made.columns]


def _aggregate(instances: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    series: dict[str, dict] = {}
    studies: dict[str, dict] = {}
    seen: set[str] = set()
    blank = [None] * len(instances)
    columns = [instances[c].tolist() if c in instances else blank for c in AGGREGATED]
    for values in zip(*columns, strict=True):
        row = dict(zip(AGGREGATED, values, strict=True))
        if row["sop_instance_uid"] in seen:
            continue
        seen.add(row["sop_instance_uid"])
        one = series.setdefault(row["series_uid"], {"instance_count": 0})
        _fill(one, row, SERIES_FROM, "series_time")
        one["instance_count"] += 1
        study = studies.setdefault(
            row["study_uid"], {"instance_count": 0, "series": set(), "modalities": set()}
        )
        _fill(study, row, STUDY_FROM, "study_time")
        study["instance_count"] += 1
        study["series"].add(row["series_uid"])
        if _present(row["modality"]):
            study["modalities"].add(row["modality"])
    for study in studies.values():
        study["series_count"] = len(study.pop("series"))
        study["modalities"] = " ".join(sorted(study["modalities"])) or None
    study_columns = [*STUDY_FROM, "study_time", "modalities", "series_count", "instance_count"]
    return (
        _frame(studies, "study_uid", study_columns),
        _frame(series, "series_uid", [*SERIES_FROM, "series_time", "instance_count"]),
    )


def _present(value: object) -> bool:
    return value is not None and not pd.isna(value)


def _fill(out: dict, row: dict, columns: dict[str, str], time: str) -> None:
    for name, column in columns.items():
        if not _present(out.get(name)) and _present(row[column]):
            out[name] = row[column]
    if _present(row[time]) and (not _present(out.get(time)) or row[time] < out[time]):
        out[time] = row[time]


def _frame(groups: dict[str, dict], key: str, columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame([{key: k, **groups[k]} for k in sorted(groups)], columns=[key, *columns])
    for time in {"series_time", "study_time"} & set(columns):  # all-empty stays a timestamp
        frame[time] = pd.to_datetime(frame[time]).astype("datetime64[s]")
    return frame


def refused(err: Refused, source: str, locator: str) -> Reject:
    """The reject of a record refused while it was read."""
    return Reject(source, locator, err.reason, err.message, err.field)
