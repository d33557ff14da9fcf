"""A tiny hand-made pack: the folder format of hutong.quality.drg.pack, loaded and grouped."""

from __future__ import annotations

import dataclasses
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


def test_a_loaded_pack_is_read_only_and_names_its_codes(tmp_path):
    """Grouping keeps what it works out from a pack (its named codes): a pack must not change
    under it."""
    pack = load_pack(write(tmp_path / "tiny-1.0"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        pack.mcc = {}
    dx, px = pack.named_codes
    assert {"D1", "D2", "M1", "C2"} <= dx and "P9" not in px
    assert {"P0", "P1"} <= px
    assert pack.named_codes is pack.named_codes  # worked out once


def test_missing_file_is_named(tmp_path):
    files = {k: v for k, v in FILES.items() if k != "cce_codes.json"}
    with pytest.raises(DrgPackError, match=r"cce_codes\.json"):
        load_pack(write(tmp_path / "broken", files))


def test_section_positions_in_a_tiny_pack(tmp_path):
    """主要 = first code only, 其他 = later codes only, neither = any position."""
    files = dict(FILES)
    files["adrg.txt"] = "BB1 手术\nBK1 操作\nBR1 内科甲\nBR2 内科乙\n"
    files["drg.tsv"] = "BB19\t手术\nBK19\t操作\nBR19\t内科甲\nBR29\t内科乙\n"
    files["adrg_rules.json"] = [
        {"code": "BB1", "rule": {"sections": {"主要诊断": ["D1"], "其他手术或操作": ["P1"]}}},
        {"code": "BK1", "rule": {"sections": {"手术或操作": ["P2"]}}},
        {"code": "BR1", "rule": {"sections": {"其他诊断": ["D1", "D2"]}}},
        {"code": "BR2", "rule": {"sections": {"主要诊断": ["D1", "D2"]}}},
    ]
    pack = load_pack(write(tmp_path / "positions", files))
    assert group(CaseInput("D1"), pack).adrg == "BR2"  # D1 as principal is not 其他诊断
    r = group(CaseInput("D2", ("D1",)), pack)
    assert r.adrg == "BR1" and "ADRG BR1: section 其他诊断 hit by D1" in r.trace
    assert group(CaseInput("D1", principal_px="P1"), pack).adrg == "BQY"  # P1 not 其他 here
    r = group(CaseInput("D1", principal_px="P3", other_px=("P1",)), pack)
    assert (
        r.adrg == "BB1"
        and "ADRG BB1: section 主要诊断 hit by D1, section 其他手术或操作 hit by P1" in r.trace
    )
    assert group(CaseInput("D2", principal_px="P2"), pack).adrg == "BK1"
    assert group(CaseInput("D2", principal_px="P3", other_px=("P2",)), pack).adrg == "BK1"


def test_referenced_adrgs_match_at_any_position(tmp_path):
    """CB2-style rule: the procedures of two referenced ADRGs, each may be principal or not."""
    files = dict(FILES)
    files["adrg.txt"] = "BB1 联合手术\nBB2 手术甲\nBB3 手术乙\nBR1 内科\n"
    files["drg.tsv"] = "BB19\t联合\nBB29\t甲\nBB39\t乙\nBR19\t内科\n"
    both = {"requiredReferencedADRGs": ["BB2", "BB3"], "referencedADRGs": ["BB2", "BB3"]}
    files["adrg_rules.json"] = [
        {"code": "BB1", "rule": {"sections": {}, **both}},
        {"code": "BB2", "rule": {"sections": {"主要手术或操作": ["P1"]}}},
        {"code": "BB3", "rule": {"sections": {"主要手术或操作": ["P2"]}}},
        {"code": "BR1", "rule": {"sections": {"主要诊断": ["D1", "D2"]}}},
    ]
    pack = load_pack(write(tmp_path / "referenced", files))
    assert pack.adrgs["BB1"].referenced_codes == (frozenset({"P1"}), frozenset({"P2"}))
    r = group(CaseInput("D1", principal_px="P2", other_px=("P1",)), pack)
    assert (
        r.drg == "BB19"
        and "ADRG BB1: BB2 procedures hit by P1, BB3 procedures hit by P2" in r.trace
    )
    assert group(CaseInput("D1", principal_px="P1"), pack).drg == "BB29"
    assert group(CaseInput("D1", principal_px="P2"), pack).drg == "BB39"
    files["adrg_rules.json"][0]["rule"]["referencedADRGs"] = ["BB9"]
    files["adrg_rules.json"][0]["rule"]["requiredReferencedADRGs"] = []
    with pytest.raises(DrgPackError, match="unknown ADRG BB9"):
        load_pack(write(tmp_path / "dangling", files))
