"""k-anonymity over age band, sex, region and admission month of inpatient stays."""

from __future__ import annotations

import pandas as pd

from hutong.mapping.deid import deidentify, k_anonymity, load_deid_profile
from hutong.mapping.deid_kanon import age_band
from test_deid_cases import KEY, tables


def test_age_bands():
    assert [age_band(a) for a in (0, 4, 5, 64, 89, 90, 104)] == [
        "0-4",
        "0-4",
        "5-9",
        "60-64",
        "85-89",
        "90+",
        "90+",
    ]
    assert age_band(None) is None


def test_small_classes_are_listed():
    safe, _ = deidentify(tables(), load_deid_profile("share"), KEY)
    result = k_anonymity(safe, k=2)
    assert result["records"] == 3
    assert result["classes"] == 3 and result["smallest"] == 1
    assert result["small_classes_count"] == 3
    first = result["small_classes"][0]
    assert set(first) == {"age_band", "gend", "region", "adm_month", "size"}
    assert {c["region"] for c in result["small_classes"]} == {"河北省", "北京市"}
    assert {c["age_band"] for c in result["small_classes"]} == {"60-64", "0-4", "90+"}


def test_equal_stays_form_one_class():
    given = tables()
    enc = given["encounter"]
    twin = enc.iloc[[0]].assign(mdtrt_id="ZY009")
    given["encounter"] = pd.concat([enc, twin], ignore_index=True)
    result = k_anonymity(given, k=2)
    assert result["classes"] == 3 and result["records"] == 4
    assert result["small_classes_count"] == 2


def test_profile_sets_k():
    assert load_deid_profile("research").k == 5 == load_deid_profile("share").k
