"""What hutong ships must agree with the national reference data, and the official lists must
load through the same loader a user calls."""

from __future__ import annotations

import json

import pandas as pd

from hutong.mapping.facesheet import layout
from hutong.terminologies.codesystem import (
    DIAGNOSIS,
    PROCEDURE,
    load_code_system,
    sample_code_system,
)
from hutong.terminologies.coding import apply_codes
from hutong.terminologies.valuesets import valuesets


def test_shipped_4101_layout_matches_the_reference_field_list(reference):
    ref = pd.read_csv(reference / "nhsa_4101_setl_list_fields.csv", dtype=str)
    for node, group in ref.groupby("node"):
        assert layout()[node] == list(
            group.sort_values("seq", key=lambda s: s.astype(int))["field"]
        )


def test_shipped_value_sets_agree_with_the_reference(reference):
    ref = json.loads((reference / "valuesets.json").read_text("utf-8"))["settlement_list_20hao"]
    ours = valuesets()
    for key in (
        "gend",
        "hi_type",
        "nwb_adm_type",
        "ipt_med_type",
        "adm_way",
        "adm_cond_type",
        "dscg_way",
        "hi_paymtd",
    ):
        assert set(ours[key].codes) == set(ref[key]), key
    ref_items = {k for k in ref["med_chrgitm_type"] if not k.startswith("_")}
    assert set(ours["med_chrgitm"].codes) == ref_items


def test_official_lists_load_with_gray_codes(reference):
    dx = load_code_system(DIAGNOSIS, reference / "icd10-yb-2.0.txt")
    px = load_code_system(PROCEDURE, reference / "icd9cm3-yb-2.0.txt")
    assert len(dx) > 30_000 and len(px) > 13_000
    assert "I10.x00" in dx.gray and dx.names["I25.103"] == "冠状动脉粥样硬化性心脏病"
    assert dx.names["A01.000x005+J17.0*"] == "伤寒并发肺炎"
    assert len(px.gray) > 2000


def test_shipped_samples_are_real_codes_with_their_official_names(reference):
    for system_id, name in ((DIAGNOSIS, "icd10-yb-2.0"), (PROCEDURE, "icd9cm3-yb-2.0")):
        official = load_code_system(system_id, reference / f"{name}.txt")
        sample = sample_code_system(system_id)
        assert len(sample) > 20
        wrong = {c: n for c, n in sample.names.items() if official.names.get(c) != n}
        assert wrong == {}
        assert sample.gray <= official.gray


def test_dagger_code_written_without_its_star_finds_the_pair(reference):
    dx = load_code_system(DIAGNOSIS, reference / "icd10-yb-2.0.txt")
    frame = pd.DataFrame(
        {
            "local_code": ["A01.000x005", "i25.103", "I25.199"],
            "local_name": ["伤寒并发肺炎", None, "冠心病"],
        }
    )
    coded = apply_codes(frame, dx)
    assert list(coded["code"])[:2] == ["A01.000x005+J17.0*", "I25.103"]
    assert list(coded["map_status"]) == ["normalised", "normalised", "unmapped"]
