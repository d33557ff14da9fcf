"""WS/T 500.52 住院病案首页 documents: the shipped samples, and the same face sheet as the table
export of the same cases."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from hutong.adapters import cda
from hutong.adapters.cda.render import write_samples, wst500_document
from hutong.adapters.profile import load_profile
from hutong.adapters.table import read_table
from hutong.mapping.facesheet import NODES, FaceSheet, build_facesheet
from hutong.model import DIAGNOSIS_SYSTEM, PROCEDURE_SYSTEM, SCHEMAS, canonical
from hutong.synthetic import generate, generate_cases
from hutong.synthetic.localise import localise
from hutong.terminologies.codesystem import sample_code_system
from hutong.terminologies.coding import apply_codes

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples" / "cda"
SEED, CASES = 2024, 200
# Fields the WS/T 500 document carries and vendor-a's table export does not: 编码员 signs the
# face sheet (医疗机构填报人). Compared separately, not silently ignored.
ONLY_IN_DOCUMENT = ["medins_fill_psn"]


def tables_of(batches) -> dict[str, pd.DataFrame]:
    """Canonical tables of a run's batches, coded as the pipeline codes them."""
    parts: dict[str, list[pd.DataFrame]] = {t: [] for t in SCHEMAS}
    for batch in batches:
        for table, frame in batch.tables.items():
            parts[table].append(frame)
    tables = {
        t: pd.concat(p, ignore_index=True) if p else pd.DataFrame(columns=SCHEMAS[t].names)
        for t, p in parts.items()
    }
    tables["diagnosis"] = apply_codes(tables["diagnosis"], sample_code_system(DIAGNOSIS_SYSTEM))
    tables["procedure"] = apply_codes(tables["procedure"], sample_code_system(PROCEDURE_SYSTEM))
    return {t: canonical(t, f) for t, f in tables.items()}


def read_documents(paths: list[Path]) -> dict[str, pd.DataFrame]:
    batches = [b for p in paths for b in cda.read(p)]
    assert [r for b in batches for r in b.rejects] == []
    return tables_of(batches)


@pytest.fixture(scope="module")
def table_route(tmp_path_factory) -> dict[str, pd.DataFrame]:
    """The vendor-a CSV export of the same 200 cases, through the table adapter."""
    out = tmp_path_factory.mktemp("vendor-a")
    profile = load_profile("vendor-a")
    paths = generate("vendor-a", CASES, SEED, out)
    return tables_of(b for p in paths for b in read_table(p, profile))


def same_cases(tables: dict[str, pd.DataFrame], stays: set[str]) -> dict[str, pd.DataFrame]:
    out = {t: f[f["mdtrt_id"].isin(stays)] for t, f in tables.items() if "mdtrt_id" in f}
    out["patient"] = tables["patient"][
        tables["patient"]["patient_id"].isin(out["encounter"]["patient_id"])
    ]
    return out


def assert_same_facesheet(cda_sheet: FaceSheet, table_sheet: FaceSheet) -> None:
    for node in NODES:
        left, right = cda_sheet.node(node), table_sheet.node(node)
        if node == "setlinfo":
            assert left[ONLY_IN_DOCUMENT].notna().all().all()
            assert right[ONLY_IN_DOCUMENT].isna().all().all()
            left, right = left.drop(columns=ONLY_IN_DOCUMENT), right.drop(columns=ONLY_IN_DOCUMENT)
        keys = list(left.columns[:2]) if node == "setlinfo" else list(left.columns)
        left = left.sort_values(keys, kind="mergesort").reset_index(drop=True)
        right = right.sort_values(keys, kind="mergesort").reset_index(drop=True)
        pd.testing.assert_frame_equal(left, right, obj=node)


def test_samples_are_what_the_generator_writes(tmp_path):
    shipped = sorted(SAMPLES.glob("*.xml"))
    assert len(shipped) == 20
    written = write_samples(tmp_path, CASES, SEED, count=20)
    assert [p.name for p in written] == [p.name for p in shipped]
    for new, old in zip(written, shipped, strict=True):
        assert new.read_bytes() == old.read_bytes(), old.name


def test_samples_give_the_face_sheet_of_the_table_export(table_route):
    documents = read_documents(sorted(SAMPLES.glob("*.xml")))
    stays = set(documents["encounter"]["mdtrt_id"])
    assert len(stays) == 20
    assert_same_facesheet(
        build_facesheet(documents), build_facesheet(same_cases(table_route, stays))
    )


