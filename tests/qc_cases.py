"""A clean one-case settlement-list face sheet for QC tests, to break one thing at a time.

The case: a 60-year-old man admitted from the clinic for coronary heart disease (I25.103) with
hypertension, one drug-eluting stent (36.0700) on day 2, fees that add up, and a resident ID
number whose GB 11643 check digit is computed here (independently of hutong's own check).

>>> sheet = facesheet(setlinfo={"adm_time": "2025-03-09 08:00:00"})
>>> rule_ids(check(sheet))                                 # doctest: +SKIP
{'SL-TIME-02', ...}
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from hutong.mapping.facesheet import (
    DATE_FIELDS,
    DATETIME_FIELDS,
    NODES,
    NUMBER_FIELDS,
    FaceSheet,
    columns,
)

MDTRT_ID = "ZY2025000123"


def id_number(first17: str) -> str:
    """An 18-char resident ID number: the 17 given digits plus their GB 11643 check char."""
    weights = [2 ** (17 - i) % 11 for i in range(17)]  # 7, 9, 10, 5, 8, 4, 2, 1, 6, 3, ...
    total = sum(int(d) * w for d, w in zip(first17, weights, strict=True))
    return first17 + "10X98765432"[total % 11]


SETLINFO: dict[str, Any] = {
    "mdtrt_id": MDTRT_ID,
    "setl_id": "JS2025000123",
    "fixmedins_name": "示例市第一人民医院",
    "fixmedins_code": "H11010500001",
    "hi_setl_lv": "1",
    "hi_no": "11000012345678",
    "medcasno": "BA0088123",
    "psn_name": "张建国",
    "gend": "1",
    "brdy": "1964-05-12",
    "age": 60,
    "ntly": "CHN",
    "naty": "01",
    "patn_cert_type": "01",
    "certno": id_number("11010519640512123"),
    "prfs": "17",
    "curr_addr": "北京市朝阳区示例路1号",
    "emp_name": "示例科技有限公司",
    "emp_addr": "北京市海淀区示例大街2号",
    "coner_name": "王丽",
    "patn_rlts": "10",
    "coner_addr": "北京市朝阳区示例路1号",
    "coner_tel": "13800000000",
    "hi_type": "1",
    "insuplc": "110105",
    "ipt_med_type": "1",
    "adm_way": "2",
    "trt_type": "1",
    "adm_time": "2025-03-03 09:30:00",
    "adm_caty": "A03.04",
    "dscg_time": "2025-03-08 10:00:00",
    "dscg_caty": "A03.04",
    "act_ipt_days": 5,
    "otp_wm_dise": "冠状动脉粥样硬化性心脏病",
    "wm_dise_code": "I25.103",
    "diag_code_cnt": 2,
    "oprn_oprt_code_cnt": 1,
    "dscg_way": "1",
    "days_rinp_flag_31": "1",
    "chfpdr_name": "李明",
    "chfpdr_code": "D110105001",
    "setl_begn_date": "2025-03-03",
    "setl_end_date": "2025-03-08",
    "hi_paymtd": "4",
    "medins_fill_dept": "病案科",
    "medins_fill_psn": "赵敏",
}

MAIN_DX = {
    "maindiag_flag": "1",
    "diag_type": "1",
    "diag_code": "I25.103",
    "diag_name": "冠状动脉粥样硬化性心脏病",
    "adm_cond_type": "1",
}
OTHER_DX = {
    "maindiag_flag": "0",
    "diag_type": "1",
    "diag_code": "I10.x00x002",
    "diag_name": "高血压",
    "adm_cond_type": "1",
}
DISEINFO = [MAIN_DX, OTHER_DX]


def dx(code: str, name: str, main: bool = False, **extra: str) -> dict:
    """A western diagnosis row (main or other) with the given code and name."""
    base = MAIN_DX if main else OTHER_DX
    return {**base, "diag_code": code, "diag_name": name, **extra}


STENT = {
    "oprn_oprt_type": "1",
    "oprn_oprt_name": "药物洗脱冠状动脉支架置入",
    "oprn_oprt_code": "36.0700",
    "oprn_oprt_date": "2025-03-04 10:20:00",
    "anst_way": "3",
    "oper_dr_name": "李明",
    "oper_dr_code": "D110105001",
}
OPRNINFO = [STENT]


def fee(code: str, claa: float = 0, clab: float = 0, own: float = 0, oth: float = 0) -> dict:
    """An iteminfo row whose amount is the sum of its parts."""
    amt = round(claa + clab + own + oth, 2)
    parts = {"claa_sumfee": claa, "clab_amt": clab, "fulamt_ownpay_amt": own, "oth_amt": oth}
    return {"med_chrgitm": code, "amt": amt, **parts}


ITEMINFO = [
    fee("01", claa=250.00),
    fee("03", claa=1000.00, clab=200.00),
    fee("04", claa=860.50),
    fee("06", claa=4800.00),
    fee("07", claa=150.00),
    fee("08", clab=20000.00, own=5000.00),
    fee("09", claa=900.20, clab=440.00),
]

# A newborn admitted on day 2 of life, for the newborn rules.
NEWBORN = {
    "brdy": "2025-03-01",
    "age": 0,
    "nwb_age": 2,
    "nwb_adm_type": "1",
    "nwb_bir_wt": 3250,
    "nwb_adm_wt": 3100,
    "certno": id_number("11010520250301123"),
}


def typed(frame: pd.DataFrame) -> pd.DataFrame:
    """The face sheet's dtypes: datetimes, normalized dates, Float64 numbers, string text."""
    for col in frame.columns:
        if col in DATETIME_FIELDS:
            frame[col] = pd.to_datetime(frame[col], format="mixed")
        elif col in DATE_FIELDS:
            frame[col] = pd.to_datetime(frame[col], format="mixed").dt.normalize()
        elif col in NUMBER_FIELDS:
            frame[col] = pd.to_numeric(frame[col]).astype("Float64")
        else:
            frame[col] = frame[col].astype("string")
    return frame


