"""The HTML report: complete, escaped, self-contained and byte-for-byte repeatable."""

from __future__ import annotations

import re
from pathlib import Path

import lxml.html
import pandas as pd

from hutong.quality import check, load_pack, write_report
from hutong.quality.indicators import indicators
from hutong.quality.report import render_report
from hutong.quality.score import score_cases
from qc_cases import SETLINFO, facesheet, three_cases

PACK = load_pack("nhsa-settlement")


batch = three_cases


def extras(sheet, findings) -> dict:
    """Scores, indicators, a grouping, an impact row on ZY3 and a CMI table, built small."""
    scores = score_cases(sheet, findings)
    zy3 = findings[findings["mdtrt_id"] == "ZY3"].iloc[0]
    return {
        "scores": scores,
        "indicators": indicators(sheet, findings, scores),
        "groups": pd.DataFrame(
            {
                "mdtrt_id": ["ZY1", "ZY2", "ZY3"],
                "mdc": ["MDCF"] * 3,
                "adrg": ["FM1"] * 3,
                "drg": ["FM19", "FM19", "FM15"],
                "cc_status": ["none", "none", "cc"],
                "reason": ["", "", ""],
                "trace": [["MDC F: 主要诊断 I25.103"], [], ["ADRG FM1: 手术 36.0700", "CC: I10"]],
            }
        ),
        "impact": pd.DataFrame(
            {
                "mdtrt_id": ["ZY3"],
                "rule_id": [zy3["rule_id"]],
                "field": [zy3["field"]],
                "fix_zh": ["改主要诊断"],
                "fix_en": ["change the main diagnosis"],
                "drg_before": ["FM15"],
                "drg_after": ["FM13"],
                "weight_before": [1.1],
                "weight_after": [1.6],
                "weight_diff": [0.5],
                "amount": [7654.3],
            }
        ),
        "cmi": pd.DataFrame({"dept": ["A03.04"], "cases": [3], "cmi": [1.23456]}),
    }


def test_report_shows_totals_rules_and_cases(tmp_path: Path) -> None:
    sheet = batch()
    findings = check(sheet)
    html = write_report(sheet, findings, tmp_path / "report.html", PACK).read_text("utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert '<html lang="zh-CN">' in html and '<meta charset="utf-8">' in html
    for rule in PACK.rules:  # every rule of the pack is listed, fired or not
        assert f"<code>{rule.id}</code>" in html
    assert "医保办发〔2020〕20号 附件1 说明一 3" in html
    assert re.search(r"病例数 / cases</dt><dd>3</dd>", html)
    assert re.search(r"有错误的病例 / cases with errors</dt><dd>1</dd>", html)
    assert re.search(r"警告 / warning</dt><dd>1</dd>", html)
    # every case is in the table, worst first; the clean one last and without a detail link
    assert html.index('<a href="#case-ZY2">') < html.index('<a href="#case-ZY3">')
    assert html.index('<a href="#case-ZY3">') < html.index("<td>ZY1</td>")
    assert 'id="case-ZY1"' not in html and 'id="case-ZY2"' in html
    assert "<td>I25.103</td>" in html and "<td>BA0088123</td>" in html
    assert "SL-DOM-01, SL-LOS-01" in html
    # without scores, groups or impact those columns are left out
    assert "得分 / score</th>" not in html and "涉及金额" not in html


def test_full_report_ranks_by_money_and_shows_everything(tmp_path: Path) -> None:
    sheet = batch()
    findings = check(sheet)
    more = extras(sheet, findings)
    html = write_report(sheet, findings, tmp_path / "r.html", PACK, **more).read_text("utf-8")
    rules = html[html.index('<h2 id="rules">') : html.index('<h2 id="charts">')]
    first_rule = re.search(r"<tr><td><code>([^<]+)</code>", rules).group(1)
    assert first_rule == more["impact"].loc[0, "rule_id"]  # money before severity
    assert "7,654.30" in rules
    cases = html[html.index('<table id="case-table"') :]
    assert cases.index("#case-ZY3") < cases.index("#case-ZY2")  # money first here too
    assert html.count("<svg") == 4  # by rule, by department, by severity, score histogram
    assert "首页填报完整率" in html and "病案首页数据上传率" in html
    assert '<td class="n">1.2346</td>' in html  # CMI
    detail = html[html.index('id="case-ZY3"') :]
    detail = detail[: detail.index("</details>")]
    assert "ADRG FM1: 手术 36.0700" in detail and "FM15 → FM13" in detail
    assert "改主要诊断 / change the main diagnosis" in detail
    assert "36.0700" in detail and "冠状动脉粥样硬化性心脏病" in detail
    # face-sheet key fields without names or ID numbers
    assert SETLINFO["psn_name"] not in html and SETLINFO["certno"] not in html
    assert SETLINFO["coner_name"] not in html


def test_report_is_self_contained_and_parses(tmp_path: Path) -> None:
    sheet = batch()
    findings = check(sheet)
    html = write_report(
        sheet, findings, tmp_path / "r.html", PACK, **extras(sheet, findings)
    ).read_text("utf-8")
    assert "http://" not in html and "https://" not in html
    assert "<link" not in html and "<script src" not in html and "<img" not in html
    tree = lxml.html.fromstring(html)
    assert tree.find(".//table[@id='case-table']") is not None
    assert len(tree.findall(".//details")) == 2  # ZY2 and ZY3 have findings


def test_detail_limit_is_said_on_the_page() -> None:
    sheet = batch()
    html = render_report(sheet, check(sheet), PACK, detail_limit=1)
    assert html.count('<details class="case"') == 1
    assert "前 1 个（共 2 个）" in html and "the first 1 of 2" in html


def test_report_escapes_values(tmp_path: Path) -> None:
    evil = "<script>alert(1)</script>"
    sheet = facesheet(setlinfo={"medcasno": evil, "dscg_caty": "A&B", "gend": "3"})
    html = write_report(sheet, check(sheet), tmp_path / "r.html", PACK).read_text("utf-8")
    assert evil not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "A&amp;B" in html


def test_report_is_identical_twice(tmp_path: Path) -> None:
    sheet = batch()
    findings = check(sheet)
    first = write_report(
        sheet, findings, tmp_path / "a.html", PACK, title="测试", **extras(sheet, findings)
    ).read_bytes()
    again, found = batch(), check(batch())
    second = write_report(
        again, found, tmp_path / "b.html", PACK, title="测试", **extras(again, found)
    )
    assert first == second.read_bytes()
    assert b"\r\n" not in first


def test_report_of_a_clean_batch(tmp_path: Path) -> None:
    sheet = facesheet()
    html = write_report(sheet, check(sheet), tmp_path / "r.html").read_text("utf-8")
    assert "没有发现问题。 / No findings." in html
    assert "<details" not in html
