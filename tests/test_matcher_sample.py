"""Suggesting 医保版 2.0 codes for messy local names, on the sample lists shipped with hutong."""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pytest

from hutong.terminologies.codesystem import DIAGNOSIS, PROCEDURE, sample_code_system
from hutong.terminologies.matcher import COLUMNS, Candidate, Matcher


@cache
def diagnoses() -> Matcher:
    return Matcher(sample_code_system(DIAGNOSIS))


@cache
def procedures() -> Matcher:
    return Matcher(sample_code_system(PROCEDURE))


def first(name: str | None, code: str | None = None, matcher: Matcher | None = None) -> Candidate:
    return (matcher or diagnoses()).suggest(name, code)[0]


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("冠心病", "I25.103"),  # abbreviation
        ("脑梗", "I63.900"),
        ("急性前壁心梗", "I21.001"),
        ("2型糖尿病伴肾病", "E11.201+N08.3*"),  # combination → combination code
        ("Ⅱ型糖尿病", "E11.900"),
        ("高血压3级极高危", "I10.x05"),  # risk stratum is not coded
        ("高血压病Ⅲ级（很高危）", "I10.x05"),
        ("慢阻肺急性加重", "J44.100"),
        ("ＣＯＰＤ急性加重", "J44.100"),  # full-width English
        ("冠狀動脈粥樣硬化性心臟病", "I25.103"),  # traditional
        ("冠状动脉粥样硬化心脏病", "I25.103"),  # a character missing
        ("冠心并", "I25.103"),  # homophone typo
        ("pneumonia", "J18.900"),  # English
        ("gxy", "I10.x00x002"),  # pinyin initials
        ("早产儿（胎龄33+2周）", "P07.300x021"),  # a number inside the code's range
    ],
)
def test_messy_diagnosis_names(name: str, code: str) -> None:
    assert first(name).code == code


@pytest.mark.parametrize(
    ("name", "code"),
    [("LC", "51.2300"), ("TURP", "60.2902"), ("剖宫产", "74.1x01"), ("剖腹產", "74.1x01")],
)
def test_messy_procedure_names(name: str, code: str) -> None:
    assert first(name, matcher=procedures()).code == code


def test_why_explains_every_suggestion() -> None:
    top = first("冠心病")
    assert "冠心病→冠状动脉粥样硬化性心脏病" in top.why and "same name" in top.why
    for candidate in diagnoses().suggest("慢阻肺急性加重", top=5):
        assert candidate.why and 0 <= candidate.score <= 100


def test_exact_national_name_scores_100() -> None:
    assert first("肺炎") == Candidate("J18.900", "肺炎", 100.0, "名称一致 same name")


def test_uncertainty_is_matched_and_flagged() -> None:
    top = first("肺炎？")
    assert top.code == "J18.900" and "uncertain: ?" in top.why
    assert "待查" in first("发热待查").why


def test_a_local_code_that_is_a_national_code_wins() -> None:
    top = first("高血压病", "I10.x05")
    assert top.code == "I10.x05" and "exact code" in top.why and top.score == 100
    assert first("高血压病", "ｉ１０．ｘ０５").code == "I10.x05"  # full-width, lower case
    assert first(None, "I25.103").code == "I25.103"  # no name: the code alone


def test_a_code_prefix_is_a_hint() -> None:
    # 胆囊炎 alone fits several codes; K80.1 says: with gallstones.
    top = first("胆囊炎", "K80.1")
    assert top.code.startswith("K80.1") and "code hint" in top.why
    assert first("胆囊炎", "XB0012").why.count("code hint") == 0  # a hospital's own code


def test_learned_mappings_win() -> None:
    matcher = Matcher(
        sample_code_system(DIAGNOSIS), learned={"心口痛": "I20.000", "肺炎": "J18.000"}
    )
    assert first("心口痛", matcher=matcher).code == "I20.000"
    top = first("肺炎", matcher=matcher)  # even over an exact national name
    assert top.code == "J18.000" and "learned" in top.why and top.score == 100
    assert first("心口 痛", matcher=matcher).code == "I20.000"  # learned names are normalised


def test_learned_codes_not_in_the_list_are_ignored() -> None:
    matcher = Matcher(sample_code_system(DIAGNOSIS), learned={"肺炎": "Z99.999"})
    assert first("肺炎", matcher=matcher).code == "J18.900"


@pytest.mark.parametrize(
    ("name", "gray"), [("新生儿黄疸", "P59.900"), ("支气管或肺恶性肿瘤", "C34.900")]
)
def test_a_gray_parent_ranks_below_its_best_child(name: str, gray: str) -> None:
    codes = [c.code for c in diagnoses().suggest(name)]
    system = sample_code_system(DIAGNOSIS)
    assert system.concepts[gray].gray and gray in codes
    assert system.concepts[codes[0]].parent == gray  # a child that can be uploaded comes first
    assert "gray" in diagnoses().suggest(name)[codes.index(gray)].why


def test_output_is_deterministic() -> None:
    runs = [
        Matcher(sample_code_system(DIAGNOSIS)).suggest("急性心肌梗死", top=10) for _ in range(2)
    ]
    assert runs[0] == runs[1]
    scores = [c.score for c in runs[0]]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("name", [None, "", "   ", float("nan")])
def test_no_name_no_code_gives_nothing(name: object) -> None:
    assert diagnoses().suggest(name) == []  # type: ignore[arg-type]


def test_suggest_many_one_row_per_candidate_with_extra_columns_kept() -> None:
    terms = pd.DataFrame(
        {
            "local_code": ["ZD0001", None, "I10.x05", None],
            "local_name": ["冠心病", "脑梗", "高血压病", None],
            "ward": ["心内", "神内", "心内", "急诊"],
        },
        index=[10, 11, 12, 13],
    )
    out = diagnoses().suggest_many(terms, top=3)
    assert list(out.columns) == [*COLUMNS, "ward"]
    assert list(out["local_name"].drop_duplicates()) == [
        "冠心病",
        "脑梗",
        "高血压病",
    ]  # input order
    assert out.groupby("local_name", sort=False)["rank"].apply(list).tolist() == [[1, 2, 3]] * 3
    first_rows = out[out["rank"] == 1].set_index("local_name")
    assert first_rows.loc["冠心病", "code"] == "I25.103"
    assert first_rows.loc["高血压病", "code"] == "I10.x05"
    assert first_rows.loc["脑梗", "ward"] == "神内"
    assert out["why"].str.len().min() > 0


def test_suggest_many_without_local_code_and_with_nan() -> None:
    terms = pd.DataFrame({"local_name": ["肺炎", np.nan]})
    out = diagnoses().suggest_many(terms, top=2)
    assert out["local_name"].tolist() == ["肺炎", "肺炎"] and out["local_code"].isna().all()
    assert diagnoses().suggest_many(terms.iloc[1:], top=2).empty


def test_suggest_many_matches_suggest() -> None:
    names = ["冠心病", "慢阻肺急性加重", "肺炎?", "2型糖尿病伴肾病"]
    out = diagnoses().suggest_many(pd.DataFrame({"local_name": names}), top=2)
    for name in names:
        one = [(c.code, c.score, c.why) for c in diagnoses().suggest(name, top=2)]
        rows = out[out["local_name"] == name]
        assert list(zip(rows["code"], rows["score"], rows["why"], strict=True)) == one
