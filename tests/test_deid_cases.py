"""Hand-built canonical tables shared by the de-identification tests (no tests here): 张伟
surgical stay and a lab report whose conclusion names him and his phone), 李娜之女 (a newborn
girl) and 王秀英 (a woman of 92)."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from test_fhir_emit import canonical

T = pd.Timestamp
KEY = b"site-secret-key-0123456789abcdef"
OTHER_KEY = b"another-site-key-0123456789abcd"
# GB 11643 numbers with valid check digits.
CERTNO_ZHANG = "11010519491231002X"
CERTNO_WANG = "130102193301011231"
NAMES = {"张伟", "李娜之女", "王秀英", "张丽", "刘医生", "陈刀", "赵麻"}


def tables() -> dict[str, pd.DataFrame]:
    patient = canonical(
        "patient",
        [
            {
                "patient_id": "B0001",
                "medcasno": "B0001",
                "name": "张伟",
                "gend": "1",
                "brdy": dt.date(1960, 2, 29),
                "patn_cert_type": "01",
                "certno": CERTNO_ZHANG,
                "curr_addr": "河北省廊坊市安次区银河南路12号",
                "poscode": "065000",
                "tel": "13812345678",
                "coner_name": "张丽",
                "coner_tel": "13987654321",
            },
            {
                "patient_id": "B0002",
                "medcasno": "B0002",
                "name": "李娜之女",
                "gend": "2",
                "brdy": dt.date(2025, 1, 31),
                "curr_addr": "北京市朝阳区建国路88号3单元",
            },
            {
                "patient_id": "B0003",
                "medcasno": "B0003",
                "name": "王秀英",
                "gend": "2",
                "brdy": dt.date(1933, 1, 1),
                "certno": CERTNO_WANG,
                "curr_addr": "河北省石家庄市长安区幸福村261号",
            },
        ],
    )
    encounter = canonical(
        "encounter",
        [
            {
                "mdtrt_id": "ZY001",
                "patient_id": "B0001",
                "medcasno": "B0001",
                "enc_class": "IMP",
                "insuplc": "131002",
                "adm_time": T("2025-02-28 08:00"),
                "dscg_time": T("2025-03-07 18:30"),
                "chfpdr_name": "刘医生",
                "setl_id": "S1",
                "hi_no": "H0001",
            },
            {
                "mdtrt_id": "ZY002",
                "patient_id": "B0002",
                "medcasno": "B0002",
                "enc_class": "IMP",
                "adm_time": T("2025-03-01 12:00"),
                "dscg_time": T("2025-03-06 09:15"),
            },
            {
                "mdtrt_id": "ZY003",
                "patient_id": "B0003",
                "medcasno": "B0003",
                "enc_class": "IMP",
                "adm_time": T("2025-04-10 09:00"),
                "dscg_time": T("2025-04-20 10:00"),
            },
        ],
    )
    diagnosis = canonical(
        "diagnosis",
        [
            {"mdtrt_id": "ZY001", "seq": 1, "maindiag_flag": "1", "code": "K35.800"},
            {"mdtrt_id": "ZY002", "seq": 1, "maindiag_flag": "1", "code": "P59.900"},
            {"mdtrt_id": "ZY003", "seq": 1, "maindiag_flag": "1", "code": "I10.x00"},
        ],
    )
    procedure = canonical(
        "procedure",
        [
            {
                "mdtrt_id": "ZY001",
                "seq": 1,
                "code": "47.0100",
                "name": "腹腔镜阑尾切除术",
                "oprn_oprt_date": T("2025-03-01 10:00"),
                "oper_dr_name": "陈刀",
                "anst_dr_name": "赵麻",
            }
        ],
    )
    charge = canonical("charge", [{"mdtrt_id": "ZY001", "med_chrgitm": "01", "amt": 100.0}])
    report = canonical(
        "report",
        [
            {
                "report_id": "LAB9",
                "patient_id": "B0001",
                "mdtrt_id": "ZY001",
                "order_id": "ORD9",
                "name": "血常规",
                "effective_time": T("2025-03-01 07:00"),
                "issued_time": T("2025-03-01 09:00"),
                "conclusion": "张伟 白细胞升高，请电话13812345678联系，身份证11010519491231002X",
            }
        ],
    )
    observation = canonical(
        "observation",
        [
            {
                "observation_id": "LAB9-1",
                "patient_id": "B0001",
                "mdtrt_id": "ZY001",
                "report_id": "LAB9",
                "name": "白细胞",
                "value_num": 12.5,
                "effective_time": T("2025-03-01 07:00"),
            }
        ],
    )
    order = canonical(
        "order",
        [
            {
                "order_id": "ORD9",
                "patient_id": "B0001",
                "mdtrt_id": "ZY001",
                "ordered_time": T("2025-02-28 20:00"),
                "requester": "刘医生",
            }
        ],
    )
    return {
        "patient": patient,
        "encounter": encounter,
        "diagnosis": diagnosis,
        "procedure": procedure,
        "charge": charge,
        "report": report,
        "observation": observation,
        "order": order,
    }
