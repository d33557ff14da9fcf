"""The DICOM adapter on the real files of ../shared/corpus/dicom (pydicom's test data).

Every file is converted or rejected for a reason that names what is wrong with it: the NEG
files are broken on purpose; five others lack a Patient ID or a Series Instance UID, which
the canonical tables need, and are rejected for it rather than given a made-up one.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from conftest import SHARED, need
from hutong.adapters.dicom import aggregate, read, read_dir, sniff
from hutong.model import conform

# file → (reason, field) of its reject, or None when it is converted
EXPECTED: dict[str, tuple[str, str] | None] = {
    "pyd_CR_6154_no_extension": None,
    "pyd_CT_j2k_japanese_charset.dcm": None,
    "pyd_CT_no_preamble_no_meta.dcm": None,
    "pyd_CT_small_explicitLE.dcm": None,
    "pyd_ECG_12lead_waveform.dcm": None,
    "pyd_MR_small_RLE.dcm": None,
    "pyd_MR_small_explicitBE.dcm": None,
    "pyd_MR_small_explicitLE.dcm": None,
    "pyd_MR_small_implicitLE.dcm": None,
    "pyd_NEG_MR_truncated.dcm": ("truncated", "(7FE0,0010) PixelData"),
    "pyd_NEG_empty_charset_implicit.dcm": ("missing_value", "(0008,0018) SOPInstanceUID"),
    "pyd_NM_jpeg2000.dcm": None,
    "pyd_OT_deflated.dcm": ("missing_value", "(0010,0020) PatientID"),
    "pyd_RTPLAN_implicit.dcm": None,
    "pyd_RTSTRUCT_no_meta.dcm": None,
    "pyd_SEG_liver_1frame.dcm": None,
    "pyd_SR_basic_text.dcm": ("missing_value", "(0010,0020) PatientID"),
    "pyd_SR_comprehensive.dcm": ("missing_value", "(0010,0020) PatientID"),
    "pyd_US_multiframe_jpeg_ybr.dcm": None,
    "pyd_US_palette_color.dcm": None,
    "pyd_US_rgb_explicitBE.dcm": ("missing_value", "(0010,0020) PatientID"),
    "pyd_chrFren_ISO_IR100.dcm": None,
    "pyd_chrH31_ISO2022_IR87_japanese.dcm": None,
    "pyd_chrI2_ISO2022_IR149_korean.dcm": None,
    "pyd_chrJapMulti_CR_nopixel.dcm": None,
    "pyd_chrRuss_ISO_IR144.dcm": None,
    "pyd_chrSQEncoding_seq_charset_override.dcm": (
        "missing_value",
        "(0020,000E) SeriesInstanceUID",
    ),
    "pyd_chrX1_ISO_IR192_chinese.dcm": None,
    "pyd_chrX2_GB18030_chinese.dcm": None,
}
DICOMDIR = "pyd_DICOMDIR"


@pytest.fixture
def corpus() -> Path:
    """../shared/corpus/dicom: 30 public DICOM files."""
    return need(SHARED / "corpus" / "dicom", "the DICOM corpus (../shared/corpus/dicom)")


def tables(batches) -> dict[str, pd.DataFrame]:
    parts: dict[str, list] = {}
    for batch in batches:
        for name, frame in batch.tables.items():
            parts.setdefault(name, []).append(frame)
    return {name: pd.concat(frames, ignore_index=True) for name, frames in parts.items()}


def test_every_file_is_converted_or_rejected(corpus):
    names = sorted(p.name for p in corpus.iterdir())
    assert names == sorted([*EXPECTED, DICOMDIR])
    for name, expected in EXPECTED.items():
        batches = list(read(corpus / name))
        read_ = sum(b.read for b in batches)
        rejects = [r for b in batches for r in b.rejects]
        converted = len(tables(batches).get("imaging_instance", []))
        assert read_ == 1 == converted + len(rejects), name
        if expected is None:
            assert rejects == [], name
        else:
            [rejected] = rejects
            assert (rejected.reason, rejected.field) == expected, name
            assert rejected.locator == name and rejected.source == (corpus / name).as_posix()
        for table, frame in tables(batches).items():
            conform(table, frame)


def test_every_file_is_sniffed(corpus):
    for path in corpus.iterdir():
        assert sniff(path.read_bytes()[:4096], path), path.name


def name_of(corpus: Path, file: str) -> str:
    [batch] = read(corpus / file)
    return batch.tables["patient"]["name"].item()


def test_chinese_names_in_gb18030_and_utf8(corpus):
    assert name_of(corpus, "pyd_chrX2_GB18030_chinese.dcm") == "王小东"
    assert name_of(corpus, "pyd_chrX1_ISO_IR192_chinese.dcm") == "王小東"


@pytest.mark.parametrize(
    ("file", "name"),
    [
        ("pyd_chrH31_ISO2022_IR87_japanese.dcm", "山田太郎"),
        ("pyd_chrJapMulti_CR_nopixel.dcm", "やまだたろう"),
        ("pyd_chrI2_ISO2022_IR149_korean.dcm", "洪吉洞"),
        ("pyd_chrFren_ISO_IR100.dcm", "Buc Jérôme"),
        ("pyd_chrRuss_ISO_IR144.dcm", "Люкceмбypг"),
    ],
)
def test_other_scripts_are_not_garbled(corpus, file, name):
    assert name_of(corpus, file) == name


def test_header_values(corpus):
    batches = [b for p in ("pyd_CT_small_explicitLE.dcm", "pyd_ECG_12lead_waveform.dcm")
               for b in read(corpus / p)]  # fmt: skip
    got = tables(batches)
    ct = got["imaging_study"].set_index("patient_id").loc["1CT1"]
    assert str(ct["study_time"]) == "2004-01-19 07:27:30" and ct["modalities"] == "CT"
    patients = got["patient"].set_index("patient_id")
    assert patients.loc["1CT1", "gend"] == "9"  # O, GB/T 2261.1 未说明的性别
    assert (patients.loc["642341", "gend"], str(patients.loc["642341", "brdy"])) == (
        "2",
        "1971-01-23",
    )
    assert got["imaging_instance"]["vendor"].tolist() == [
        "GE MEDICAL SYSTEMS",
        "Mortara Instrument, Inc.",
    ]


def test_the_dicomdir_alone(corpus):
    [batch] = read(corpus / DICOMDIR)
    assert (batch.kind, batch.read, batch.rejects) == ("dicomdir", 31, [])
    assert len(batch.tables["imaging_instance"]) == 31
    assert any("31 referenced files absent" in note for note in batch.notes)
    studies = batch.tables["imaging_study"]
    assert len(studies) == 6 and studies["instance_count"].sum() == 31
    assert set(batch.tables["patient"]["name"]) == {"Doe Archibald", "Doe Peter"}
    assert batch.tables["imaging_instance"]["locator"].iloc[0] == f"{DICOMDIR}:77654033/CR1/6154"


def test_a_dicomdir_and_the_files_beside_it_are_each_counted_once(tmp_path, corpus):
    """The DICOMDIR's record of 6154 is read from the file; the file is not read again."""
    shutil.copy(corpus / DICOMDIR, tmp_path / "DICOMDIR")
    (tmp_path / "77654033" / "CR1").mkdir(parents=True)
    shutil.copy(corpus / "pyd_CR_6154_no_extension", tmp_path / "77654033" / "CR1" / "6154")
    shutil.copy(corpus / "pyd_CT_small_explicitLE.dcm", tmp_path / "other.dcm")
    (tmp_path / "README.TXT").write_text("burned by a PACS\n")
    batches = list(read_dir(tmp_path))
    assert sum(b.read for b in batches) == 32
    assert [r for b in batches for r in b.rejects] == []
    instances = tables(batches)["imaging_instance"].set_index("locator")
    assert instances.loc["DICOMDIR:77654033/CR1/6154", "vendor"] == "Agfa-Gevaert AG"
    assert instances.loc["other.dcm", "vendor"] == "GE MEDICAL SYSTEMS"
    notes = [n for b in batches for n in b.notes]
    assert any("30 referenced files absent" in n for n in notes)
    assert any("README.TXT" in n for n in notes)