def _node(node: str, rows: list[dict], mdtrt_id: object) -> pd.DataFrame:
    rows = [{"mdtrt_id": mdtrt_id, **row} for row in rows]
    frame = pd.DataFrame(rows, columns=columns(node), dtype=object)
    return typed(frame.astype(object).where(frame.notna(), None))


def facesheet(
    setlinfo: dict[str, Any] | None = None,
    diseinfo: list[dict] | None = None,
    oprninfo: list[dict] | None = None,
    iteminfo: list[dict] | None = None,
) -> FaceSheet:
    """The clean case with ``setlinfo`` values overridden and child rows replaced when given.

    The settlement period follows a changed admission or discharge time (as the face-sheet
    builder sets it) unless ``setl_begn_date``/``setl_end_date`` are given too.
    """
    given = setlinfo or {}
    setl = {**SETLINFO, **given}
    for time, day in (("adm_time", "setl_begn_date"), ("dscg_time", "setl_end_date")):
        if given.get(time) is not None and day not in given:
            setl[day] = str(given[time])[:10]
    key = setl["mdtrt_id"]
    return FaceSheet(
        setlinfo=_node("setlinfo", [setl], key),
        diseinfo=_node("diseinfo", DISEINFO if diseinfo is None else diseinfo, key),
        oprninfo=_node("oprninfo", OPRNINFO if oprninfo is None else oprninfo, key),
        iteminfo=_node("iteminfo", ITEMINFO if iteminfo is None else iteminfo, key),
    )


def combine(*sheets: FaceSheet) -> FaceSheet:
    """Several one-case sheets as one batch, in the order given."""
    return FaceSheet(
        **{node: pd.concat([s.node(node) for s in sheets], ignore_index=True) for node in NODES}
    )


def case(mdtrt_id: str, **overrides: Any) -> FaceSheet:
    """The clean case under another key (``setlinfo`` overrides may still be passed)."""
    setl = {**(overrides.pop("setlinfo", None) or {}), "mdtrt_id": mdtrt_id}
    return facesheet(setlinfo=setl, **overrides)


def rule_ids(findings: pd.DataFrame) -> set[str]:
    """The ids of the rules that fired."""
    return set(findings["rule_id"])


def three_cases() -> FaceSheet:
    """A clean case, one with an unknown sex code and a LOS off by the dates, and one whose
    main diagnosis was absent on admission (入院病情 4): findings of several kinds."""
    return combine(
        case("ZY1"),
        case("ZY2", setlinfo={"gend": "3", "act_ipt_days": 9}),
        case("ZY3", diseinfo=[{**MAIN_DX, "adm_cond_type": "4"}, OTHER_DX]),
    )
