"""QC of a face sheet read back from disk gives the same findings as of the one in memory."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hutong.mapping.facesheet import read_facesheet, write_facesheet
from hutong.quality import check
from qc_cases import MAIN_DX, NEWBORN, STENT, case, combine, dx, fee


def test_findings_survive_write_and_read(tmp_path: Path) -> None:
    sheet = combine(
        case("ZY1"),
        case("ZY2", setlinfo={**NEWBORN, "nwb_adm_wt": None, "dscg_way": "2"}),
        case("ZY3", diseinfo=[dx("S72.000", "股骨颈骨折", main=True), dx("G01*", "脑膜炎")]),
        case("ZY4", oprninfo=[{**STENT, "oprn_oprt_date": "2025-03-12 08:00:00"}]),
        case("ZY5", iteminfo=[{**fee("09", claa=10.0), "amt": 12.5}], diseinfo=[MAIN_DX]),
    )
    before = check(sheet)
    write_facesheet(sheet, tmp_path / "facesheet")
    after = check(read_facesheet(tmp_path / "facesheet"))
    pd.testing.assert_frame_equal(before, after)
    assert set(after["mdtrt_id"]) == {"ZY2", "ZY3", "ZY4", "ZY5"}


def test_homepage_items_survive_write_and_read(tmp_path: Path) -> None:
    """联系人地址, 工作单位 and 门（急）诊诊断 (its code in wm_dise_code) round-trip as written,
    '-' included, and the rules on them give the same findings both ways."""
    items = {
        "coner_addr": "河北省廊坊市安次区建设路1号",
        "emp_name": "-",
        "emp_addr": "-",
        "prfs": "80",
        "otp_wm_dise": "胸痛",
        "wm_dise_code": "R07.400",
    }
    sheet = combine(
        case("ZY1", setlinfo=items),
        case("ZY2", setlinfo={"otp_wm_dise": None, "wm_dise_code": None, "coner_addr": None}),
    )
    write_facesheet(sheet, tmp_path / "facesheet")
    back = read_facesheet(tmp_path / "facesheet").setlinfo.set_index("mdtrt_id")
    assert back.loc["ZY1", list(items)].tolist() == list(items.values())
    assert back.loc["ZY2", ["otp_wm_dise", "wm_dise_code", "coner_addr"]].isna().all()
    pack = "nhsa-homepage"
    pd.testing.assert_frame_equal(
        check(sheet, pack), check(read_facesheet(tmp_path / "facesheet"), pack)
    )
    fired = check(sheet, pack)
    assert {"HP-RT-02", "HP-REQ-01"} <= set(fired.loc[fired["mdtrt_id"] == "ZY2", "rule_id"])
    assert not set(fired.loc[fired["mdtrt_id"] == "ZY1", "rule_id"]) & {
        "HP-RT-02",
        "HP-REQ-01",
        "HP-OCC-01",
    }