def test_every_unbroken_case_round_trips(tmp_path, table_route):
    """All kinds of stay (newborns, deliveries, transfers, deaths, day surgery) of the seed."""
    cases = [c for c in localise(generate_cases(CASES, SEED), "vendor-a", SEED) if not c["broken"]]
    paths = []
    for case in cases:
        path = tmp_path / f"C0032_{case['encounter']['mdtrt_id']}.xml"
        path.write_bytes(wst500_document(case))
        paths.append(path)
    documents = read_documents(paths)
    stays = set(documents["encounter"]["mdtrt_id"])
    assert len(stays) == len(cases) > 150
    expected = same_cases(table_route, stays)
    assert set(expected["encounter"]["mdtrt_id"]) == stays
    assert_same_facesheet(build_facesheet(documents), build_facesheet(expected))
    enc = documents["encounter"]
    assert enc["nwb_bir_wt"].notna().any() and enc["nwb_adm_wt"].notna().any()
    assert set(enc["dscg_way"]) >= {"1", "2"} and (enc["enc_class"] == "IMP").all()


def test_national_codes_are_kept_as_values():
    path = SAMPLES / "C0032_2024123308.xml"
    batch = next(cda.read(path))
    patient = batch.tables["patient"].iloc[0]
    enc = batch.tables["encounter"].iloc[0]
    assert (patient["patient_id"], patient["medcasno"]) == ("3099582", "3099582")  # 病案号
    assert (patient["gend"], patient["patn_cert_type"], patient["ntly"]) == ("1", "01", "CHN")
    assert (enc["mdtrt_id"], enc["enc_class"], enc["adm_caty"]) == ("2024123308", "IMP", "A03.03")
    assert enc["adm_time"] == datetime(2024, 5, 19, 3, 31)
    assert (enc["dscg_way"], enc["hi_type"], enc["adm_way"]) == ("1", "2", "1")
    dx = batch.tables["diagnosis"]
    assert dx[["seq", "maindiag_flag", "local_code", "adm_cond_type"]].values.tolist()[0] == [
        1,
        "1",
        "I63.906",
        "1",
    ]
    items = batch.tables["charge"].set_index("med_chrgitm")
    assert items.loc["01", ["amt", "claa_sumfee", "fulamt_ownpay_amt"]].tolist() == [
        698.83,
        607.67,
        91.16,
    ]


def case_document(tmp_path: Path, edit=None) -> Path:
    """A sample document, optionally edited as text."""
    text = (SAMPLES / "C0032_2024123308.xml").read_text("utf-8")
    path = tmp_path / "C0032_edited.xml"
    path.write_text(edit(text) if edit else text, "utf-8")
    return path


def test_diagnoses_in_the_29548_5_section_read_the_same(tmp_path):
    """STANDARDS.md §7 puts 出院诊断 in 29548-5, template32 in 11535-2: both are read."""
    plain = next(cda.read(case_document(tmp_path)))
    moved = next(cda.read(case_document(tmp_path, lambda t: t.replace("11535-2", "29548-5"))))
    columns = ["seq", "maindiag_flag", "local_code", "local_name", "adm_cond_type"]
    pd.testing.assert_frame_equal(
        plain.tables["diagnosis"][columns], moved.tables["diagnosis"][columns]
    )
    assert moved.tables["encounter"]["dscg_way"].tolist() == ["1"]


def test_a_face_sheet_without_discharge_mode_is_rejected(tmp_path):
    path = case_document(tmp_path, lambda t: t.replace("DE06.00.223.00", "DE06.00.999.00"))
    batch = next(cda.read(path))
    assert [(r.reason, r.locator, r.field) for r in batch.rejects] == [
        ("missing_value", path.name, "section[11535-2]/DE06.00.223.00")
    ]
    assert batch.tables == {}


def test_a_face_sheet_without_inpatient_number_is_rejected(tmp_path):
    path = case_document(tmp_path, lambda t: t.replace("2.16.156.10011.1.12", "9.9.9"))
    [reject] = next(cda.read(path)).rejects
    assert (reject.reason, reject.field) == ("missing_value", "recordTarget/patientRole/id[住院号]")


