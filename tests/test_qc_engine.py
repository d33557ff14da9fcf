"""The rule engine: pack loading and validation, parameters, ordering, nulls, CSV output."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from hutong.quality import COLUMNS, check, load_pack, parse_pack, write_findings
from hutong.quality.expression import compile_expression
from qc_cases import MAIN_DX, OTHER_DX, STENT, case, combine, facesheet, rule_ids

HEAD = '[pack]\nname = "t"\nversion = "1"\nsource = "test"\n'
RULE = """
[[rule]]
id = "T-01"
severity = "error"
node = "setlinfo"
fields = ["adm_time", "dscg_time"]
source = "test"
message_zh = "入院晚于出院"
message_en = "admission after discharge"
check = "adm_time <= dscg_time"
"""


def edited(old: str, new: str) -> bytes:
    assert old in RULE
    return (HEAD + RULE.replace(old, new)).encode()


# ---- loading -----------------------------------------------------------------------------


def test_builtin_pack_exposes_name_version_source_and_rules() -> None:
    pack = load_pack("nhsa-settlement")
    assert (pack.name, pack.version) == ("nhsa-settlement", "1.0.0")
    assert "医保办发〔2020〕20号" in pack.source
    assert len(pack.rules) >= 22
    assert len(pack.sha256) == 64
    manifest = json.loads(json.dumps(pack.manifest(), ensure_ascii=False))
    assert [r["id"] for r in manifest["rules"]] == [r.id for r in pack.rules]
    assert manifest["rules"][0]["source"]


def test_every_builtin_rule_cites_a_source_and_both_messages() -> None:
    for rule in load_pack("nhsa-settlement").rules:
        assert rule.source.strip() and rule.message_zh.strip() and rule.message_en.strip()


def test_builtin_pack_file_starts_with_its_source() -> None:
    path = Path(__file__).parents[1] / "src/hutong/quality/rules/nhsa-settlement.toml"
    assert path.read_text("utf-8").startswith("# source: ")


def test_pack_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_bytes((HEAD + RULE).encode())
    pack = load_pack(path)
    assert [r.id for r in pack.rules] == ["T-01"]
    late = facesheet(setlinfo={"adm_time": "2025-03-09 08:00:00"})
    assert rule_ids(check(late, pack=str(path))) == {"T-01"}


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        ('severity = "error"', 'severity = "fatal"', "unknown severity 'fatal'"),
        ('node = "setlinfo"', 'node = "patient"', "unknown node 'patient'"),
        ('check = "adm_time <= dscg_time"', 'kind = "magic"', "unknown kind 'magic'"),
        ('fields = ["adm_time", "dscg_time"]', 'fields = ["adm_tim"]', "unknown field 'adm_tim'"),
        ("adm_time <= dscg_time", "adm_time <=", "invalid check expression"),
        ("adm_time <= dscg_time", "adm_tme <= dscg_time", "unknown field 'adm_tme'"),
        ("adm_time <= dscg_time", "__import__('os').system('true')", "unknown function"),
        ("adm_time <= dscg_time", "adm_time.year > 2000", "Attribute is not allowed"),
        ("adm_time <= dscg_time", "date(psn_name) <= dscg_time", "does not evaluate"),
        ('fields = ["adm_time", "dscg_time"]', 'fields = ["adm_time"]', "does not list"),
        ('source = "test"', 'sourse = "test"', "unknown key(s) ['sourse']"),
        ('message_en = "admission after discharge"\n', "", "missing 'message_en'"),
        (
            'check = "adm_time <= dscg_time"',
            'check = "adm_time <= dscg_time"\nkind = "required"',
            "exactly one of",
        ),
    ],
)
def test_bad_rule_is_refused_at_load_naming_the_rule(old: str, new: str, says: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_pack(edited(old, new), "bad.toml")
    assert "bad.toml: rule T-01" in str(err.value)
    assert says in str(err.value)


LOS_FIELDS = 'fields = ["act_ipt_days", "adm_time", "dscg_time"]'
DX_FIELDS = 'node = "diseinfo"\nfields = ["diag_code"]'


@pytest.mark.parametrize(
    ("kind_lines", "says"),
    [
        ('kind = "required"\nparams = { when = "x" }', "has no parameter(s) ['when']"),
        ('kind = "required_if"', "needs params ['when']"),
        ('kind = "required_if"\nparams = { when = "gend ==" }', "cannot parse"),
        ('kind = "in_valueset"\nparams = { valueset = "colour" }', "no value set 'colour'"),
        ('kind = "los"', "kind 'los' takes 3 field(s), got 2"),
        (f'kind = "los"\n{LOS_FIELDS}\nparams = {{ same_day_los = 2 }}', "must be 0 or 1"),
        (
            f'kind = "main_needs_other"\n{DX_FIELDS}\n'
            'params = { main = ["S00-"], other = ["V01"] }',
            "bad ICD-10 category range 'S00-'",
        ),
    ],
)
def test_bad_kind_parameters_are_refused(kind_lines: str, says: str) -> None:
    rule = RULE.replace('check = "adm_time <= dscg_time"', kind_lines)
    if "fields = " in kind_lines:
        rule = rule.replace('fields = ["adm_time", "dscg_time"]\n', "")
    if "node = " in kind_lines:
        rule = rule.replace('node = "setlinfo"\n', "")
    with pytest.raises(ValueError, match="rule T-01") as err:
        parse_pack((HEAD + rule).encode(), "bad.toml")
    assert says in str(err.value)


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        ("dscg_way != 5", "dscg_way is text: quote the value ('5')"),
        ("dscg_way in ['2', 3]", "dscg_way is text"),
        ("act_ipt_days > '3'", "act_ipt_days is a number: write 3 without quotes"),
    ],
)
def test_code_compared_with_wrong_type_is_refused(expression: str, says: str) -> None:
    rule = RULE.replace('["adm_time", "dscg_time"]', '["dscg_way", "act_ipt_days"]')
    rule = rule.replace("adm_time <= dscg_time", expression)
    with pytest.raises(ValueError, match="rule T-01") as err:
        parse_pack((HEAD + rule).encode(), "bad.toml")
    assert says in str(err.value)


def test_the_empty_node_a_rule_is_dry_run_on_has_the_face_sheet_types() -> None:
    """Made once per node and copied: a dry run that changed its frame changes no other."""
    from hutong.mapping.facesheet import columns
    from hutong.quality.expression import empty_node

    frame = empty_node("setlinfo")
    assert list(frame.columns) == columns("setlinfo") and len(frame) == 0
    kinds = {c: str(t) for c, t in frame.dtypes.items()}
    assert kinds["adm_time"] == "datetime64[ns]" and kinds["act_ipt_days"] == "Float64"
    assert kinds["dscg_way"] == "string"
    frame["dscg_way"] = pd.Series(dtype="Float64")
    assert str(empty_node("setlinfo")["dscg_way"].dtype) == "string"


def test_duplicate_rule_id_is_refused() -> None:
    with pytest.raises(ValueError, match=r"rule T-01: duplicate rule id 'T-01'"):
        parse_pack((HEAD + RULE + RULE).encode(), "dup.toml")


def test_pack_without_pack_table_or_rules_is_refused() -> None:
    with pytest.raises(ValueError, match=r"missing \[pack\]"):
        parse_pack(RULE.encode(), "x.toml")
    with pytest.raises(ValueError, match=r"no \[\[rule\]\]"):
        parse_pack(HEAD.encode(), "x.toml")
    with pytest.raises(ValueError, match="not a readable TOML"):
        parse_pack(b"[pack\n", "x.toml")


def test_unknown_pack_name_lists_the_builtin_ones() -> None:
    with pytest.raises(ValueError, match="built-in: nhsa-settlement"):
        load_pack("nhsa-settlment")
    with pytest.raises(ValueError, match="no such rule pack file"):
        load_pack("missing/pack.toml")


# ---- running -----------------------------------------------------------------------------


def test_findings_have_exactly_the_documented_columns() -> None:
    assert list(check(facesheet()).columns) == COLUMNS
    broken = check(facesheet(setlinfo={"gend": "3"}))
    assert list(broken.columns) == COLUMNS
    assert broken.loc[0, ["mdtrt_id", "rule_id", "severity", "field"]].tolist() == [
        "ZY2025000123",
        "SL-DOM-01",
        "error",
        "gend",
    ]


def test_findings_are_sorted_and_repeatable() -> None:
    sheets = [
        case("ZY3", setlinfo={"gend": "3", "act_ipt_days": 9}),
        case("ZY1", setlinfo={"psn_name": None, "hi_type": "7"}),
        case("ZY2", diseinfo=[{**MAIN_DX, "adm_cond_type": "4"}, OTHER_DX]),
    ]
    forward = check(combine(*sheets))
    backward = check(combine(*reversed(sheets)))
    pd.testing.assert_frame_equal(forward, backward)
    keys = list(zip(forward["mdtrt_id"], forward["rule_id"], forward["field"], strict=True))
    assert keys == sorted(keys)
    assert forward["mdtrt_id"].tolist()[0] == "ZY1"


def test_same_day_stay_counts_one_day_unless_configured() -> None:
    def same_day(days: int):
        return facesheet(
            setlinfo={"dscg_time": "2025-03-03 17:00:00", "act_ipt_days": days},
            oprninfo=[{**STENT, "oprn_oprt_date": "2025-03-03 11:00:00"}],
        )

    assert check(same_day(1)).empty
    assert rule_ids(check(same_day(0))) == {"SL-LOS-01"}
    assert check(same_day(0), params={"same_day_los": 0}).empty
    assert rule_ids(check(same_day(1), params={"same_day_los": 0})) == {"SL-LOS-01"}


def test_length_of_stay_counts_dates_not_hours() -> None:
    # 23:50 -> 00:10 two days later is 2 days though under 25 hours
    sheet = facesheet(
        setlinfo={
            "adm_time": "2025-03-03 23:50:00",
            "dscg_time": "2025-03-05 00:10:00",
            "act_ipt_days": 2,
        }
    )
    assert check(sheet).empty


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown rule parameter 'same_day'"):
        check(facesheet(), params={"same_day": 0})
    with pytest.raises(ValueError, match="same_day_los must be 0 or 1"):
        check(facesheet(), params={"same_day_los": 2})
    with pytest.raises(ValueError, match="is an expression"):
        check(facesheet(), params={"when": "gend == '1'"})


def test_missing_values_only_fire_required_rules() -> None:
    sheet = facesheet(
        setlinfo={"adm_time": None, "dscg_way": None, "age": None, "certno": None},
        diseinfo=[{**MAIN_DX, "adm_cond_type": None}, OTHER_DX],
    )
    findings = check(sheet)
    assert rule_ids(findings) == {"SL-REQ-01"}
    assert sorted(findings["field"]) == ["adm_time", "dscg_way"]


def test_case_without_key_is_reported_without_key() -> None:
    findings = check(facesheet(setlinfo={"mdtrt_id": None}))
    required = findings[findings["rule_id"] == "SL-REQ-01"]
    assert required["field"].tolist() == ["mdtrt_id"]
    assert required["mdtrt_id"].isna().all()


def test_a_batch_reports_each_case_separately() -> None:
    sheet = combine(
        case("ZY1"),
        case("ZY2", setlinfo={"dscg_way": "2"}),
        case("ZY3", iteminfo=[]),
    )
    findings = check(sheet)
    assert findings[["mdtrt_id", "rule_id"]].values.tolist() == [
        ["ZY2", "SL-DSC-02"],
        ["ZY3", "SL-FEE-02"],
    ]


def test_expression_null_semantics() -> None:
    frame = pd.DataFrame(
        {
            "mdtrt_id": pd.Series(["a", "b", "c"], dtype="string"),
            "dscg_way": pd.Series(["2", None, "1"], dtype="string"),
        }
    )
    expr = compile_expression("dscg_way in ['2', '3']", "setlinfo")
    assert expr.holds(frame).tolist() == [True, False, False]
    assert expr.fails(frame).tolist() == [False, False, True]


def test_write_findings_is_utf8_bom_with_unix_newlines(tmp_path: Path) -> None:
    findings = check(facesheet(setlinfo={"gend": "3", "hi_type": "7"}))
    path = write_findings(findings, tmp_path / "out" / "findings.csv")
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfmdtrt_id,rule_id,severity,field,message_zh,message_en\n")
    assert b"\r" not in data
    assert "性别代码不在 GB/T 2261.1 值域内（3）" in data.decode("utf-8-sig")
    back = pd.read_csv(path, dtype=str, encoding="utf-8-sig")
    assert back["rule_id"].tolist() == ["SL-DOM-01", "SL-DOM-05"]


def test_expression_functions_and_chained_comparisons() -> None:
    sheet = facesheet()
    setl = sheet.setlinfo
    stay = compile_expression("days(date(dscg_time) - date(adm_time)) == act_ipt_days", "setlinfo")
    assert stay.holds(setl).tolist() == [True]
    assert compile_expression("0 <= age - 60 < 1", "setlinfo").holds(setl).tolist() == [True]
    assert compile_expression("length(certno) == 18", "setlinfo").holds(setl).tolist() == [True]
    dx = sheet.diseinfo
    heart = compile_expression(
        "startswith(diag_code, 'I25') or endswith(diag_code, '*')", "diseinfo"
    )
    assert heart.holds(dx).tolist() == [True, False]
    not_x = compile_expression("not contains(diag_code, 'x')", "diseinfo")
    assert not_x.holds(dx).tolist() == [True, False]
