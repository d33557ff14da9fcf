"""The shared and Arrow-backed paths of the rule checks give what the plain pandas spelling of
the same check gives, on the odd values a batch carries: missing ids and codes, padded and
lower-case codes, short codes, IDs with x, dates before 1900, full-width digits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hutong.quality import check
from hutong.quality.checks import id_birth, id_check_char, id_shape, ymd
from hutong.quality.checks_homepage import minutes
from hutong.quality.coding import in_categories
from hutong.quality.engine import COLUMNS, _findings
from hutong.quality.expression import _boolean, compile_expression
from hutong.quality.kinds import blank, lookup, one_run, row_counts, truth
from hutong.quality.pack import load_pack
from qc_cases import ITEMINFO, case, combine, facesheet, fee, id_number, rule_ids

PYTHON_TEXT = pd.StringDtype("python")


def text(values: list, dtype: object = "string") -> pd.Series:
    return pd.Series(values, dtype=dtype)


@pytest.mark.parametrize("dtype", ["string", PYTHON_TEXT])
def test_row_counts_are_value_counts_mapped_onto_the_keys(dtype: object) -> None:
    keys = text(["a", None, "b", "c", "a"], dtype)
    of = text(["a", "a", None, "b", "z", None], dtype)
    expected = keys.map(of.value_counts()).fillna(0).to_numpy(dtype=np.int64)
    assert row_counts(keys, of).tolist() == expected.tolist() == [2, 0, 1, 0, 2]


@pytest.mark.parametrize("dtype", ["string", PYTHON_TEXT])
def test_lookup_is_map_with_missing_ids_matching_missing_keys(dtype: object) -> None:
    ids = text(["a", None, "b"], dtype)
    values = pd.Series(["1", "9", "2"], dtype="string")
    keys = text(["b", None, "x", "a"], dtype)
    got = lookup(keys, ids, values)
    expected = keys.map(pd.Series(values.array, index=ids))
    assert got.astype("string").tolist() == expected.astype("string").tolist()
    assert got.astype("string").tolist() == ["2", "9", pd.NA, "1"]


def test_lookup_takes_dates_with_nat_for_unknown_keys() -> None:
    ids = text(["a", "b"])
    when = pd.Series(pd.to_datetime(["2025-03-03 10:00", "1850-01-02 00:00"]))
    got = lookup(text(["b", "c", "a"]), ids, when)
    assert got.tolist()[0] == pd.Timestamp("1850-01-02") and got.tolist()[2].hour == 10
    assert pd.isna(got.iloc[1])


def _categories_reference(codes: pd.Series, pairs: list[tuple[str, str]]) -> list[bool]:
    cat = codes.astype("string").str.strip().str.upper().str.slice(0, 3)
    out = np.zeros(len(cat), dtype=bool)
    for low, high in pairs:
        out |= truth((cat >= low) & (cat <= high)).to_numpy()
    return out.tolist()


@pytest.mark.parametrize("dtype", ["string", PYTHON_TEXT])
def test_category_ranges_match_the_text_comparison(dtype: object) -> None:
    odd = [" o80.000 ", "O99", "O9", "P00.1", None, "", "T80.2", "t88", "S00-", "Ｏ80", "Z38.000"]
    codes = text(odd, dtype)
    for ranges, pairs in (
        (["O00-O99"], [("O00", "O99")]),
        (["T80-T88", "Z38"], [("T80", "T88"), ("Z38", "Z38")]),
        (["A00-T79", "T89-T98", "U00-U99"], [("A00", "T79"), ("T89", "T98"), ("U00", "U99")]),
    ):
        with one_run():  # the categories are shared between the calls of a run
            got = in_categories(codes, ranges).tolist()
            again = in_categories(codes, ranges).tolist()
        assert got == again == _categories_reference(codes, pairs), ranges


def test_birth_date_number_equals_the_formatted_date() -> None:
    dates = pd.Series(
        np.array(["0999-01-02", "1850-03-04", "1899-12-31", "2000-02-29", "NaT"], "M8[us]")
    )
    formatted = dates.dt.strftime("%Y%m%d").astype("string")
    numbers = ymd(dates)
    for shown, number in zip(formatted, numbers, strict=True):
        assert number == (-1 if shown is pd.NA else int(shown))
    assert formatted.iloc[0] == "09990102"  # zero-padded: an ID can carry year 0999


@pytest.mark.parametrize("dtype", ["string", PYTHON_TEXT])
def test_birth_date_in_the_id_compares_as_the_text_did(dtype: object) -> None:
    ids = [
        id_number("11010518500304001"),
        id_number("11010509990102001").lower(),
        " " + id_number("11010520000229001") + " ",
        "１１０１０５１９９００１０１００１X",  # full-width digits
        "110105640512123",
        None,
    ]
    days = ["1850-03-04", "0999-01-02", "2000-02-28", "1990-01-01", "NaT", "NaT"]
    born = pd.Series(np.array(days, "M8[us]"))
    normalized, shaped = id_shape(text(ids, dtype))
    reference = truth(normalized.str.slice(6, 14) != born.dt.strftime("%Y%m%d").astype("string"))
    fast = id_birth(normalized, shaped) != ymd(born)
    keep = shaped.to_numpy() & born.notna().to_numpy()
    assert (fast & keep).tolist() == (reference.to_numpy() & keep).tolist()
    assert (fast & keep).tolist()[:3] == [False, False, True]


def test_check_character_from_the_arrow_buffer_equals_the_digit_sum() -> None:
    ids = text([id_number("11010519640512001"), id_number("44030619900101234"), "0" * 18])
    sliced = ids.iloc[1:]  # an Arrow array with an offset into its buffers
    for values in (ids, sliced):
        total = sum(
            values.str.slice(i, i + 1).astype("int64") * w
            for i, w in enumerate((7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2))
        )
        expected = ["10X98765432"[t % 11] for t in total]
        assert id_check_char(values).tolist() == expected
    assert id_check_char(ids.iloc[:2]).tolist() == ids.iloc[:2].str.slice(17, 18).tolist()


def _minutes_reference(values: pd.Series) -> pd.Series:
    parts = values.astype("string").str.strip().str.extract(r"^(\d+)/(\d+)/(\d+)$")
    days, hours, mins = (parts[i].astype("Float64") for i in range(3))
    return days * 1440 + hours * 60 + mins


def _outcome(fn, values: pd.Series) -> object:
    try:
        return fn(values).tolist()
    except (ValueError, TypeError) as err:  # Arrow cannot read a full-width digit as a number
        return type(err)


@pytest.mark.parametrize("dtype", ["string", PYTHON_TEXT])
def test_durations_parse_as_the_regular_expression_does(dtype: object) -> None:
    values = [" 1/13/24 ", "0/0/0", "1/2", None, "", "x/1/2", "01/00/0013", "1/2/3/4", "1/2/3\n"]
    got = minutes(text(values, dtype))
    assert got.tolist()[:2] == [1 * 1440 + 13 * 60 + 24, 0]
    assert got.iloc[6] == 1440 + 13
    assert got.iloc[[2, 3, 4, 5, 7]].isna().all()
    assert (
        got.astype(object).tolist()
        == _minutes_reference(text(values, dtype)).astype(object).tolist()
    )
    wide = text(["１/0/0", "2/0/0", "二/0/0"], dtype)  # not ASCII: Python's regular expression
    assert minutes(wide).astype(object).tolist() == [1440, 2880, pd.NA]  # 全角 digits read


def test_a_full_width_duration_is_checked_not_a_crash() -> None:
    sheet = facesheet(setlinfo={"vent_used_dura": "９/0/0"})  # 9 days in a 2-day stay
    findings = check(sheet, "nhsa-homepage")
    assert "HP-VENT-02" in rule_ids(findings)


def test_fee_category_totals_to_zero_fires_with_the_amount() -> None:
    rows = [r for r in ITEMINFO if r["med_chrgitm"] != "01"]
    refund = [fee("01", claa=250), fee(" 01 ", claa=-250), fee("03", claa=250)]
    findings = check(facesheet(iteminfo=rows + refund), "nhsa-homepage")
    assert rule_ids(findings) == {"HP-FEE-03"}
    assert findings["message_en"].tolist() == [
        "a stay of more than one day has no bed fee (01 = 0.00)"
    ]


def test_findings_of_a_batch_are_the_per_rule_findings_concatenated() -> None:
    sheet = combine(
        case("A1", setlinfo={"certno": "110105640512123", "psn_selfpay": 90000}),
        case("A2", iteminfo=[r for r in ITEMINFO if r["med_chrgitm"] != "07"]),
        case("A3", setlinfo={"vent_used_dura": "9/0/0", "diag_code_cnt": 7, "gend": "1"}),
        facesheet(),
    )
    pack = load_pack("nhsa-settlement+nhsa-homepage+plausibility")
    with one_run():
        parts = [_findings(sheet, rule) for rule in pack.rules]
    expected = pd.concat([p for p in parts if len(p)], ignore_index=True)
    expected = expected.astype("string").drop_duplicates()
    expected = expected.sort_values(
        ["mdtrt_id", "rule_id", "field", "message_zh", "message_en"], kind="mergesort"
    ).reset_index(drop=True)[COLUMNS]
    got = check(sheet, pack)
    assert len(got) >= 4
    pd.testing.assert_frame_equal(got, expected)


def test_blank_text_is_the_stripped_text_being_empty_for_every_character() -> None:
    chars = [chr(i) for i in range(0x110000) if not 0xD800 <= i <= 0xDFFF]
    values = text([*chars, "", "  ", " \u3000 ", " a ", None, "-"])
    reference = values.isna().to_numpy() | truth(values.str.strip() == "").to_numpy()
    assert blank(values).tolist() == reference.tolist()
    assert blank(values).sum() > 30  # ASCII and Unicode spaces, the ideographic one among them


def test_arrow_booleans_convert_as_astype_boolean() -> None:
    flags = text(["1", None, "2", "1"])
    for compared in (flags != "1", flags == "1"):
        pd.testing.assert_series_equal(_boolean(compared), compared.astype("boolean"))
    rows = pd.DataFrame(
        {"maindiag_flag": text(["1", "1", None, "2"]), "adm_cond_type": text(["4", "1", "4", None])}
    )
    expression = compile_expression("maindiag_flag != '1' or adm_cond_type != '4'", "diseinfo")
    assert expression.fails(rows).tolist() == [True, False, False, False]
    assert expression.holds(rows).tolist() == [False, True, False, False]
