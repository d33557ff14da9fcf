"""One spelling for Chinese clinical terms: what normalise folds away and what it must keep."""

from __future__ import annotations

import pytest

from hutong.terminologies.normalise import (
    bare,
    homophone,
    initials,
    normalise,
    split_qualifiers,
)


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("ＣＯＰＤ急性加重", "copd急性加重"),  # full-width letters
        ("２型糖尿病", "2型糖尿病"),  # full-width digits
        ("腦梗塞", "脑梗塞"),  # traditional
        ("冠狀動脈粥樣硬化性心臟病", "冠状动脉粥样硬化性心脏病"),
        ("Ⅱ型糖尿病", "2型糖尿病"),  # Unicode Roman numeral
        ("II型糖尿病", "2型糖尿病"),  # Latin Roman numeral
        ("二型糖尿病", "2型糖尿病"),  # Chinese numeral
        ("ⅱ型呼吸衰竭", "2型呼吸衰竭"),  # small Roman numeral
        ("Ⅲ度房室传导阻滞", "3度房室传导阻滞"),
        ("三度烧伤", "3度烧伤"),
        ("高血压三级", "高血压3级"),
        ("慢性肾脏病四期", "慢性肾脏病4期"),
        ("心功能Ⅱ--Ⅲ级", "心功能2-3级"),  # a range of grades
        ("Ⅱ°房室传导阻滞", "2度房室传导阻滞"),
        ("IIa型高脂血症", "2a型高脂血症"),
        ("KillipIII级", "killip3级"),
    ],
)
def test_spelling_variants_meet(written: str, expected: str) -> None:
    assert normalise(written) == expected


@pytest.mark.parametrize(
    "term",
    ["二尖瓣狭窄", "十二指肠溃疡", "三叉神经痛", "一过性黑蒙", "X线检查", "HIV感染", "单一型"],
)
def test_numerals_inside_words_are_left_alone(term: str) -> None:
    assert normalise(term) == term.lower()


def test_brackets_separators_and_spaces_are_unified() -> None:
    assert normalise("特发性（原发性）高血压") == "特发性(原发性)高血压"
    assert (
        normalise("心房颤动［心房纤颤］")
        == normalise("心房颤动【心房纤颤】")
        == "心房颤动(心房纤颤)"
    )
    assert normalise("社区获得性肺炎，非重症") == "社区获得性肺炎,非重症"
    assert normalise("高血压；糖尿病、冠心病") == "高血压,糖尿病,冠心病"
    assert normalise("冠心病　 不稳定型心绞痛 ") == "冠心病不稳定型心绞痛"
    assert bare(normalise("社区获得性肺炎，非重症")) == "社区获得性肺炎非重症"


def test_empty_text_stays_empty() -> None:
    assert normalise("") == ""
    assert normalise("   ") == ""


def test_uncertainty_is_a_flag_not_silently_dropped() -> None:
    words = ("待查", "疑似", "?")
    assert normalise("肺炎？") == "肺炎?"  # normalise keeps it
    assert split_qualifiers("肺炎?", words) == ("肺炎", ("?",))
    assert split_qualifiers("发热(待查)", words) == ("发热", ("待查",))
    assert split_qualifiers("疑似肺结核", words) == ("肺结核", ("疑似",))
    assert split_qualifiers("待查", words) == ("待查", ())  # nothing left: keep the term


def test_pinyin_initials_for_search() -> None:
    assert initials("冠心病") == "gxb"
    assert initials("高血压") == "gxy"
    assert initials("2型糖尿病") == "2xtnb"


def test_homophone_typos_sound_the_same() -> None:
    assert homophone("冠心并") == homophone("冠心病")
    assert homophone("痛疯") == homophone("痛风")
    assert homophone("冠心病") != homophone("高血压")
