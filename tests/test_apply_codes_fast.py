"""``apply_codes`` numbers the distinct terms by one dictionary encoding instead of merging on
three object columns; it must give the frame the merge gave, on terms made to collide."""

from __future__ import annotations

import pandas as pd
import pytest

from hutong.terminologies.codesystem import DIAGNOSIS, sample_code_system
from hutong.terminologies.coding import KEY, TERM, Coder, apply_codes, local_systems


def merged(frame: pd.DataFrame, coder: Coder, table: str) -> pd.DataFrame:
    """apply_codes as it was: decide the distinct terms, merge them back onto the rows."""
    out = frame.copy()
    keys = out[TERM].astype("object").fillna("")
    keys.insert(0, "local_system", local_systems(out, table) if "vendor" in out else "")
    decided = coder.decide(keys.drop_duplicates().reset_index(drop=True))
    joined = keys.merge(decided, on=KEY, how="left", validate="many_to_one")
    out["code"] = joined["code"].to_numpy()
    out["map_status"] = joined["map_status"].to_numpy()
    out["code_system"] = out["code"].notna().map({True: coder.system.id, False: None})
    out["name"] = out["code"].map(coder.index.names)
    return out


# joined naively, ("I1", "0:x") and ("I10", ":x") would be one key; missing and "" are one term
CODES = ["I10", "I1", "i10", None, "", "I10", "E11.900", "0:x", "1:I", "ZZZ", "I25.103", "I1"]
NAMES = [":x", "0:x", "高血压", None, "", ":x", "2型糖尿病", "", "I", "未知", "冠心病", "0:x"]


@pytest.mark.parametrize("vendor", [None, "vendor-a", "vendor:a"])
def test_apply_codes_matches_the_merge(vendor) -> None:
    frame = pd.DataFrame(
        {"mdtrt_id": [f"ZY{i % 4}" for i in range(len(CODES))], "local_code": CODES,
         "local_name": NAMES, "vendor": [vendor, "vendor-b", *[vendor] * (len(CODES) - 2)]}
    ).astype({"local_code": "str", "local_name": "str", "vendor": "str"})  # fmt: skip
    coder = Coder(sample_code_system(DIAGNOSIS))
    expected = merged(frame, coder, "diagnosis")
    pd.testing.assert_frame_equal(apply_codes(frame, coder, "diagnosis"), expected)
    assert expected["code"].notna().any() and expected["code"].isna().any()


def test_apply_codes_of_no_rows_matches_the_merge() -> None:
    coder = Coder(sample_code_system(DIAGNOSIS))
    frame = pd.DataFrame({"local_code": ["I10"], "local_name": ["高血压"]}).iloc[:0]
    pd.testing.assert_frame_equal(apply_codes(frame, coder), merged(frame, coder, ""))
