"""The synthetic vendor files: byte-stable, in the profile's layout, readable back through it."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook

from hutong.adapters.profile import Group, Profile, load_profile
from hutong.synthetic import generate, generate_cases
from hutong.synthetic.localise import localise
from hutong.synthetic.writers import write_vendor

VENDORS = {"vendor-a": 2024, "vendor-b": 2025}


def digests(paths: list[Path]) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def columns(profile: Profile, kind: str) -> list[str]:
    """Every source column the profile names for a file kind, in profile order."""
    names = [
        Group.fill(column, n)
        for _, group in profile.groups_for(kind)
        for n in group.instances()
        for column in group.columns.values()
    ]
    return list(dict.fromkeys(names))


def read_rows(path: Path, encoding: str) -> list[dict[str, str]]:
    if path.suffix == ".xlsx":
        book = load_workbook(path, read_only=True)
        values = list(book.active.iter_rows(values_only=True))
        book.close()
        for row in values:
            assert all(v is None or isinstance(v, str) for v in row)
        header = list(values[0])
        return [{h: v or "" for h, v in zip(header, row, strict=True)} for row in values[1:]]
    with path.open(encoding=encoding, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module", params=list(VENDORS))
def written(request, tmp_path_factory) -> tuple[Profile, list[dict], list[Path]]:
    vendor = request.param
    out = tmp_path_factory.mktemp(vendor)
    return (
        load_profile(vendor),
        localise(generate_cases(200, VENDORS[vendor]), vendor, VENDORS[vendor]),
        generate(vendor, 200, VENDORS[vendor], out),
    )


@pytest.mark.parametrize("vendor", list(VENDORS))
def test_same_seed_gives_identical_bytes_other_seed_differs(vendor, tmp_path):
    first = digests(generate(vendor, 30, 1, tmp_path / "one"))
    again = digests(generate(vendor, 30, 1, tmp_path / "again"))
    other = digests(generate(vendor, 30, 2, tmp_path / "other"))
    assert first == again
    assert all(other[name] != digest for name, digest in first.items())


def test_vendor_a_is_one_wide_gbk_csv_with_the_profile_headers(tmp_path):
    profile = load_profile("vendor-a")
    (path,) = generate("vendor-a", 50, 3, tmp_path)
    assert path.name == "住院病案首页_2024.csv"
    raw = path.read_bytes()
    text = raw.decode("gbk")
    assert raw.count(b"\r\n") == raw.count(b"\n") == 51
    header = next(csv.reader(io.StringIO(text)))
    assert header == columns(profile, "case")
    assert {
        "住院流水号",
        "主要诊断编码",
        "其他诊断编码10",
        "手术5麻醉医师工号",
        "西药费_自费",
    } <= set(header)
    assert set(profile.files["case"].required) <= set(header)


def test_vendor_b_writes_the_four_long_files_with_the_profile_headers(tmp_path):
    profile = load_profile("vendor-b")
    paths = generate("vendor-b", 50, 3, tmp_path)
    assert [p.name for p in paths] == ["VISIT.xlsx", "DIAG.csv", "OPER.csv", "FEE.csv"]
    for path, kind in zip(paths, ["visit", "diag", "oper", "fee"], strict=True):
        rows = read_rows(path, "utf-8")
        assert list(rows[0]) == columns(profile, kind)
        assert set(profile.files[kind].required) <= set(rows[0])
        if path.suffix == ".csv":
            raw = path.read_bytes()
            assert b"\r" not in raw
            raw.decode("utf-8")
    diag = read_rows(paths[1], "utf-8")
    assert {r["DX_TYPE"] for r in diag} == {"P", "S"}
    assert len(read_rows(paths[0], "utf-8")) == 50


def test_datetimes_use_the_first_profile_format_and_read_back(written):
    profile, cases, paths = written
    stamp = r"\d{4}/\d{1,2}/\d{1,2} \d{1,2}:\d{2}" if profile.name == "vendor-a" else r"\d{14}"
    visits = read_rows(paths[0], "gbk" if profile.name == "vendor-a" else "utf-8")
    column = "入院时间" if profile.name == "vendor-a" else "ADM_DTTM"
    texts = [r[column] for r, c in zip(visits, cases, strict=True) if c["broken"] != "bad_datetime"]
    assert all(re.fullmatch(stamp, t) for t in texts)
    for text in texts:
        datetime.strptime(text, profile.datetime_formats[0])
    if profile.name == "vendor-a":  # like Excel-born exports: 2024/3/5 9:05
        assert any(re.match(r"\d{4}/\d/", t) for t in texts)


def test_files_read_back_through_the_profile_give_the_cases(written):
    """Map columns and local values back with the profile, as an adapter would."""
    profile, cases, paths = written
    encoding = "gbk" if profile.name == "vendor-a" else "utf-8"
    visits = read_rows(paths[0], encoding)
    enc_cols = next(g for g in profile.tables["encounter"]).columns
    pat_cols = next(g for g in profile.tables["patient"]).columns

    def national(field: str, text: str) -> str:
        return profile.values.get(field, {}).get(text, text)

    for row, case in zip(visits, cases, strict=True):
        if case["broken"]:
            continue
        enc, pat = case["encounter"], case["patient"]
        assert row[enc_cols["mdtrt_id"]] == enc["mdtrt_id"]
        assert national("gend", row[pat_cols["gend"]]) == pat["gend"]
        assert national("dscg_way", row[enc_cols["dscg_way"]]) == enc["dscg_way"]
        assert national("hi_type", row[enc_cols["hi_type"]]) == enc["hi_type"]
        assert national("ipt_med_type", row[enc_cols["ipt_med_type"]]) == enc["ipt_med_type"]
        born = datetime.strptime(row[pat_cols["brdy"]], profile.date_formats[0]).date()
        assert born == pat["brdy"]
        adm = datetime.strptime(row[enc_cols["adm_time"]], profile.datetime_formats[0])
        assert adm == enc["adm_time"]
        assert row[enc_cols["act_ipt_days"]] == str(enc["act_ipt_days"])
    if profile.name == "vendor-a":
        for row, case in zip(visits, cases, strict=True):
            assert row["主要诊断编码"] == case["diagnoses"][0]["local_code"]
            for charge in case["charges"]:
                local = next(
                    k
                    for k, v in profile.values["med_chrgitm"].items()
                    if v == charge["med_chrgitm"]
                )
                assert Decimal(row[local]) == charge["amt"]
                assert Decimal(row[f"{local}_自费"]) == charge["fulamt_ownpay_amt"]
    else:
        fees = read_rows(paths[3], encoding)
        totals: dict[tuple[str, str], Decimal] = {}
        for fee in fees:
            key = (fee["VISIT_NO"], national("med_chrgitm", fee["FEE_CLS"]))
            totals[key] = totals.get(key, Decimal(0)) + Decimal(fee["AMT"])
        for case in cases:
            for charge in case["charges"]:
                assert totals[(charge["mdtrt_id"], charge["med_chrgitm"])] == charge["amt"]
        diag = read_rows(paths[1], encoding)
        mains = {
            r["VISIT_NO"]: r["ICD_CD"]
            for r in diag
            if national("maindiag_flag", r["DX_TYPE"]) == "1"
        }
        assert all(
            mains[c["encounter"]["mdtrt_id"]] == c["diagnoses"][0]["local_code"] for c in cases
        )


def test_adapter_level_faults_are_written_raw(written):
    profile, cases, paths = written
    encoding = "gbk" if profile.name == "vendor-a" else "utf-8"
    visits = read_rows(paths[0], encoding)
    enc_cols = next(g for g in profile.tables["encounter"]).columns
    pat_cols = next(g for g in profile.tables["patient"]).columns
    national_sexes = {"0", "1", "2", "9"}
    for row, case in zip(visits, cases, strict=True):
        if case["broken"] == "bad_datetime":
            ((field, text),) = case["raw"]["encounter"].items()
            assert row[enc_cols[field]] == text
            for fmt in profile.datetime_formats:
                with pytest.raises(ValueError):
                    datetime.strptime(text, fmt)
        elif case["broken"] == "unknown_sex":
            text = row[pat_cols["gend"]]
            assert text and text not in profile.values["gend"] and text not in national_sexes
        elif case["broken"] == "missing_case_id":
            assert row[enc_cols["mdtrt_id"]] == ""
            if profile.name == "vendor-b":  # its diagnoses now point at a visit that is not there
                visit_ids = {r["VISIT_NO"] for r in visits}
                diag_ids = {r["VISIT_NO"] for r in read_rows(paths[1], encoding)}
                assert case["encounter"]["mdtrt_id"] in diag_ids - visit_ids


def test_a_profile_without_room_for_a_record_is_an_error(tmp_path):
    source = Path(__file__).parents[1] / "src/hutong/adapters/profiles/vendor-a.toml"
    narrow = tmp_path / "narrow.toml"
    narrow.write_text(source.read_text("utf-8").replace("repeat = 5", "repeat = 1"), "utf-8")
    cases = [c for c in generate_cases(100, 5) if len(c["procedures"]) > 1][:1]
    assert cases
    with pytest.raises(ValueError, match="no room"):
        write_vendor(cases, load_profile(narrow), tmp_path / "out")


@pytest.mark.parametrize("vendor", list(VENDORS))
def test_local_terms_replace_only_local_code_and_name(vendor):
    seed = VENDORS[vendor]
    plain = generate_cases(60, seed)
    local = localise(generate_cases(60, seed), vendor, seed)
    changed = 0
    for a, b in zip(plain, local, strict=True):
        for x, y in zip(
            a["diagnoses"] + a["procedures"], b["diagnoses"] + b["procedures"], strict=True
        ):
            assert (x["code"], x["name"]) == (y["code"], y["name"])
            changed += x["local_code"] != y["local_code"]
    assert changed > 5