def test_the_corpus_folder(corpus):
    """Copies of one instance in several encodings are rejected as duplicates."""
    batches = list(read_dir(corpus, batch_size=7))
    rejects = [r for b in batches for r in b.rejects]
    got = tables(batches)
    assert sum(b.read for b in batches) == 29 + 31 == len(got["imaging_instance"]) + len(rejects)
    duplicates = sorted(r.locator for r in rejects if r.reason == "duplicate")
    assert duplicates == [
        "pyd_CT_small_explicitLE.dcm",  # same instance as pyd_CT_no_preamble_no_meta.dcm
        f"{DICOMDIR}:77654033/CR1/6154",  # pyd_CR_6154_no_extension, read before
        "pyd_MR_small_explicitBE.dcm",
        "pyd_MR_small_explicitLE.dcm",
        "pyd_MR_small_implicitLE.dcm",
    ]
    studies, _ = aggregate(got["imaging_instance"])
    cr = studies.set_index("study_uid").loc["1.3.6.1.4.1.5962.1.1.0.0.0.1196527414.5534.0.1"]
    assert (cr["series_count"], cr["instance_count"]) == (3, 3)


def test_a_truncated_copy_is_rejected(tmp_path, corpus):
    for name, keep in [
        ("pyd_MR_small_explicitLE.dcm", 0.6),
        ("pyd_chrX2_GB18030_chinese.dcm", 0.5),
    ]:
        data = (corpus / name).read_bytes()
        (tmp_path / name).write_bytes(data[: int(len(data) * keep)])
        [batch] = read(tmp_path / name)
        assert [r.reason for r in batch.rejects] == ["truncated"], name
