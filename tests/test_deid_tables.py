"""De-identification of hand-built canonical tables: pseudonyms, removal, regions, dates."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from hutong.mapping.deid import deid_key, deidentify, load_deid_profile
from hutong.mapping.deid_pseudonym import dicom_uid
from hutong.mapping.facesheet import build_facesheet
from test_deid_cases import CERTNO_ZHANG, KEY, OTHER_KEY, tables


@pytest.fixture(scope="module")
def research():
    return deidentify(tables(), load_deid_profile("research"), KEY)


def test_identifiers_are_pseudonymised_and_still_join(research):
    safe, _ = research
    pid = safe["patient"]["patient_id"]
    assert not pid.isin(["B0001", "B0002", "B0003"]).any()
    assert pid.str.match(r"^P[0-9a-f]{16}$").all()
    assert set(safe["encounter"]["patient_id"]) == set(pid)
    assert set(safe["diagnosis"]["mdtrt_id"]) == set(safe["encounter"]["mdtrt_id"])
    zhang = safe["encounter"].loc[0, "mdtrt_id"]
    assert safe["procedure"].loc[0, "mdtrt_id"] == zhang
    assert safe["report"].loc[0, "order_id"] == safe["order"].loc[0, "order_id"]
    assert safe["observation"].loc[0, "report_id"] == safe["report"].loc[0, "report_id"]
    assert safe["encounter"].loc[0, "medcasno"] == safe["patient"].loc[0, "medcasno"]
    assert safe["encounter"].loc[0, "setl_id"].startswith("S")


def test_same_key_same_output_and_other_key_other_pseudonyms(research):
    safe, _ = research
    again, _ = deidentify(tables(), load_deid_profile("research"), KEY)
    for name, frame in safe.items():
        pd.testing.assert_frame_equal(frame, again[name])
    other, _ = deidentify(tables(), load_deid_profile("research"), OTHER_KEY)
    assert set(other["patient"]["patient_id"]).isdisjoint(safe["patient"]["patient_id"])


def test_input_frames_are_not_changed():
    given = tables()
    deidentify(given, load_deid_profile("research"), KEY)
    pd.testing.assert_frame_equal(given["patient"], tables()["patient"])


def test_names_certno_and_phones_are_gone(research):
    safe, report = research
    pat = safe["patient"]
    for col in ("name", "certno", "tel", "coner_name", "coner_tel"):
        assert pat[col].isna().all(), col
    assert safe["encounter"]["chfpdr_name"].isna().all()
    assert safe["procedure"][["oper_dr_name", "anst_dr_name"]].isna().all().all()
    assert safe["order"]["requester"].isna().all()
    conclusion = safe["report"].loc[0, "conclusion"]
    assert "张伟" not in conclusion and "13812345678" not in conclusion
    assert CERTNO_ZHANG not in conclusion and "白细胞升高" in conclusion
    assert report["removed"]["patient.name"] == 3
    assert "KEY" not in repr(report) and KEY.decode() not in repr(report)


@pytest.mark.parametrize(
    ("profile", "addresses", "code", "poscode"),
    [
        ("research", ["河北省廊坊市", "北京市", "河北省石家庄市"], "131000", "065000"),
        ("share", ["河北省", "北京市", "河北省"], "130000", "060000"),
    ],
)
def test_address_reduced_to_profile_level(profile, addresses, code, poscode):
    safe, _ = deidentify(tables(), load_deid_profile(profile), KEY)
    assert list(safe["patient"]["curr_addr"]) == addresses
    assert safe["encounter"].loc[0, "insuplc"] == code
    assert safe["patient"].loc[0, "poscode"] == poscode


def _days(after, before) -> set[int]:
    moved = pd.to_datetime(after) - pd.to_datetime(before)
    return {d.days for d in moved.dropna()}


def test_every_date_of_a_patient_moves_by_one_nonzero_offset(research):
    safe, _ = research
    given = tables()
    offsets = set()
    offsets |= _days(
        safe["encounter"].loc[[0], "adm_time"], given["encounter"].loc[[0], "adm_time"]
    )
    offsets |= _days(
        safe["encounter"].loc[[0], "dscg_time"], given["encounter"].loc[[0], "dscg_time"]
    )
    offsets |= _days(safe["patient"].loc[[0], "brdy"], given["patient"].loc[[0], "brdy"])
    for table, col in [
        ("procedure", "oprn_oprt_date"),
        ("report", "effective_time"),
        ("report", "issued_time"),
        ("observation", "effective_time"),
        ("order", "ordered_time"),
    ]:
        offsets |= _days(safe[table][col], given[table][col])
    assert len(offsets) == 1 and offsets != {0}
    assert abs(offsets.pop()) <= 180
    assert isinstance(safe["patient"].loc[0, "brdy"], dt.date)
    assert safe["encounter"]["adm_time"].dtype == given["encounter"]["adm_time"].dtype


def test_facesheet_from_shifted_dates_keeps_ages_and_stays(research):
    safe, _ = research
    before = build_facesheet(tables()).setlinfo
    after = build_facesheet(safe).setlinfo
    # Rows are sorted by mdtrt_id, which pseudonyms reorder: compare in length-of-stay order.
    before = before.sort_values("act_ipt_days", kind="mergesort").reset_index(drop=True)
    after = after.sort_values("act_ipt_days", kind="mergesort").reset_index(drop=True)
    assert list(after["act_ipt_days"]) == list(before["act_ipt_days"])
    young = before["age"] < 90
    assert list(after.loc[young, "age"]) == list(before.loc[young, "age"])
    assert after["nwb_age"].fillna(-1).tolist() == before["nwb_age"].fillna(-1).tolist()
    assert before["nwb_age"].notna().any()
    assert set(after["setl_begn_date"]).isdisjoint(before["setl_begn_date"])


def test_ages_from_90_are_grouped_and_birth_date_removed(research):
    safe, report = research
    wang = safe["encounter"].loc[2]
    assert wang["age"] == 90
    assert pd.isna(safe["patient"].loc[2, "brdy"])
    assert report["ages_grouped"] == 1


def test_none_profile_is_identity():
    given = tables()
    same, _ = deidentify(given, load_deid_profile("none"), KEY)
    for name, frame in given.items():
        pd.testing.assert_frame_equal(same[name], frame)


def test_dicom_uids_stay_valid():
    uid = dicom_uid(KEY, "1.2.840.113619.2.55.3")
    assert uid.startswith("2.25.") and len(uid) <= 64 and uid[5:].isdigit()
    assert uid == dicom_uid(KEY, "1.2.840.113619.2.55.3") != dicom_uid(OTHER_KEY, "1.2.840.1")


def test_missing_key_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv("HUTONG_DEID_KEY", raising=False)
    with pytest.raises(ValueError, match=r"--deid-key-file.*HUTONG_DEID_KEY"):
        deid_key(None)
    short = tmp_path / "short.key"
    short.write_bytes(b"abc\n")
    with pytest.raises(ValueError, match="too short"):
        deid_key(short)
    good = tmp_path / "site.key"
    good.write_bytes(KEY + b"\n")
    assert deid_key(good) == KEY
    monkeypatch.setenv("HUTONG_DEID_KEY", KEY.decode())
    assert deid_key(None) == KEY


def test_unknown_profile_column_is_refused(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[profile]\nsource = "test"\n[remove]\ncolumns = ["patient.nope"]\n')
    with pytest.raises(ValueError, match=r"patient\.nope"):
        load_deid_profile(path)
