"""Matching against the full national lists in ../shared/reference (skipped when absent)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from hutong.terminologies.codesystem import DIAGNOSIS, PROCEDURE, load_code_system
from hutong.terminologies.matcher import Matcher


@cache
def matcher(reference: Path, system_id: str) -> Matcher:
    return Matcher(load_code_system(system_id, reference / f"{system_id}.txt"))


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("冠心病", "I25.103"),
        ("脑梗", "I63.900"),
        ("腦梗塞", "I63.900"),
        ("高血压3级极高危", "I10.x05"),
        ("慢阻肺急性加重", "J44.100"),
        ("2型糖尿病伴肾病", "E11.201+N08.3*"),
        ("上感", "J06.900"),
        ("甲亢", "E05.900x001"),
        ("慢性肾衰", "N18.902"),
        ("ＣＯＰＤ", "J44.900"),
        ("pneumonia", "J18.900"),
        ("gxy", "I10.x00x002"),
        ("冠状动脉粥样硬化心脏病", "I25.103"),
    ],
)
def test_messy_diagnoses_on_the_full_list(reference: Path, name: str, code: str) -> None:
    assert matcher(reference, DIAGNOSIS).suggest(name)[0].code == code


@pytest.mark.parametrize(
    ("name", "code"),
    [("LC", "51.2300"), ("PICC置管", "38.9301"), ("剖宫产", "74.1x01"), ("全膝置换", "81.5400")],
)
def test_messy_procedures_on_the_full_list(reference: Path, name: str, code: str) -> None:
    assert matcher(reference, PROCEDURE).suggest(name)[0].code == code


def test_gray_codes_are_never_first_for_a_plain_name(reference: Path) -> None:
    diagnoses = matcher(reference, DIAGNOSIS)
    gray = diagnoses.system.gray
    for name in ["特发性高血压", "新生儿黄疸", "心房颤动和心房扑动", "胆囊结石伴有其他胆囊炎"]:
        assert diagnoses.suggest(name)[0].code not in gray, name
