"""DIP catalog and parameter files: what loads, and what each kind of bad line says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hutong.quality.dip import DipCatalogError, load_catalog, sample_catalog
from hutong.quality.dip.catalog import parse_procedures

HEADER = "dip_code,kind,dx,procedures,treatment,name,base_score,avg_cost"
GOOD = [
    "K1,core,K80.1,51.2300,,胆囊结石伴胆囊炎：腹腔镜胆囊切除,1000,12000",
    "K2,core,K80.1,,,胆囊结石伴胆囊炎：保守治疗,400,5000",
    "K3,integrated,K80,,相关手术,胆石症：相关手术,900,11000",
    "K4,integrated,K80-K87,,保守治疗,胆囊疾病：保守治疗,300,",
]


def write(folder: Path, rows: list[str], header: str = HEADER, params: str | None = None):
    path = folder / "catalog.csv"
    path.write_text("\n".join(["# source: test", header, *rows]) + "\n", encoding="utf-8")
    if params is None:
        return path, None
    toml = folder / "params.toml"
    toml.write_text(params, encoding="utf-8")
    return path, toml


def test_a_good_catalog_loads_and_is_indexed(tmp_path):
    path, toml = write(tmp_path, GOOD, params="[scoring]\npoint_value = 10.5\n")
    catalog = load_catalog(path, toml)
    assert len(catalog) == 4
    assert [g.dip_code for g in catalog.core["K80.1"]] == ["K1", "K2"]
    assert catalog.integrated[("K80", "相关手术")].dip_code == "K3"
    assert [g.dip_code for g in catalog.ranges] == ["K4"]
    assert catalog.groups["K4"].avg_cost is None and catalog.groups["K1"].avg_cost == 12000
    # the user TOML overrides one key; the rest are the STANDARDS §5 defaults
    assert catalog.params.point_value == 10.5
    assert (catalog.params.high, catalog.params.low) == (2.0, 0.5)
    assert catalog.params.hospital_coefficient == 1.0


def test_without_params_there_is_no_point_value(tmp_path):
    path, _ = write(tmp_path, GOOD)
    assert load_catalog(path).params.point_value is None


def test_bom_blank_lines_and_extra_columns_are_fine(tmp_path):
    path = tmp_path / "c.csv"
    text = f"# source: x\n\n{HEADER},note\n" + "\n".join(r + ",备注" for r in GOOD) + "\n"
    path.write_text(text, encoding="utf-8-sig")
    assert len(load_catalog(path)) == 4


@pytest.mark.parametrize(
    ("row", "field"),
    [
        (",core,K80.1,51.2300,,x,1,1", "dip_code"),
        ("X1,basic,K80.1,51.2300,,x,1,1", "kind"),
        ("X1,core,K80,51.2300,,x,1,1", "dx"),
        ("X1,core,K80.100x001,51.2300,,x,1,1", "dx"),
        ("X1,core,K80.1,51.23AB,,x,1,1", "procedures"),
        ("X1,core,K80.1,51.2300++51.2200,,x,1,1", "procedures"),
        ("X1,core,K80.1,51.2300/,,x,1,1", "procedures"),
        ("X1,core,K80.1,51.2300,相关手术,x,1,1", "treatment"),
        ("X1,integrated,K80.1,,相关手术,x,1,1", "dx"),
        ("X1,integrated,K87-K80,,相关手术,x,1,1", "dx"),
        ("X1,integrated,K80,51.2300,相关手术,x,1,1", "procedures"),
        ("X1,integrated,K80,,手术,x,1,1", "treatment"),
        ("X1,integrated,K80,,,x,1,1", "treatment"),
        ("X1,core,K80.1,51.2300,,x,abc,1", "base_score"),
        ("X1,core,K80.1,51.2300,,x,0,1", "base_score"),
        ("X1,core,K80.1,51.2300,,x,,1", "base_score"),
        ("X1,core,K80.1,51.2300,,x,1,-5", "avg_cost"),
        ("K1,core,K80.2,51.2300,,x,1,1", "dip_code"),  # duplicate code of line 3
        ("X1,core,K80.1,51.2300,,x,1,1", "procedures"),  # same key as K1
        ("X1,integrated,K80,,相关手术,x,1,1", "treatment"),  # same key as K3
        ("X1,integrated,K80-K87,,保守治疗,x,1,1", "treatment"),  # same key as K4
    ],
)
def test_each_bad_line_names_file_line_and_field(tmp_path, row, field):
    path, _ = write(tmp_path, [*GOOD, row])
    with pytest.raises(DipCatalogError) as err:
        load_catalog(path)
    message = str(err.value)
    assert message.startswith(f"{path}:7: {field}: "), message  # comment, header, 4 rows → 7
    assert re.search(r"[\u4e00-\u9fff]", message)  # bilingual


def test_file_level_errors(tmp_path):
    with pytest.raises(DipCatalogError, match="no such catalog file"):
        load_catalog(tmp_path / "absent.csv")
    path, _ = write(tmp_path, GOOD, header="dip_code,kind,dx,procedures,name,base_score,avg_cost")
    with pytest.raises(DipCatalogError, match=r"catalog.csv:2: treatment: missing column"):
        load_catalog(path)
    path, _ = write(tmp_path, [*GOOD, "K9,core,K80.1"])
    with pytest.raises(DipCatalogError, match=r"catalog.csv:7: 3 fields, header has 8"):
        load_catalog(path)
    path, _ = write(tmp_path, [])
    with pytest.raises(DipCatalogError, match="no groups"):
        load_catalog(path)
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes(("\n".join([HEADER, *GOOD]) + "\n").encode("gbk"))
    with pytest.raises(DipCatalogError, match="not UTF-8"):
        load_catalog(gbk)


@pytest.mark.parametrize(
    ("toml", "says"),
    [
        ("[scoring]\npoint_value = 'ten'\n", "scoring.point_value must be a number"),
        ("[scoring]\nhospital_coefficient = 0\n", "hospital_coefficient must be > 0"),
        ("[scoring]\npoint = 1\n", "unknown key scoring.point"),
        ("[bonus]\nx = 1\n", "unknown table [bonus]"),
        ("[outliers]\nhigh = 0.9\n", "low < 1 < high"),
        ("[procedure_classes]\n'相关手术' = ['01.00-86']\n", "bad range"),
        ("[procedure_classes]\n'相关手术' = ['86.99-01.00']\n", "bad range"),
        ("[procedure_classes]\n'手术' = ['01.00-86.99']\n", "unknown procedure class"),
        ("[procedure_codes]\n'ABC' = '相关手术'\n", "not an ICD-9-CM-3 code"),
        ("[scoring\n", "not valid TOML"),
    ],
)
def test_bad_parameters_name_the_file_and_key(tmp_path, toml, says):
    path, params = write(tmp_path, GOOD, params=toml)
    with pytest.raises(DipCatalogError) as err:
        load_catalog(path, params)
    assert str(err.value).startswith(str(params)) and says in str(err.value)


def test_plus_binds_looser_than_slash():
    assert parse_procedures("51.2300+51.2200/51.2301") == (
        frozenset({"51.2300"}),
        frozenset({"51.2200", "51.2301"}),
    )
    assert parse_procedures("51.2300/51.2200") == (frozenset({"51.2300", "51.2200"}),)
    assert parse_procedures("") == () == parse_procedures("保守治疗")


def _codes(path: Path) -> list[str]:
    return [line.split(" ", 1)[0] for line in path.read_text("utf-8").splitlines() if line]


def test_sample_catalog_codes_exist_in_the_yb_2_0_lists(reference):
    dx = _codes(reference / "icd10-yb-2.0.txt")
    px = set(_codes(reference / "icd9cm3-yb-2.0.txt"))
    catalog = sample_catalog()
    prefixes = set()
    for group in catalog.groups.values():
        prefixes.update([group.dx] if group.kind == "core" else group.category_range)
        assert group.codes <= px, (group.dip_code, group.codes - px)
    missing = {p for p in prefixes if not any(code.startswith(p) for code in dx)}
    assert not missing
    assert set(catalog.params.codes) <= px
    assert catalog.params.point_value is not None  # the sample shows payments


def test_sample_catalog_says_it_is_illustrative():
    first = sample_catalog().path.read_text("utf-8").splitlines()[0]
    assert first.startswith("# source:") and "NOT an official" in first
