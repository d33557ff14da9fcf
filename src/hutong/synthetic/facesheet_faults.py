"""The deliberate faults of the synthetic face sheets, each made to fire a named QC rule.

:func:`break_cases` gives a share of the cases of a batch (drawn by the batch's seeded
generator) exactly one fault each, so a benchmark or test sees rules fire at a realistic rate
while the other cases stay clean.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hutong.mapping.facesheet import NODES

FAULTS = (
    "discharge_before_admission",  # SL-TIME-02
    "los_mismatch",  # SL-LOS-01
    "age_mismatch",  # SL-AGE-01
    "id_check_digit",  # SL-ID-01
    "missing_name",  # SL-REQ-01
    "bad_gend",  # SL-DOM-01
    "unknown_diag_code",  # CV-DX-01
    "diag_name_mismatch",  # CV-DX-02
    "gray_diag_code",  # CV-DX-03
    "two_main_diagnoses",  # SL-MAIN-01
    "main_adm_cond_4",  # SL-DX-01
    "fee_parts_mismatch",  # SL-FEE-01
    "transfer_without_receiver",  # SL-DSC-02
    "diag_count_mismatch",  # SL-CNT-01
    "long_stay",  # PL-LOS-01 (and SL-LOS-01 stays consistent)
    "procedure_outside_stay",  # SL-TIME-01
)


def break_cases(
    frames: dict[str, pd.DataFrame],
    rng: np.random.Generator,
    share: float,
    gray: tuple[np.ndarray, np.ndarray],
    is_main: np.ndarray,
    case_of_dx: np.ndarray,
    case_of_px: np.ndarray,
    case_of_item: np.ndarray,
) -> None:
    """Give ``share`` of the cases one fault of :data:`FAULTS` each, in the frames in place.

    ``gray`` holds the gray codes and names to use; ``case_of_*`` give each child row's case
    (its position in setlinfo) and ``is_main`` flags the main diagnosis rows.
    """
    s, d, o, i = (frames[k] for k in NODES)
    n = len(s)
    fault = np.where(rng.random(n) < share, rng.integers(0, len(FAULTS), n), -1)
    hit = {name: np.flatnonzero(fault == k) for k, name in enumerate(FAULTS)}
    col = s.columns.get_loc

    def rows_of(case_rows: np.ndarray, cases: np.ndarray, main: np.ndarray | None = None):
        sel = np.isin(case_rows, cases)
        return np.flatnonzero(sel if main is None else sel & main)

    r = hit["discharge_before_admission"]
    s.iloc[r, col("dscg_time")] = s["adm_time"].to_numpy()[r] - np.timedelta64(3, "D")
    s.iloc[hit["los_mismatch"], col("act_ipt_days")] += 3
    s.iloc[hit["age_mismatch"], col("age")] += 5
    r = hit["id_check_digit"]
    cert = s["certno"].to_numpy()[r]
    s.iloc[r, col("certno")] = [c[:17] + ("0" if c[17] != "0" else "1") for c in cert]
    s.iloc[hit["missing_name"], col("psn_name")] = None
    s.iloc[hit["bad_gend"], col("gend")] = "3"
    rows = rows_of(case_of_dx, hit["unknown_diag_code"], is_main)
    d.iloc[rows, d.columns.get_loc("diag_code")] = "Z99.999x999"
    rows = rows_of(case_of_dx, hit["diag_name_mismatch"], is_main)
    d.iloc[rows, d.columns.get_loc("diag_name")] = "未特指的疾病"
    gray_codes, gray_names = gray
    if len(gray_codes):
        rows = rows_of(case_of_dx, hit["gray_diag_code"], ~is_main)
        pick = rng.integers(0, len(gray_codes), len(rows))
        d.iloc[rows, d.columns.get_loc("diag_code")] = gray_codes[pick]
        d.iloc[rows, d.columns.get_loc("diag_name")] = gray_names[pick]
    d.iloc[rows_of(case_of_dx, hit["two_main_diagnoses"]), d.columns.get_loc("maindiag_flag")] = "1"
    rows = rows_of(case_of_dx, hit["main_adm_cond_4"], is_main)
    d.iloc[rows, d.columns.get_loc("adm_cond_type")] = "4"
    rows = rows_of(case_of_item, hit["fee_parts_mismatch"])
    i.iloc[rows, i.columns.get_loc("claa_sumfee")] += 10.0
    r = hit["transfer_without_receiver"]
    s.iloc[r, col("dscg_way")] = "2"
    s.iloc[r, col("acp_medins_name")] = None
    s.iloc[hit["diag_count_mismatch"], col("diag_code_cnt")] += 1
    r = hit["long_stay"]
    s.iloc[r, col("dscg_time")] = s["dscg_time"].to_numpy()[r] + np.timedelta64(200, "D")
    s.iloc[r, col("act_ipt_days")] += 200
    s.iloc[r, col("setl_end_date")] = s["setl_end_date"].to_numpy()[r] + np.timedelta64(200, "D")
    rows = rows_of(case_of_px, hit["procedure_outside_stay"])
    o.iloc[rows, o.columns.get_loc("oprn_oprt_date")] = o["oprn_oprt_date"].to_numpy()[
        rows
    ] - np.timedelta64(30, "D")
