"""The HTML report: complete, escaped, self-contained and byte-for-byte repeatable."""

from __future__ import annotations

import re
from pathlib import Path

from hutong.quality import check, load_pack, write_report
from qc_cases import MAIN_DX, OTHER_DX, case, combine, facesheet

PACK = load_pack("nhsa-settlement")


def batch():
    return combine(
        case("ZY1"),
        case("ZY2", setlinfo={"gend": "3", "act_ipt_days": 9}),
        case("ZY3", diseinfo=[{**MAIN_DX, "adm_cond_type": "4"}, OTHER_DX]),
    )


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
    # worst case first: ZY2 has two errors, ZY3 one warning, ZY1 is clean and not listed
    assert html.index("<tr><td>ZY2</td>") < html.index("<tr><td>ZY3</td>")
    assert "<tr><td>ZY1</td>" not in html
    assert "<td>I25.103</td>" in html and "<td>BA0088123</td>" in html
    assert "SL-DOM-01, SL-LOS-01" in html


def test_report_is_self_contained(tmp_path: Path) -> None:
    sheet = batch()
    html = write_report(sheet, check(sheet), tmp_path / "r.html", PACK).read_text("utf-8")
    assert "<script" not in html
    assert "http://" not in html and "https://" not in html
    assert "<link" not in html


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
    first = write_report(sheet, findings, tmp_path / "a.html", PACK, title="测试").read_bytes()
    second = write_report(batch(), check(batch()), tmp_path / "b.html", PACK, title="测试")
    assert first == second.read_bytes()
    assert b"\r\n" not in first


def test_report_of_a_clean_batch(tmp_path: Path) -> None:
    sheet = facesheet()
    html = write_report(sheet, check(sheet), tmp_path / "r.html").read_text("utf-8")
    assert "没有发现问题。 / No findings." in html
