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