def test_samples_carry_contact_address_employer_and_outpatient_diagnosis():
    """联系人地址, 工作单位 and 门（急）诊诊断 are the values of each sample's own case."""
    cases = {
        c["encounter"]["mdtrt_id"]: c
        for c in localise(generate_cases(CASES, SEED), "vendor-a", SEED)
        if not c["broken"]
    }
    kinds = set()
    for path in sorted(SAMPLES.glob("*.xml")):
        batch = next(cda.read(path))
        patient = batch.tables["patient"].iloc[0]
        enc = batch.tables["encounter"].iloc[0]
        case = cases[enc["mdtrt_id"]]
        for field in ("coner_addr", "emp_name", "emp_addr", "emp_tel"):
            assert patient[field] == case["patient"][field], (path.name, field)
        for field in ("otp_wm_dise", "otp_wm_dise_code"):
            assert (enc[field] if pd.notna(enc[field]) else None) == case["encounter"][field]
        assert len(batch.tables["diagnosis"]) == len(case["diagnoses"])  # 门急诊: no diseinfo row
        kinds |= {patient["emp_name"] == "-", pd.isna(enc["otp_wm_dise"])}
    assert kinds == {True, False}  # with and without an employer / a clinic diagnosis


def test_a_document_without_the_items_reads_them_as_missing_not_none(tmp_path):
    """An older document lacks the items: unknown (NA), never the face sheet's '-' (none)."""

    def strip(text: str) -> str:
        text = re.sub(r"\s*<employerOrganization>.*?</employerOrganization>", "", text, flags=re.S)
        text = re.sub(
            r'\s*<addr use="H">\s*<streetAddressLine>[^<]*</streetAddressLine>\s*'
            r'</addr>(?=\s*<telecom value="tel:[^"]*" use="H"/>\s*<associatedPerson)',
            "",
            text,
        )
        return re.sub(
            r"\s*<component>\s*<section>\s*<code code=\"29548-5\".*?</section>\s*"
            r"</component>",
            "",
            text,
            count=1,
            flags=re.S,
        )

    plain = next(cda.read(case_document(tmp_path)))
    bare = next(cda.read(case_document(tmp_path, strip)))
    patient, enc = bare.tables["patient"].iloc[0], bare.tables["encounter"].iloc[0]
    assert plain.tables["patient"].iloc[0][["coner_addr", "emp_name"]].notna().all()
    assert plain.tables["encounter"].iloc[0][["otp_wm_dise", "otp_wm_dise_code"]].notna().all()
    assert patient[["coner_addr", "emp_name", "emp_addr", "emp_tel"]].isna().all()
    assert enc[["otp_wm_dise", "otp_wm_dise_code"]].isna().all()
    assert patient["coner_name"] == plain.tables["patient"].iloc[0]["coner_name"]
    pd.testing.assert_frame_equal(plain.tables["diagnosis"], bare.tables["diagnosis"])


def test_employer_null_flavours_and_template32_outpatient_name(tmp_path):
    """nullFlavor NA (no employer) reads '-', NI (not known) None; template32 codes the
    门急诊诊断名称 DE05.10.025.00, which reads like WS 363's 诊断名称."""

    def edit(text: str) -> str:
        text = text.replace('<name nullFlavor="NA"/>', '<name nullFlavor="NI"/>', 1)
        ws363 = 'code="DE05.01.025.00" codeSystem="2.16.156.10011.2.2.1" codeSystemName="卫生信息'
        ws363 += '数据元目录" displayName="门急诊诊断名称"'
        assert ws363 in text
        text = text.replace(ws363, 'code="DE05.10.025.00" displayName="门急诊诊断名称"')
        # and no name on the code's value, so the name can come from DE05.10.025.00 only
        return re.sub(
            r'(<value xsi:type="CD" code="[^"]*") displayName="[^"]*"', r"\1", text, count=1
        )

    plain = next(cda.read(case_document(tmp_path)))
    edited = next(cda.read(case_document(tmp_path, edit)))
    before, after = plain.tables["patient"].iloc[0], edited.tables["patient"].iloc[0]
    assert before[["emp_name", "emp_addr", "emp_tel"]].tolist() == ["-", "-", "-"]
    assert pd.isna(after["emp_name"]) and after[["emp_addr", "emp_tel"]].tolist() == ["-", "-"]
    otp = ["otp_wm_dise", "otp_wm_dise_code"]
    assert edited.tables["encounter"][otp].equals(plain.tables["encounter"][otp])
    pd.testing.assert_frame_equal(plain.tables["diagnosis"], edited.tables["diagnosis"])
