"""A tiny hand-made pack: the folder format of hutong.quality.drg.pack, loaded and grouped."""

from __future__ import annotations

import json

import pytest

from hutong.quality.drg import CaseInput, DrgPackError, group, load_pack

FILES = {
    "adrg.txt": "AA1 移植\nBB1 手术\nBR1 内科\n",
    "drg.tsv": "AA19\t移植\nBB11\t手术伴MCC\nBB15\t手术不伴\nBR13\t内科伴CC\nBR15\t内科不伴\n",
    "mdc_rules.json": [
        {"code": "MDCA", "name": "先期", "identifyingDiagnoses": []},
        {"code": "MDCB", "name": "神经", "identifyingDiagnoses": ["D1", "D2"]},
        {"code": "MDCZ", "name": "创伤", "mdczCategories": {"头": ["S1"], "胸": ["S2"]}},
    ],
    "adrg_rules.json": [
        {"code": "AA1", "rule": {"sections": {"主要手术或操作": ["P0"]}}},
        {"code": "BB1", "rule": {"sections": {"主要诊断": ["D1"], "主要手术或操作": ["P1"]}}},
        {"code": "BR1", "rule": {"sections": {"主要诊断": ["D1", "D2"]}}},
    ],
    "mcc_codes.json": {"M1": "7"},
    "cc_codes.json": {"C1": "7", "C2": "8"},
    "cce_codes.json": {"D1": "8", "D2": "9"},
    "zd_invalid.json": {"Z1": True},
    "ss_invalid.json": {"X1": True},
}


def write(folder, files=FILES):
    folder.mkdir()
    for name, body in files.items():
        text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_tiny_pack_loads_and_groups(tmp_path):
    pack = load_pack(write(tmp_path / "tiny-1.0"))
    assert pack.name == pack.version == "tiny-1.0"
    assert pack.mdc_of == {"D1": ("B",), "D2": ("B",)}
    assert pack.adrgs["BR1"].suffixes == frozenset("35")
    assert pack.or_procedures == frozenset({"P0", "P1"})  # AA1 is surgical too
    assert group(CaseInput("D1", principal_px="P1"), pack).drg == "BB15"
    assert group(CaseInput("D1", ("M1",), principal_px="P1"), pack).drg == "BB11"
    assert group(CaseInput("D2", ("M1",)), pack).drg == "BR13"  # MCC, no BR11: falls to 3
    assert group(CaseInput("D1", ("C2",)), pack).drg == "BR15"  # C2 shares D1's table 8
    assert group(CaseInput("D2", principal_px="P0"), pack).adrg == "AA1"
    assert group(CaseInput("D2", principal_px="P1"), pack).drg == "BQY"
    assert group(CaseInput("Z1"), pack).drg == "0000"


def test_missing_file_is_named(tmp_path):
    files = {k: v for k, v in FILES.items() if k != "cce_codes.json"}
    with pytest.raises(DrgPackError, match=r"cce_codes\.json"):
        load_pack(write(tmp_path / "broken", files))
