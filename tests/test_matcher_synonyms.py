"""The shipped abbreviations, synonyms and rewrite rules: data with sources, tried as spellings."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

import pytest

from hutong.terminologies.normalise import DIAGNOSIS, PROCEDURE, load_vocabulary

SYNONYMS = resources.files("hutong.terminologies").joinpath("data/synonyms.toml")


def spellings(term: str, kind: str = DIAGNOSIS) -> list[str]:
    return [s.text for s in load_vocabulary().expand(term, kind)]


def test_every_block_and_rule_says_where_it_comes_from() -> None:
    data = tomllib.loads(SYNONYMS.read_text(encoding="utf-8"))
    assert data["synonyms"] and data["rule"]
    for block in data["synonyms"]:
        assert block["source"].strip()
        assert block.get("applies", "any") in {"diagnosis", "procedure", "any"}
        assert block["terms"]
    for rule in data["rule"]:
        assert rule["source"].strip() and rule["id"] and rule["pattern"]
    assert data["qualifiers"]["source"].strip()


def test_vocabulary_loads_with_sources_per_kind() -> None:
    vocabulary = load_vocabulary()
    assert len(vocabulary.terms[DIAGNOSIS]) >= 150 and len(vocabulary.terms[PROCEDURE]) >= 50
    assert vocabulary.terms[DIAGNOSIS]["冠心病"] == ("冠状动脉粥样硬化性心脏病",)
    assert vocabulary.sources[DIAGNOSIS]["冠心病"].startswith("常用临床缩写")
    assert "lc" in vocabulary.terms[PROCEDURE]
    assert "?" in vocabulary.uncertain and "待查" in vocabulary.uncertain


def test_keys_are_normalised_like_the_names_they_meet() -> None:
    vocabulary = load_vocabulary()
    assert "copd" in vocabulary.terms[DIAGNOSIS]  # meets ＣＯＰＤ and COPD alike
    assert "前列腺" in vocabulary.terms[DIAGNOSIS]["摄护腺"]  # written 攝護腺 in the file


def test_abbreviations_expand_and_keep_the_name_as_typed() -> None:
    assert spellings("冠心病") == ["冠心病", "冠状动脉粥样硬化性心脏病"]
    assert spellings("脑梗")[:2] == ["脑梗", "脑梗死"]
    assert spellings("脑梗死") == ["脑梗死"]  # the long form is not expanded again
    assert "慢性肾衰竭" in spellings("慢性肾衰") and "慢性肾脏病" in spellings("慢性肾衰")


def test_latin_abbreviations_match_whole_words_only() -> None:
    assert "糖尿病" in spellings("dm")
    assert spellings("admission") == ["admission"]
    assert "2型糖尿病" in spellings("t2dm")


def test_rules_rewrite_grades_and_combinations() -> None:
    assert "高血压3级" in spellings("高血压病3级极高危")
    assert "2型糖尿病性肾病" in spellings("2型糖尿病伴肾病")
    assert "慢性阻塞性肺病伴有急性加重" in spellings("慢阻肺急性加重")
    assert "单侧腹股沟斜疝修补" not in spellings("右腹股沟斜疝修补")  # a procedure rule only
    assert "单侧腹股沟斜疝修补" in spellings("右腹股沟斜疝修补", PROCEDURE)


def test_pinyin_initials_and_homophones_reach_the_abbreviation() -> None:
    assert "冠状动脉粥样硬化性心脏病" in spellings("gxb")
    assert "冠状动脉粥样硬化性心脏病" in spellings("冠心并")


def test_a_block_without_source_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "synonyms.toml"
    path.write_text('[[synonyms]]\napplies = "diagnosis"\n[synonyms.terms]\n"a" = "b"\n', "utf-8")
    with pytest.raises(ValueError, match="source"):
        load_vocabulary(path)
