"""Synthetic face sheets at scale: seeded, typed like read_facesheet, valid unless broken."""

from __future__ import annotations

import pandas as pd
import pytest

from hutong.mapping.facesheet import NODES, columns, read_facesheet, write_facesheet
from hutong.quality import check
from hutong.synthetic.facesheets import code_pools, facesheet_batch, facesheet_batches
from hutong.terminologies.codesystem import DIAGNOSIS, PROCEDURE, sample_code_system

DEFAULT_RULES = "nhsa-settlement+code-validity+plausibility"
# Rules the deliberate faults are made to fire (facesheets.FAULTS).
FAULT_RULES = {
    "SL-TIME-02",
    "SL-LOS-01",
    "SL-AGE-01",
    "SL-ID-01",
    "SL-REQ-01",
    "SL-DOM-01",
    "CV-DX-01",
    "CV-DX-02",
    "CV-DX-03",
    "SL-MAIN-01",
    "SL-DX-01",
    "SL-FEE-01",
    "SL-DSC-02",
    "SL-CNT-01",
    "PL-LOS-01",
    "SL-TIME-01",
}


def id_is_valid(certno: str) -> bool:
    """GB 11643-1999, written out here independently of the generator."""
    weights = [2 ** (17 - i) % 11 for i in range(17)]
    total = sum(int(d) * w for d, w in zip(certno[:17], weights, strict=True))
    return certno[17] == "10X98765432"[total % 11]


@pytest.fixture(scope="module")
def sheet():
    return next(facesheet_batches(4000, 4000, seed=11))


@pytest.fixture(scope="module")
def findings(sheet):
    codes = {"diagnosis": sample_code_system(DIAGNOSIS), "procedure": sample_code_system(PROCEDURE)}
    return check(sheet, DEFAULT_RULES, codes=codes)


def test_same_seed_same_sheets_other_seed_other_sheets():
    a = list(facesheet_batches(300, 120, seed=3))
    b = list(facesheet_batches(300, 120, seed=3))
    c = next(facesheet_batches(300, 120, seed=4))
    for x, y in zip(a, b, strict=True):
        for node in NODES:
            pd.testing.assert_frame_equal(x.node(node), y.node(node))
    assert not a[0].diseinfo["diag_code"].equals(c.diseinfo["diag_code"])


def test_batches_have_the_asked_sizes_and_unique_case_ids():
    batches = list(facesheet_batches(2500, 1000, seed=1))
    assert [len(b) for b in batches] == [1000, 1000, 500]
    ids = pd.concat([b.setlinfo["mdtrt_id"] for b in batches])
    assert ids.is_unique and len(ids) == 2500
    for b in batches:  # child rows belong to the batch's own cases
        for node in ("diseinfo", "oprninfo", "iteminfo"):
            assert b.node(node)["mdtrt_id"].isin(b.setlinfo["mdtrt_id"]).all()


def test_one_batch_alone_equals_the_same_batch_in_the_stream():
    stream = list(facesheet_batches(700, 300, seed=9))
    alone = facesheet_batch(2, 700, 300, 9, code_pools())
    for node in NODES:
        pd.testing.assert_frame_equal(alone.node(node), stream[2].node(node))
    with pytest.raises(IndexError):
        facesheet_batch(3, 700, 300, 9, code_pools())


def test_columns_and_types_are_those_read_facesheet_gives(sheet, tmp_path):
    small = next(facesheet_batches(200, 200, seed=2))
    write_facesheet(small, tmp_path)
    read = read_facesheet(tmp_path)
    for node in NODES:
        assert list(small.node(node).columns) == columns(node)
        assert small.node(node).dtypes.to_dict() == read.node(node).dtypes.to_dict(), node
    # and the values survive the round trip (times to the second, money to the cent)
    pd.testing.assert_frame_equal(small.setlinfo, read.setlinfo, check_dtype=False)
    pd.testing.assert_frame_equal(small.iteminfo, read.iteminfo, check_dtype=False)


def test_cases_vary(sheet):
    s = sheet.setlinfo
    assert set(s["gend"].dropna()) >= {"1", "2"}
    assert (s["age"] == 0).any() and (s["age"] >= 60).any()
    assert s["nwb_age"].dropna().between(0, 28).any()  # newborns, with weights
    assert s.loc[s["nwb_age"] <= 28, "nwb_bir_wt"].notna().any()
    counts = sheet.diseinfo.groupby("mdtrt_id").size()
    assert counts.min() == 1 and counts.max() >= 6
    per_case = sheet.oprninfo.groupby("mdtrt_id").size()
    assert per_case.max() <= 3 and len(per_case) < len(s)  # 0–3 procedures
    assert sheet.diseinfo["diag_code"].nunique() > 50
    assert set(s["dscg_way"].dropna()) >= {"1", "2", "5"}


def test_clean_values_are_consistent(sheet):
    s = sheet.setlinfo
    valid = s["certno"].map(id_is_valid)
    assert valid.mean() > 0.99  # only the id_check_digit faults fail
    assert (s["certno"].str.slice(6, 14) == s["brdy"].dt.strftime("%Y%m%d")).all()
    main = sheet.diseinfo[sheet.diseinfo["maindiag_flag"] == "1"].groupby("mdtrt_id").size()
    assert (main == 1).mean() > 0.99
    items = sheet.iteminfo
    parts = items[["claa_sumfee", "clab_amt", "fulamt_ownpay_amt", "oth_amt"]].sum(axis=1)
    assert ((items["amt"] - parts).abs() < 0.005).mean() > 0.99
    assert (items["amt"] > 0).all()


def test_a_batch_checks_and_the_faults_fire_their_rules(sheet, findings):
    assert set(findings["rule_id"]) >= FAULT_RULES
    # a few percent of the cases are broken; the others are clean
    flagged = findings["mdtrt_id"].nunique()
    assert 0.02 * len(sheet) < flagged < 0.08 * len(sheet)


def test_codes_come_from_the_list_given(tmp_path):
    dx = tmp_path / "dx.txt"
    dx.write_text("I10.x00 特发性（原发性）高血压\nJ18.900 肺炎\nE11.900 2型糖尿病\n", "utf-8")
    (tmp_path / "dx-gray.txt").write_text("E11.900 2型糖尿病\n", "utf-8")
    sheet = next(facesheet_batches(500, 500, seed=5, dx_codes=dx, principal={"J18.900"}))
    d = sheet.diseinfo
    assert set(d["diag_code"]) <= {"I10.x00", "J18.900", "E11.900", "Z99.999x999"}
    main = d.drop_duplicates("mdtrt_id")  # the main diagnosis is each case's first row
    assert (main["maindiag_flag"] == "1").all()
    assert (main["diag_code"].isin(["J18.900", "Z99.999x999"])).all()
    assert (d["diag_code"] == "E11.900").sum() < 0.05 * len(d)  # gray codes only as faults
