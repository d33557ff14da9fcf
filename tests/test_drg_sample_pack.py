"""The hand-made sample pack shipped with hutong: official format, real codes, one case per branch.

Expected groups are worked out by hand from the pack's own files (adrg_rules.json etc.).
"""

from __future__ import annotations

import csv
import json

import pytest

from hutong.quality.drg import CaseInput, group, load_pack, sample_pack_path
from hutong.quality.drg.pack import FILES

PACK = load_pack(sample_pack_path())


def run(principal, secondary=(), px=(), sex="1", **kw):
    kw.setdefault("age", 50)
    return group(
        CaseInput(
            principal,
            tuple(secondary),
            px[0] if px else None,
            tuple(px[1:]),
            sex=sex,
            **kw,
        ),
        PACK,
    )


def fired(r, adrg: str) -> str:
    lines = [t for t in r.trace if t.startswith(f"ADRG {adrg}: ") and "rule holds but" not in t]
    assert lines, r.trace
    return lines[0]


def test_sample_pack_has_the_official_layout():
    folder = sample_pack_path()
    assert {p.name for p in folder.iterdir()} >= {*FILES, "README.md", "weights.csv"}
    assert PACK.name == "sample-pack"
    readme = (folder / "README.md").read_text("utf-8")
    assert "NOT the official" in readme and "illustrative" in readme
    assert 30 <= len(PACK.adrgs) <= 80
    for adrg in PACK.adrgs.values():  # every ADRG has its DRGs and a rule that can fire
        assert adrg.suffixes and all(f"{adrg.code}{s}" in PACK.drg_names for s in adrg.suffixes)
        assert adrg.sections or adrg.any_procedure or adrg.zero_procedures


def test_sample_pack_codes_are_real_and_not_a_copy(reference):
    official = reference / "chs-drg-2.0"
    names = dict(
        line.split(" ", 1)
        for line in (official / "adrg.txt").read_text("utf-8").split("\n")
        if line
    )
    dx = {line.split(" ", 1)[0] for line in (reference / "icd10-yb-2.0.txt").open(encoding="utf-8")}
    px = {
        line.split(" ", 1)[0] for line in (reference / "icd9cm3-yb-2.0.txt").open(encoding="utf-8")
    }
    used_dx = {*PACK.mcc, *PACK.cc, *PACK.cce, *PACK.zd_invalid, *PACK.mdcy_codes, *PACK.mdc_of}
    used_dx |= set(PACK.trauma_of)
    used_px = set(PACK.ss_invalid)
    for adrg in PACK.adrgs.values():
        assert names[adrg.code] == adrg.name  # ADRG codes and names as in CHS-DRG 2.0
        for s in adrg.sections:
            (used_dx if s.kind == "dx" else used_px).update(s.codes)
            assert len(s.codes) <= 10, (adrg.code, s.name)  # a handful, picked by hand
    assert used_dx <= dx, sorted(used_dx - dx)
    assert used_px <= px, sorted(used_px - px)
    full = load_pack(official)
    full_codes = sum(len(s.codes) for a in full.adrgs.values() for s in a.sections)
    ours = sum(len(s.codes) for a in PACK.adrgs.values() for s in a.sections)
    assert ours < full_codes / 100
    # the exclusion-table ids are invented, none is an official one
    official_ids = {*full.mcc.values(), *full.cc.values(), *full.cce.values()}
    assert not official_ids & {*PACK.mcc.values(), *PACK.cc.values(), *PACK.cce.values()}


def test_weights_cover_every_drg():
    path = sample_pack_path() / "weights.csv"
    lines = path.read_text("utf-8").splitlines()
    assert lines[0].startswith("# source:") and "illustrative" in lines[0]
    rows = list(csv.DictReader(line for line in lines if not line.startswith("#")))
    assert list(rows[0]) == ["drg", "weight"]
    weights = {r["drg"]: float(r["weight"]) for r in rows}
    assert set(weights) == set(PACK.drg_names) and len(rows) == len(weights)
    assert all(w > 0 for w in weights.values())
    for adrg in ("BR1", "ES3"):  # a complication never lowers the weight
        assert weights[f"{adrg}1"] > weights[f"{adrg}3"] > weights[f"{adrg}5"]


def test_pre_mdc_a_by_procedure_and_logic():
    r = run("J18.900", px=("55.6901",))
    assert (r.mdc, r.drg) == ("A", "AE19")
    assert fired(r, "AE1") == "ADRG AE1: section 主要手术或操作 hit by 55.6901"
    r = run("J18.900", ("Z93.000",), px=("96.7201",))  # （其他诊断或手术或操作 1）+手术或操作 2
    assert r.drg == "AH29" and fired(r, "AH2").startswith("ADRG AH2: logic: ")
    r = run("J18.900", px=("31.1x00x005", "96.7201"))
    assert r.drg == "AH29"
    r = run("J18.900", px=("96.7201",))  # 手术或操作 2 alone does not hold
    assert r.adrg != "AH2" and r.drg == "EQY", r.trace  # …and 96.7201 is an AH2 (OR) procedure


@pytest.mark.parametrize(
    ("weight", "drg"), [(1200, "PS15"), (1800, "PS25"), (2200, "PS35"), (3000, "PS45")]
)
def test_pre_mdc_p_birth_weight(weight, drg):
    r = run("P07.300x011", age=0, age_days=5, birth_weight=weight)
    assert (r.mdc, r.drg) == ("P", drg), r.trace
    assert fired(r, drg[:3]) == f"ADRG {drg[:3]}: section 诊断 hit by P07.300x011"


