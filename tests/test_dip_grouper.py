"""DIP grouping and scoring: core combinations, integrated fallback, outliers, face sheets, demo."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from hutong.cli import app
from hutong.mapping.facesheet import read_facesheet
from hutong.quality.dip import group_case, group_facesheet, load_catalog, sample_catalog, write_dip
from qc_cases import MDTRT_ID, combine, dx, facesheet

ROOT = Path(__file__).resolve().parents[1]
HEADER = "dip_code,kind,dx,procedures,treatment,name,base_score,avg_cost"
ROWS = [
    "C-STENT,core,I25.1,36.0700,,冠心病：支架,2000,20000",
    "C-STENT-PTCA,core,I25.1,36.0700+00.6600x004/00.6600,,冠心病：支架+球囊,2100,21000",
    "C-ANGIO,core,I25.1,88.5600,,冠心病：造影,600,6000",
    "C-ANGIO-B,core,I25.1,88.5600/88.5500,,冠心病：造影B,650,6500",
    "C-CONS,core,I25.1,,,冠心病：保守治疗,400,4000",
    "C-GB,core,K80.1,51.2300+51.2200/51.2301,,胆囊：组合,1200,12000",
    "I-I25-S,integrated,I25,,相关手术,慢性缺血性心脏病：手术,1800,18000",
    "I-ISCH-T,integrated,I20-I25,,治疗性操作,缺血性心脏病：治疗性操作,900,9000",
    "I-CIRC-T,integrated,I00-I99,,治疗性操作,循环系统：治疗性操作,800,8000",
    "I-K80-C,integrated,K80,,保守治疗,胆石症：保守治疗,300,3000",
]
PARAMS = """
[scoring]
point_value = 10.0
hospital_coefficient = 1.2
[outliers]
high = 2.0
low = 0.5
"""


@pytest.fixture
def catalog(tmp_path):
    path = tmp_path / "catalog.csv"
    path.write_text("\n".join([HEADER, *ROWS]) + "\n", encoding="utf-8")
    params = tmp_path / "params.toml"
    params.write_text(PARAMS, encoding="utf-8")
    return load_catalog(path, params)


def test_dx_key_is_the_subcategory_of_the_yb_code(catalog):
    r = group_case("I25.103", ["36.0700"], 20000, catalog)
    assert (r.dx_key, r.dip_code, r.kind) == ("I25.1", "C-STENT", "core")


def test_slash_is_any_of(catalog):
    assert group_case("I25.103", ["88.5500"], 6000, catalog).dip_code == "C-ANGIO-B"


def test_plus_is_all_of_and_binds_looser_than_slash(catalog):
    # 51.2300 + (51.2200 / 51.2301): one of the alternatives is enough, the + term is not
    assert group_case("K80.100x001", ["51.2300", "51.2301"], 12000, catalog).dip_code == "C-GB"
    assert group_case("K80.100x001", ["51.2300", "51.2200"], 12000, catalog).dip_code == "C-GB"
    r = group_case("K80.100x001", ["51.2300"], 12000, catalog)  # the + term is missing
    assert r.kind == "ungroupable" and "K80 × 相关手术" in r.reason
    assert any("none of 1 groups matches" in step for step in r.trace)


def test_most_procedures_matched_wins(catalog):
    r = group_case("I25.103", ["36.0700", "00.6600x004", "88.5600"], 20000, catalog)
    assert r.dip_code == "C-STENT-PTCA"  # matches 2; C-STENT and C-ANGIO match 1 each
    assert any("candidates" in step for step in r.trace)


def test_tie_on_matches_goes_to_the_highest_base_score(catalog):
    # 88.5600 satisfies C-ANGIO (600) and C-ANGIO-B (650), one procedure each
    r = group_case("I25.103", ["88.5600"], 6000, catalog)
    assert r.dip_code == "C-ANGIO-B"
    assert any("highest base score" in step for step in r.trace)


def test_tie_on_matches_and_score_goes_to_the_smallest_code(tmp_path):
    rows = ["B,core,I25.1,88.5600,,x,600,6000", "A,core,I25.1,88.5600/88.5500,,y,600,6000"]
    path = tmp_path / "c.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    assert group_case("I25.103", ["88.5600"], 6000, load_catalog(path)).dip_code == "A"


def test_no_procedure_takes_the_conservative_core_group(catalog):
    r = group_case("I25.100x001", [], 4000, catalog)
    assert (r.dip_code, r.treatment) == ("C-CONS", "保守治疗")


def test_a_procedure_no_combination_names_falls_to_the_integrated_group(catalog):
    # 36.0600 (non-drug stent) is surgery, but no I25.1 core group names it: not 保守治疗
    r = group_case("I25.103", ["36.0600"], 18000, catalog)
    assert (r.kind, r.dip_code, r.treatment) == ("integrated", "I-I25-S", "相关手术")


def test_integrated_category_first_then_narrowest_range(catalog):
    r = group_case("I25.103", ["99.6000"], 9000, catalog)  # CPR: therapeutic
    assert (r.dip_code, r.treatment) == ("I-ISCH-T", "治疗性操作")  # I20-I25 before I00-I99
    r = group_case("I48.000", ["99.6000"], 8000, catalog)
    assert r.dip_code == "I-CIRC-T"


@pytest.mark.parametrize(
    ("procedures", "treatment"),
    [
        ([], "保守治疗"),
        (["88.5600"], "诊断性操作"),  # 87–91: diagnostic
        (["88.5600", "99.6000"], "治疗性操作"),  # 92.2–99: therapeutic beats diagnostic
        (["99.6000", "36.0600", "88.5600"], "相关手术"),  # 01–86: surgery beats all
        (["00.6600"], "治疗性操作"),  # chapter 00
    ],
)
def test_treatment_is_the_highest_procedure_class(catalog, procedures, treatment):
    r = group_case("A01.000", procedures, 100, catalog)  # no group: only the treatment matters
    assert r.treatment == treatment and r.kind == "ungroupable"


def test_exact_codes_and_narrow_ranges_override_chapters(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text(HEADER + "\n" + ROWS[0] + "\n", encoding="utf-8")
    params = tmp_path / "p.toml"
    params.write_text(
        "[procedure_classes]\n'相关手术' = ['01.00-86.99']\n'诊断性操作' = ['33.20-33.29']\n"
        "[procedure_codes]\n'36.0700' = '治疗性操作'\n",
        encoding="utf-8",
    )
    p = load_catalog(path, params).params
    assert p.procedure_class("33.2400x001") == "诊断性操作"
    assert p.procedure_class("33.5000") == "相关手术"
    assert p.procedure_class("36.0700") == "治疗性操作"
    assert p.procedure_class("88.5600") is None  # no range holds it in this file


@pytest.mark.parametrize(
    ("main_dx", "procedures", "says"),
    [
        (None, [], "no western main diagnosis"),
        ("ZD0008", [], "ZD0008 is not an ICD-10 code"),
        ("I25.103", ["SS0001"], "SS0001 is not an ICD-9-CM-3 code"),
        ("K80.100x001", ["36.0700"], "no integrated group for K80 × 相关手术"),
        ("J18.900", [], "no core group of J18.9 matches"),
    ],
)
def test_ungroupable_cases_say_why(catalog, main_dx, procedures, says):
    r = group_case(main_dx, procedures, 1000, catalog)
    assert r.kind == "ungroupable" and r.dip_code == "" and says in r.reason
    assert r.trace[-1].startswith("ungroupable:")
    assert pd.isna(r.score) and pd.isna(r.payment)


def test_score_and_payment_without_outlier(catalog):
    r = group_case("I25.103", ["36.0700"], 25000, catalog)  # 1.25 × avg 20000
    assert r.outlier == "none"
    assert r.score == pytest.approx(2000 * 1.2)
    assert r.adjusted_score == pytest.approx(2000 * 1.2)
    assert r.payment == pytest.approx(2000 * 1.2 * 10.0)


def test_high_outlier(catalog):
    cost, avg, score = 50000.0, 20000.0, 2000 * 1.2
    r = group_case("I25.103", ["36.0700"], cost, catalog)
    expected = (cost / avg - 2 + 1) * score  # 〔(费用 ÷ 均费 − 2) + 1〕 × 分值 = 1.5 × 2400
    assert r.outlier == "high" and r.adjusted_score == pytest.approx(expected)
    assert r.payment == pytest.approx(expected * 10.0)


def test_low_outlier(catalog):
    cost, avg, score = 6000.0, 20000.0, 2000 * 1.2
    r = group_case("I25.103", ["36.0700"], cost, catalog)
    assert r.outlier == "low" and r.adjusted_score == pytest.approx(cost / avg * score)


def test_thresholds_themselves_are_not_outliers(catalog):
    assert group_case("I25.103", ["36.0700"], 40000, catalog).outlier == "none"
    assert group_case("I25.103", ["36.0700"], 10000, catalog).outlier == "none"


def test_unknown_cost_or_avg_skips_the_outlier_check(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text(HEADER + "\nX,core,I25.1,,,x,100,\n", encoding="utf-8")
    r = group_case("I25.103", [], 1.0, load_catalog(path))
    assert r.outlier == "none" and r.adjusted_score == 100 and pd.isna(r.payment)
    assert any("outlier check skipped" in step for step in r.trace)


def test_facesheet_case_groups_with_its_fees(catalog):
    sheet = combine(
        facesheet(),
        facesheet(
            setlinfo={"mdtrt_id": "ZY2"},
            diseinfo=[dx("K80.100x001", "胆囊结石伴慢性胆囊炎", main=True)],
            oprninfo=[],
        ),
        facesheet(  # the main diagnosis is TCM (diag_type 2): no western main diagnosis
            setlinfo={"mdtrt_id": "ZY3"},
            diseinfo=[dx("I25.103", "冠心病", main=True, diag_type="2")],
        ),
    )
    frame = group_facesheet(sheet, catalog)
    assert list(frame["mdtrt_id"]) == [MDTRT_ID, "ZY2", "ZY3"]
    first = frame.iloc[0]
    cost = sum(float(x) for x in facesheet().iteminfo["amt"])
    assert first["cost"] == pytest.approx(cost)
    assert (first["dip_code"], first["dx_key"], first["treatment"]) == (
        "C-STENT",
        "I25.1",
        "相关手术",
    )
    assert frame.iloc[1]["dip_code"] == "I-K80-C"
    assert "no western main diagnosis" in frame.iloc[2]["reason"]


def test_write_dip(catalog, tmp_path):
    sheet = combine(facesheet(setlinfo={"mdtrt_id": "B"}), facesheet(setlinfo={"mdtrt_id": "A"}))
    frame = group_facesheet(sheet, catalog)
    counts = write_dip(frame, tmp_path / "dip")
    raw = (tmp_path / "dip" / "dip.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" not in raw
    rows = list(csv.DictReader((tmp_path / "dip" / "dip.csv").open(encoding="utf-8-sig")))
    assert [r["mdtrt_id"] for r in rows] == ["A", "B"] and "trace" not in rows[0]
    assert float(rows[0]["payment"]) == pytest.approx(frame["payment"].iloc[0], abs=0.005)
    traces = [json.loads(x) for x in (tmp_path / "dip" / "dip_trace.ndjson").open(encoding="utf-8")]
    assert [t["mdtrt_id"] for t in traces] == ["A", "B"] and all(t["trace"] for t in traces)
    assert counts["cases"] == 2 and counts["core"] + counts["integrated"] == 2
    assert counts["payment_total"] == pytest.approx(frame["payment"].sum(), abs=0.01)


@pytest.fixture(scope="module")
def demo_sheet(tmp_path_factory):
    """The vendor-a sample run once in-process (as `hutong run`), read back from its folder."""
    out = tmp_path_factory.mktemp("dip-demo")
    args = ["run", str(ROOT / "samples" / "vendor-a"), "-o", str(out), "-q", "--no-store"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return read_facesheet(out / "facesheet")


def test_sample_catalog_groups_the_demo(demo_sheet):
    frame = group_facesheet(demo_sheet, sample_catalog())
    assert len(frame) == len(demo_sheet.setlinfo)
    grouped = frame[frame["kind"] != "ungroupable"]
    assert len(grouped) / len(frame) >= 0.9
    assert (frame["kind"] == "core").sum() > (frame["kind"] == "integrated").sum() > 0
    assert grouped["payment"].notna().all() and (grouped["payment"] > 0).all()
    assert all(frame.loc[frame["kind"] == "ungroupable", "reason"].str.len() > 0)
