"""A run's finish in bounded memory: parts merged give what the whole table read at once gives.

The whole-table reference below is what ``qc_finish`` did before it merged parts: concatenate
every part's impact.csv, rank it, write it, sum it; count findings over every finding; rank
the cases over all of them.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

import hutong.quality.job as job
from hutong.quality.impact import COLUMNS, write_impact
from hutong.quality.priced import merge_parts, rank_part, ranked, ranked_as_written, read_part
from hutong.quality.tally import tally


def row(
    case, rule, amount, field="diag_code", fix='改为 "A01", 或 B02', before="FR15", after="FR13"
):
    diff = math.nan if amount is None or math.isnan(amount) else amount / 12000
    money = math.nan if amount is None else amount
    return (case, rule, field, fix, "fix, en", before, after, 1.0, 1.0 + diff, diff, money)


PARTS = [
    [  # ties with the other part on |amount| (case order decides), an unknown amount, a loss
        row("C03", "CV-DX-03", 2400.0),
        row("C01", "CV-DX-01", 2400.0),
        row("C01", "SL-MAIN-01", -2400.0),
        row("C02", "CV-DX-01", None, after=""),
        row("C04", "CV-DX-02", 100.00001),  # equal to C05's once written with 4 decimals
    ],
    [
        row("C05", "CV-DX-02", 100.00002),
        row("C02b", "CV-DX-01", 2400.0, field=""),
        row("C06", "CV-DX-03", 0.0, before="FR15", after="FR15"),
        row("C07", "CV-DX-01", None, field="", fix="needs a coder"),
    ],
    [row("C08", "SL-MAIN-01", 7200.0)],
]


def part_files(tmp_path, parts) -> list:
    files = []
    for number, rows in enumerate(parts):
        path = tmp_path / f"part-{number}" / "impact.csv"
        write_impact(pd.DataFrame(rows, columns=COLUMNS), path)  # as qc_part writes it
        files.append(path)
    return files


def merged_parts(tmp_path, files, shown):
    ranked_files = [
        rank_part(read_part(f), tmp_path / f"ranked-{n}.csv") for n, f in enumerate(files)
    ]
    return merge_parts(ranked_files, tmp_path / "impact.csv", shown)


def test_a_table_ranked_in_memory_is_written_as_the_file_read_back_and_ranked(tmp_path):
    """A part ranks its impact table before writing it: the bytes of writing it once, ranked,
    are those of writing it, reading it back and ranking that (ties at the 4 decimals
    written, unknown amounts, a loss)."""
    frames = [pd.DataFrame(rows, columns=COLUMNS) for rows in PARTS]
    frames.append(pd.concat(frames, ignore_index=True).iloc[::-1])
    for number, frame in enumerate(frames):
        once = write_impact(ranked_as_written(frame), tmp_path / f"once-{number}.csv")
        raw = write_impact(frame, tmp_path / f"raw-{number}.csv")
        twice = rank_part(read_part(raw), tmp_path / f"twice-{number}.csv")
        assert once.read_bytes() == twice.read_bytes(), number
    tied = ranked_as_written(frames[-1])
    assert tied["mdtrt_id"].tolist().index("C04") < tied["mdtrt_id"].tolist().index("C05")


def test_text_that_reads_as_a_number_or_na_keeps_its_text(tmp_path):
    """Read back by pandas, an id "NA" was missing and a fix "1" beside an empty one was 1.0;
    ranked in memory, the part writes the text it has."""
    rows = [row("NA", "CV-DX-01", 2400.0, fix="1"), row("C01", "CV-DX-01", 100.0, fix=None)]
    path = write_impact(ranked_as_written(pd.DataFrame(rows, columns=COLUMNS)), tmp_path / "i.csv")
    written = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert written["mdtrt_id"].tolist() == ["NA", "C01"]
    assert written["fix_zh"].tolist() == ["1", ""]


def whole(files) -> pd.DataFrame:
    return ranked(pd.concat([read_part(f) for f in files], ignore_index=True))


def test_merged_parts_write_the_bytes_of_the_whole_table_ranked(tmp_path):
    files = part_files(tmp_path, PARTS)
    merged_parts(tmp_path, files, set())
    write_impact(whole(files), tmp_path / "whole.csv")
    assert (tmp_path / "impact.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
    cases = pd.read_csv(tmp_path / "impact.csv", dtype=str)["mdtrt_id"].tolist()
    assert cases[:4] == ["C08", "C01", "C01", "C02b"]  # 7200, then the 2400s by case
    assert cases[-2:] == ["C02", "C07"]  # unknown amounts last


def test_merged_sums_and_money_per_rule_are_the_whole_tables(tmp_path):
    files = part_files(tmp_path, PARTS)
    merged = merged_parts(tmp_path, files, set())
    table = whole(files)
    assert merged.summary == {
        "findings": len(table),
        "group_changes": int((table["drg_before"] != table["drg_after"]).sum()),
        "weight_diff": round(float(table["weight_diff"].sum(min_count=1)), 4),
        "amount": round(float(table["amount"].sum(min_count=1)), 2),
    }
    by_rule = table["amount"].groupby(table["rule_id"]).sum(min_count=1)
    pd.testing.assert_series_equal(merged.rule_amounts, by_rule, check_names=False)


def test_merge_keeps_only_the_shown_cases_rows_in_the_tables_order(tmp_path):
    files = part_files(tmp_path, PARTS)
    merged = merged_parts(tmp_path, files, {"C01", "C07"})
    table = whole(files)
    expected = table[table["mdtrt_id"].isin({"C01", "C07"})].reset_index(drop=True)
    pd.testing.assert_frame_equal(merged.shown, expected, check_dtype=False)
    assert merged.shown["field"].tolist() == ["diag_code", "diag_code", ""]


def test_a_part_without_priced_findings_changes_no_byte(tmp_path):
    files = part_files(tmp_path / "a", PARTS)
    with_empty = part_files(tmp_path / "b", [PARTS[0], [], *PARTS[1:]])
    merged_parts(tmp_path / "a", files, set())
    merged_parts(tmp_path / "b", with_empty, set())
    assert (tmp_path / "a" / "impact.csv").read_bytes() == (
        tmp_path / "b" / "impact.csv"
    ).read_bytes()


def findings(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["mdtrt_id", "rule_id", "severity"])


FINDINGS = [
    findings(
        [
            ("C01", "SL-TIME-02", "error"),
            ("C01", "CV-DX-01", "warning"),
            ("C02", "CV-DX-01", "warning"),
            ("C03", "CV-DX-01", "warning"),
        ]
    ),
    findings([("C05", "ZZ-FOREIGN", "info"), ("C06", "SL-TIME-02", "error")]),
    findings([("C08", "SL-TIME-02", "error"), ("C08", "SL-TIME-02", "error")]),
]


def test_tallies_of_parts_add_up_to_the_tally_of_every_finding():
    parts = [tally(f) for f in FINDINGS]
    every = parts[0] + parts[1] + parts[2]
    assert every == tally(pd.concat(FINDINGS, ignore_index=True))
    assert every.rule_cases["SL-TIME-02"] == 3 and every.by_rule["SL-TIME-02"] == 4
    assert every.rule_ranking() == [("SL-TIME-02", 4), ("CV-DX-01", 3), ("ZZ-FOREIGN", 1)]
    assert (every.cases_with_findings, every.cases_with_errors) == (6, 3)


@pytest.mark.parametrize("budget", [1, 3, 4, 1000])
def test_the_shown_cases_stop_where_their_findings_fill_the_budget(tmp_path, monkeypatch, budget):
    """Per part then across parts gives the run's own prefix; its findings stay in budget."""
    monkeypatch.setattr(job, "SHOWN_FINDINGS", budget)
    impacts = [read_part(f) for f in part_files(tmp_path, PARTS)]
    top = None
    for part, impact in zip(FINDINGS, impacts, strict=True):
        top = job._top_cases(job._per_case(part, impact), top)
    every = pd.concat(FINDINGS, ignore_index=True)
    whole = job._top_cases(job._per_case(every, pd.concat(impacts, ignore_index=True)))
    assert top["mdtrt_id"].tolist() == whole["mdtrt_id"].tolist()
    assert top["findings"].sum() <= max(budget, top["findings"].iloc[0])
    monkeypatch.setattr(job, "SHOWN_FINDINGS", 10**9)
    ranked = job._top_cases(job._per_case(every, pd.concat(impacts, ignore_index=True)))
    assert ranked["mdtrt_id"].tolist()[: len(top)] == top["mdtrt_id"].tolist()
    if len(top) < len(ranked):  # it stopped only because the next case would overfill it
        assert ranked["findings"].iloc[: len(top) + 1].sum() > budget


@pytest.mark.parametrize("cap", [1, 3, 5, 100])
def test_first_cases_of_each_part_give_the_first_cases_of_the_run(tmp_path, monkeypatch, cap):
    monkeypatch.setattr(job, "SHOWN_CASES", cap)
    files = part_files(tmp_path, PARTS)
    impacts = [read_part(f) for f in files]
    top = None
    for part, impact in zip(FINDINGS, impacts, strict=True):
        top = job._top_cases(job._per_case(part, impact), top)
    every = pd.concat(FINDINGS, ignore_index=True)
    assert set(top["mdtrt_id"]) == job.shown_cases(every, pd.concat(impacts, ignore_index=True))
    assert len(top) == min(cap, 6)