def test_pre_mdc_p_age_and_ventilation():
    r = run("P59.901", age=0, age_days=3, birth_weight=3200)
    assert r.drg == "PU19" and fired(r, "PU1")
    r = run("P59.901", age=0, age_days=60)
    assert r.drg == "PV19" and "ADRG PU1: rule holds but age 60 d outside [0, 29)" in r.trace
    r = run("P07.300x021", ("J96.000",), px=("93.9001",), age=0, age_days=2, birth_weight=2100)
    assert r.drg == "PK11" and fired(r, "PK1")  # J96.000 is an MCC
    r = run("P07.300x021", ("P05.001",), px=("93.9001",), age=0, age_days=2, birth_weight=2100)
    assert r.drg == "PK15"  # P05.001 shares the newborn table p-nb with the principal
    assert run("P59.901", age=2).mdc != "P"  # not an infant: MDCP is not tried


def test_pre_mdc_y_and_z():
    r = run("B20.000x001")
    assert r.drg == "YR15" and fired(r, "YR1") == "ADRG YR1: section 诊断 hit by B20.000x001"
    r = run("B20.000x001", px=("51.2300",))
    assert r.drg == "YC15" and fired(r, "YC1") == "ADRG YC1: procedure 51.2300"
    r = run("S06.000", ("S22.400",))
    assert r.drg == "ZZ15" and "MDCZ: 头颈部创伤 by S06.000, 胸部创伤 by S22.400" in r.trace
    assert fired(r, "ZZ1") == "ADRG ZZ1: no qualifying procedure"
    r = run("S72.000", ("S06.000", "J96.000"), px=("79.3501",))
    assert r.drg == "ZJ11" and fired(r, "ZJ1")
    assert run("S06.000", ("S06.000",)).drg == "BY15"  # one region is no multiple trauma


def test_surgical_non_or_medical_and_qy():
    r = run("K35.300", px=("47.0901",))
    assert r.drg == "GE19" and "section 主要诊断 hit by K35.300" in fired(r, "GE1")
    assert run("K35.800x001", px=("47.0100",)).drg == "GE29"  # not in GE1's diagnoses
    r = run("I25.103", ("I10.x05",), px=("36.0700", "00.4000"))
    assert r.drg == "FM39" and "procedure 00.4000 ignored (ss_invalid)" in r.trace
    r = run("J18.900")
    assert r.drg == "ES35" and fired(r, "ES3") == "ADRG ES3: section 主要诊断 hit by J18.900"
    r = run("J18.900", px=("51.2300",))  # cholecystectomy with pneumonia
    assert r.drg == "EQY" and "QY: medical ES3 but OR procedure 51.2300 → EQY" in r.trace
    r = run("J44.100", px=("93.9000x002",))  # a procedure no surgical ADRG names: no QY
    assert r.drg == "ET25"


def test_suffixes_and_exclusion():
    assert run("J18.900", ("J96.000",)).drg == "ES31"
    assert run("J18.900", ("I48.000",)).drg == "ES33"
    r = run("J18.900", ("J18.200",))  # MCC of table e-pn, the principal's own table
    assert (r.drg, r.cc_status) == ("ES35", "none")
    assert "MCC: J18.200 excluded (table e-pn = principal table)" in r.trace
    r = run("I63.906", ("I69.300x002", "E66.900"))  # the stroke CC is excluded, obesity is not
    assert (
        r.drg == "BR13" and "CC: I69.300x002 excluded (table b-stroke = principal table)" in r.trace
    )
    r = run("I10.x05", ("J96.000",))  # FV2 splits 3/5 only: an MCC case goes to 3
    assert r.drg == "FV23" and r.cc_status == "MCC"
    assert run("S06.000", ("I48.000",)).drg == "BY15"  # BY1 splits 1/5: a CC is not enough
    assert run("H25.100", ("J96.000",)).drg == "CW19"  # not split


def test_sex_gates_logic_and_flags():
    assert run("N40.x00", px=("60.2902",)).drg == "MB19"
    r = run("N40.x00", sex="2")
    assert r.drg == "0000" and "sex" in r.reason
    assert run("D25.900", px=("68.4100",), sex="2").drg == "NC19"
    r = run("C50.900", px=("85.2100x003", "40.2300"), sex="2")  # 主要诊断+手术或操作 2+3
    assert r.drg == "JA29" and fired(r, "JA2").startswith("ADRG JA2: logic: ")
    r = run("C50.900", px=("85.2100x003",), sex="2")  # 3 missing
    assert r.adrg != "JA2" and r.drg == "JQY", r.trace
    r = run("A41.900", px=("99.2503",))
    assert r.drg == "SB15" and fired(r, "SB1") == "ADRG SB1: procedure 99.2503"
    r = run("O80.000", ("Z37.000x001",), px=("73.5900x002",), sex="2")
    assert r.drg == "OR19" and fired(r, "OR1") == "ADRG OR1: section 其他诊断 hit by Z37.000x001"


def test_mdc_rules_json_lists_all_26_mdcs():
    mdcs = json.loads((sample_pack_path() / "mdc_rules.json").read_text("utf-8"))
    assert [m["code"] for m in mdcs] == [f"MDC{c}" for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"]
    assert (
        set(mdcs[-1]["mdczCategories"]) == set(PACK.mdcz_categories)
        and len(mdcs[-1]["mdczCategories"]) == 9
    )
