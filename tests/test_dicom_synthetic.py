"""The DICOM adapter on files built here: character sets, names, dates, counts over batches.

Each test writes the few elements it is about into an otherwise plain CT header, so a failure
points at one rule of the adapter.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pandas as pd
import pytest
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.fileset import FileSet
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian

from hutong.adapters.dicom import aggregate, read, read_dir
from hutong.model import conform

STUDY = "1.2.826.0.1.3680043.2.1"
INSTANCE_COLUMNS = ["sop_instance_uid", "series_uid", "study_uid", "sop_class_uid", "number"]
BASE = {
    "SOPClassUID": CTImageStorage,
    "SOPInstanceUID": f"{STUDY}.1.1",
    "StudyInstanceUID": STUDY,
    "SeriesInstanceUID": f"{STUDY}.1",
    "StudyID": "1",
    "PatientID": "P001",
    "PatientName": "Test^One",
    "Modality": "CT",
    "StudyDate": "20240105",
    "StudyTime": "083000",
    "SeriesNumber": "1",
    "InstanceNumber": "1",
}


def instance(**values: str | None) -> Dataset:
    """A CT header with ``values`` (keyword → text, or None to leave the element out)."""
    ds = Dataset()
    for keyword, value in {**BASE, **values}.items():
        if value is not None:
            tag = tag_for_keyword(keyword)
            ds.add_new(tag, dictionary_VR(tag), value)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return ds


def write(path: Path, **values: str | bytes | None) -> Path:
    """Write a header; bytes values land in the file as they are, as a broken modality would
    write them (pydicom would check or re-encode them)."""
    raw = {k: v + b" " * (len(v) % 2) for k, v in values.items() if isinstance(v, bytes)}
    stand_ins = {  # unique text of the same length, digits where pydicom wants a number
        k: ("975318642"[i] if dictionary_VR(tag_for_keyword(k)) in ("IS", "DS") else "KLMNOPQ"[i])
        * len(v)
        for i, (k, v) in enumerate(raw.items())
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        instance(**{**values, **stand_ins}).save_as(path, enforce_file_format=True)
    data = path.read_bytes()
    for keyword, value in raw.items():
        assert data.count(stand_ins[keyword].encode()) == 1
        data = data.replace(stand_ins[keyword].encode(), value)
    path.write_bytes(data)
    return path


def one(path: Path):
    """The single batch of a single file."""
    [batch] = read(path)
    assert batch.read == 1
    return batch


def patient(path: Path) -> dict:
    batch = one(path)
    assert batch.rejects == [], batch.rejects
    return batch.tables["patient"].iloc[0].to_dict()


def reject(path: Path):
    batch = one(path)
    [rejected] = batch.rejects
    assert "imaging_instance" not in batch.tables or batch.tables["imaging_instance"].empty
    return rejected


# ---- names and character sets ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("charset", "raw", "name"),
    [
        ("GB18030", "Wang^XiaoDong=王^小东=".encode("gb18030"), "王小东"),
        ("ISO_IR 192", "Wang^XiaoDong=王^小東=".encode(), "王小東"),
        ("GBK", "欧阳^娜娜".encode("gbk"), "欧阳娜娜"),
        ("GB2312", "李^娜".encode("gb2312"), "李娜"),  # a codec name where a DICOM term belongs
        ("ISO_IR 100", "Buc^Jérôme".encode("latin-1"), "Buc Jérôme"),
        ("ISO_IR 144", "Люксембург^Иван".encode("iso8859_5"), "Люксембург Иван"),
    ],
)
def test_names_are_decoded_with_the_declared_character_set(tmp_path, charset, raw, name):
    path = write(tmp_path / "a.dcm", SpecificCharacterSet=charset, PatientName=raw)
    assert patient(path)["name"] == name


def test_gb18030_bytes_that_look_like_delimiters_stay_inside_their_character(tmp_path):
    # 乗 is 81 5C and 區 85 5E in GB18030: a byte-level split at \ or ^ would cut them in two
    raw = "王^乗區".encode("gb18030")
    assert b"\\" in raw and raw.count(b"^") == 2
    path = write(tmp_path / "a.dcm", SpecificCharacterSet="GB18030", PatientName=raw)
    assert patient(path)["name"] == "王乗區"


def test_undeclared_chinese_bytes_are_detected_and_noted(tmp_path):
    path = write(tmp_path / "a.dcm", PatientName="张^三".encode("gb18030"))
    batch = one(path)
    assert batch.tables["patient"]["name"].tolist() == ["张三"]
    assert any("gb18030" in note for note in batch.notes)


def test_bytes_not_in_the_declared_character_set_are_an_encoding_reject(tmp_path):
    path = write(tmp_path / "a.dcm", SpecificCharacterSet="ISO_IR 192", PatientName=b"\xff\xfe^x")
    rejected = reject(path)
    assert (rejected.reason, rejected.field) == ("encoding", "(0010,0010) PatientName")


def test_an_unknown_character_set_is_an_encoding_reject_when_it_matters(tmp_path):
    ascii_only = write(tmp_path / "a.dcm", SpecificCharacterSet="KLINGON")
    assert patient(ascii_only)["name"] == "Test One"
    path = write(tmp_path / "b.dcm", SpecificCharacterSet="KLINGON", PatientName=b"\xc0\xc1")
    rejected = reject(path)
    assert (rejected.reason, rejected.field) == ("encoding", "(0008,0005) SpecificCharacterSet")


# ---- values -----------------------------------------------------------------------------------


def test_sex_dates_and_numbers(tmp_path):
    path = write(
        tmp_path / "a.dcm",
        PatientSex="F",
        PatientBirthDate="19800229",
        StudyTime=b"0830",  # HHMM is padded
        SeriesTime="083115.123456",  # a fraction of a second is dropped
        InstanceNumber=" 7 ",
        Manufacturer="联影",
        SpecificCharacterSet="ISO_IR 192",
    )
    batch = one(path)
    person = batch.tables["patient"].iloc[0]
    assert (person["gend"], person["gend_local"], str(person["brdy"])) == ("2", "F", "1980-02-29")
    row = batch.tables["imaging_instance"].iloc[0]
    assert row["number"] == 7 and row["vendor"] == "联影"
    assert str(row["study_time"]) == "2024-01-05 08:30:00"
    assert str(row["series_time"]) == "2024-01-05 08:31:15"  # the study's date
    for table, frame in batch.tables.items():
        conform(table, frame)


@pytest.mark.parametrize(("sex", "gend"), [("M", "1"), ("F", "2"), ("O", "9"), ("U", "0")])
def test_patient_sex_maps_to_gbt_2261_1(tmp_path, sex, gend):
    assert patient(write(tmp_path / "a.dcm", PatientSex=sex))["gend"] == gend


def test_acr_nema_dates_and_blank_dates(tmp_path):
    path = write(tmp_path / "a.dcm", StudyDate=b"2004.01.19", PatientBirthDate=b"00000000")
    batch = one(path)
    assert str(batch.tables["imaging_study"]["study_time"].iloc[0]) == "2004-01-19 08:30:00"
    assert pd.isna(batch.tables["patient"]["brdy"].iloc[0])


@pytest.mark.parametrize(
    ("values", "reason", "field"),
    [
        ({"StudyDate": b"2024-01-05"}, "bad_datetime", "(0008,0020) StudyDate"),
        ({"StudyDate": b"20240231"}, "bad_datetime", "(0008,0020) StudyDate"),
        ({"StudyTime": b"8:3"}, "bad_datetime", "(0008,0030) StudyTime"),
        ({"StudyTime": b"256000"}, "bad_datetime", "(0008,0030) StudyTime"),
        ({"PatientBirthDate": b"19801301"}, "bad_datetime", "(0010,0030) PatientBirthDate"),
        ({"InstanceNumber": b"seven"}, "bad_number", "(0020,0013) InstanceNumber"),
        ({"SeriesNumber": b"99999999999"}, "bad_number", "(0020,0011) SeriesNumber"),
        ({"PatientID": None}, "missing_value", "(0010,0020) PatientID"),
        ({"StudyInstanceUID": None}, "missing_value", "(0020,000D) StudyInstanceUID"),
        ({"SeriesInstanceUID": b"1.2.x"}, "malformed", "(0020,000E) SeriesInstanceUID"),
    ],
)
def test_a_bad_value_rejects_the_file_naming_its_tag(tmp_path, values, reason, field):
    rejected = reject(write(tmp_path / "a.dcm", **values))
    assert (rejected.reason, rejected.field, rejected.locator) == (reason, field, "a.dcm")


# ---- counts -----------------------------------------------------------------------------------


def study_of_five(folder: Path) -> Path:
    """One study: series 1 with three instances, series 2 with two, one file each."""
    folder.mkdir()
    for i in range(5):
        series = 1 if i < 3 else 2
        write(
            folder / f"IM{i}",
            SeriesInstanceUID=f"{STUDY}.{series}",
            SOPInstanceUID=f"{STUDY}.{series}.{i}",
            SeriesNumber=str(series),
            InstanceNumber=str(i + 1),
            Modality="CT" if series == 1 else "SR",
        )
    return folder


def test_counts_of_a_study_over_files_and_batches(tmp_path):
    folder = study_of_five(tmp_path / "study")
    batches = list(read_dir(folder, batch_size=2))
    assert [b.read for b in batches] == [2, 2, 1]
    # each batch counts its own instances only ...
    assert [b.tables["imaging_study"]["instance_count"].sum() for b in batches] == [2, 2, 1]
    # ... and the run's counts come from all instances together
    instances = pd.concat([b.tables["imaging_instance"] for b in batches], ignore_index=True)
    studies, series = aggregate(instances)
    assert studies[["series_count", "instance_count", "modalities"]].values.tolist() == [
        [2, 5, "CT SR"]
    ]
    assert series.set_index("number")["instance_count"].to_dict() == {1: 3, 2: 2}
    assert studies["locator"].tolist() == ["IM0"]  # the first file read
    conform("imaging_study", studies)
    conform("imaging_series", series)


def test_rows_made_before_fill_what_cut_instance_rows_lack(tmp_path):
    batches = list(read_dir(study_of_five(tmp_path / "study"), batch_size=2))
    parts = {t: pd.concat([b.tables[t] for b in batches]) for t in batches[0].tables}
    canonical = parts["imaging_instance"][INSTANCE_COLUMNS]  # as if conformed to its schema
    other = pd.DataFrame([{"study_uid": "1.2.3", "patient_id": "P9", "instance_count": 0}])
    studies, series = aggregate(
        canonical, pd.concat([parts["imaging_study"], other]), parts["imaging_series"]
    )
    assert studies.set_index("study_uid")[["patient_id", "instance_count"]].to_dict("index") == {
        "1.2.3": {"patient_id": "P9", "instance_count": 0},  # a study no instance names, kept
        STUDY: {"patient_id": "P001", "instance_count": 5},
    }
    assert series["modality"].tolist() == ["CT", "SR"]


def test_a_copy_of_a_file_is_counted_once(tmp_path):
    folder = study_of_five(tmp_path / "study")
    (folder / "copy").mkdir()
    (folder / "copy" / "IM0").write_bytes((folder / "IM0").read_bytes())
    [batch] = read_dir(folder)
    assert batch.read == 6
    [duplicate] = batch.rejects
    assert (duplicate.reason, duplicate.locator) == ("duplicate", "copy/IM0")
    assert batch.tables["imaging_study"]["instance_count"].tolist() == [5]


# ---- DICOMDIR ---------------------------------------------------------------------------------


def fileset(folder: Path, count: int = 3) -> Path:
    """A media folder written by pydicom: a DICOMDIR and ``count`` instances of one series."""
    fs = FileSet()
    for i in range(count):
        fs.add(instance(SOPInstanceUID=f"{STUDY}.1.{i}", InstanceNumber=str(i + 1)))
    fs.write(folder)
    return folder / "DICOMDIR"


def test_a_dicomdir_reads_its_files_once(tmp_path):
    dicomdir = fileset(tmp_path / "cd")
    (tmp_path / "cd" / "README.TXT").write_text("viewer on this CD\n")
    [batch] = read_dir(tmp_path / "cd")
    assert batch.read == 3 and batch.rejects == []
    assert batch.tables["imaging_instance"]["locator"].tolist() == [
        f"DICOMDIR:PT000000/ST000000/SE000000/IM00000{i}" for i in range(3)
    ]
    assert any("README.TXT" in note for note in batch.notes)
    [alone] = read(dicomdir)
    assert alone.kind == "dicomdir" and alone.read == 3


def test_dicomdir_names_are_matched_in_any_case(tmp_path):
    fileset(tmp_path / "cd")
    for path in sorted((tmp_path / "cd").rglob("IM*")):
        path.rename(path.with_name(path.name.lower()))
    [batch] = read_dir(tmp_path / "cd")
    assert batch.read == 3 and batch.rejects == []
    assert batch.notes == []  # no record fell back to the directory alone


def test_dicomdir_without_its_files_still_gives_rows(tmp_path):
    dicomdir = fileset(tmp_path / "cd")
    for path in (tmp_path / "cd").rglob("IM*"):
        path.unlink()
    [batch] = read(dicomdir)
    assert batch.read == 3 and batch.rejects == []
    assert batch.tables["imaging_study"]["instance_count"].tolist() == [3]
    assert any("absent" in note for note in batch.notes)


def test_a_folder_is_walked_in_path_order_without_following_linked_folders(tmp_path):
    folder = study_of_five(tmp_path / "study")
    (folder / "b").mkdir()
    (folder / "IM1").rename(folder / "b" / "IM1")
    (folder / "a").mkdir()
    (folder / "IM2").rename(folder / "a" / "IM2")
    (folder / "linked").symlink_to(folder / "a", target_is_directory=True)  # not followed
    (folder / "IM3").rename(tmp_path / "elsewhere")
    (folder / "IM3").symlink_to(tmp_path / "elsewhere")  # a linked file is read
    (folder / "gone").symlink_to(tmp_path / "nothing")  # a broken link is not a file
    os.mkfifo(folder / "pipe")  # nor is a pipe: opening it would wait forever
    [batch] = read_dir(folder)
    assert batch.read == 5 and batch.rejects == []
    locators = batch.tables["imaging_instance"]["locator"].tolist()
    assert locators == ["IM0", "IM3", "IM4", "a/IM2", "b/IM1"]
