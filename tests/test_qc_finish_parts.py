"""What parts prepare for the run's finish, and what the finish reads of them, give the outputs
the finish gave reading everything itself."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

import hutong.quality.job as job
from hutong.mapping.facesheet import NODES, FaceSheet
from hutong.quality import check, load_pack
from hutong.quality.job import QcJob, load_job, qc_finish, qc_part
from hutong.quality.report import SHOWN_SETL, render_report
from hutong.quality.tally import Tally, tally
from qc_cases import MAIN_DX, OTHER_DX, case, combine

OUTPUTS = ["findings.csv", "scores.csv", "indicators.csv", "groups.csv", "trace.ndjson",
           "cmi.csv", "impact.csv", "worklist.xlsx", "report.html"]  # fmt: skip


def part_sheets():
    """Two parts with findings of every kind in each (main diagnosis, sex code, LOS)."""
    first = combine(
        case("ZY1"),
        case("ZY2", setlinfo={"gend": "3", "act_ipt_days": 9}),
        case("ZY3", diseinfo=[{**MAIN_DX, "adm_cond_type": "4"}, OTHER_DX]),
    )
    second = combine(
        case("ZY4", setlinfo={"gend": "3"}),
        case("ZY5", diseinfo=[{**MAIN_DX, "adm_cond_type": "4"}, OTHER_DX]),
        case("ZY6"),
    )
    return first, second


def unprepared(part: Path, target: Path) -> Path:
    """The part as a part made before parts prepared the finish: no tally, no per-case file,
    impact.csv in the engine's order."""
    shutil.copytree(part, target)
    counts = json.loads((target / job.COUNTS).read_text("utf-8"))
    del counts[job.TALLY]
    (target / job.COUNTS).write_text(json.dumps(counts, sort_keys=True), "utf-8")
    (target / job.PER_CASE).unlink()
    impact = pd.read_csv(target / "impact.csv", encoding="utf-8-sig", dtype=str)
    impact.iloc[::-1].to_csv(target / "impact.csv", index=False, encoding="utf-8-sig")
    return target


def made_parts(tmp_path: Path):
    """The job and the QC parts of :func:`part_sheets` under ``tmp_path``."""
    loaded = load_job(QcJob(drg_pack=Path("sample"), base_rate=10_000))
    parts = []
    for number, sheet in enumerate(part_sheets()):
        qc_part(sheet, tmp_path / f"p{number}", loaded)
        parts.append(tmp_path / f"p{number}")
    return loaded, parts


def test_prepared_parts_finish_as_parts_read_whole(tmp_path: Path) -> None:
    loaded, parts = made_parts(tmp_path)
    assert all((p / job.PER_CASE).exists() for p in parts)
    old = [unprepared(p, tmp_path / f"old{i}") for i, p in enumerate(parts)]
    findings, summary = qc_finish(parts, tmp_path / "new", loaded)
    old_findings, old_summary = qc_finish(old, tmp_path / "old", loaded)
    assert summary == old_summary and summary["findings"] == len(findings) > 0
    pd.testing.assert_frame_equal(findings, old_findings)
    for name in OUTPUTS:
        new_bytes = (tmp_path / "new" / name).read_bytes()
        assert new_bytes == (tmp_path / "old" / name).read_bytes(), name
    assert summary["drg"]["impact"]["findings"] > 0


def test_findings_taken_as_read_are_those_the_file_reads_back(tmp_path: Path) -> None:
    """A part's tally and per-case sums come from its findings in memory, as the finish would
    read them from findings.csv (an empty id reads back missing)."""
    from hutong.quality.engine import write_findings
    from hutong.quality.shown import light_of, read_light

    findings = check(combine(*part_sheets()))
    findings.loc[0, "mdtrt_id"] = ""
    path = write_findings(findings, tmp_path / "findings.csv")
    pd.testing.assert_frame_equal(light_of(findings), read_light(path))
    assert light_of(findings)["mdtrt_id"].isna().sum() == 1 and len(findings) > 3


def test_a_tally_keeps_its_counts_through_json() -> None:
    sheet = combine(*part_sheets())
    counts = tally(check(sheet))
    back = Tally.from_dict(json.loads(json.dumps(counts.to_dict())))
    assert back == counts and back.findings > 0
    assert (back + back).by_rule == counts.by_rule + counts.by_rule


def test_the_report_needs_no_settlement_field_but_those_it_shows() -> None:
    sheet = combine(*part_sheets())
    findings = check(sheet)
    pack = load_pack("nhsa-settlement")
    narrow = FaceSheet(**{n: sheet.node(n) for n in NODES})
    narrow.setlinfo = sheet.setlinfo[SHOWN_SETL]
    narrow.iteminfo = sheet.iteminfo.iloc[0:0]
    assert len(sheet.setlinfo.columns) > len(SHOWN_SETL)
    assert render_report(narrow, findings, pack) == render_report(sheet, findings, pack)


def test_shown_traces_are_picked_by_id_even_when_ids_are_escaped(tmp_path: Path) -> None:
    docs = [
        {"mdtrt_id": "A1", "drg": "FR15", "trace": ["x"]},
        {"mdtrt_id": 'B"2', "drg": "FR13", "trace": ["quoted id"]},
        {"mdtrt_id": "C3", "drg": "0000", "trace": ["not shown"]},
        {"mdtrt_id": "D4", "drg": "RN13", "trace": ["第\u2028行"]},
    ]
    path = tmp_path / "trace.ndjson"
    lines = [json.dumps(d, ensure_ascii=False) + "\n" for d in docs]
    path.write_text("".join(lines), "utf-8")
    ids = {"A1", 'B"2', "D4"}
    picked: dict = {}
    job._shown_traces(path, ids, picked)  # an escaped id: every line is parsed
    assert picked == {d["mdtrt_id"]: d["trace"] for d in docs if d["mdtrt_id"] in ids}
    path.write_text("".join(lines[:1] + lines[2:]), "utf-8")
    picked = {}
    job._shown_traces(path, ids, picked)  # ids found by pattern: only their lines parsed
    assert picked == {"A1": ["x"], "D4": ["第\u2028行"]}


@pytest.mark.parametrize("na", [True, False])
def test_shown_rows_of_a_csv_are_read_as_the_whole_file_is(tmp_path: Path, na: bool) -> None:
    frame = pd.DataFrame(
        {
            "mdtrt_id": ["A1", "B2", "NA", "C3", "A1", ""],
            "rule_id": ["R1", "R2", "R3", "R4", "R5", "R6"],
            "message_zh": ['含 "引号", 逗号', "第一行\n第二行", "NA", "", " 空格 ", "x"],
        }
    )
    path = tmp_path / "findings.csv"
    frame.to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\n")
    ids = {"A1", "B2", "NA"}
    read = {"dtype": str, "keep_default_na": na}
    whole = pd.read_csv(path, encoding="utf-8-sig", **read)
    want = whole[whole["mdtrt_id"].isin(ids).to_numpy()].reset_index(drop=True)
    got = job._shown_csv(path, ids, **read)
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want)
    assert len(got) == (4 if not na else 3)


def test_the_worklist_written_beside_the_report_is_the_same_file(tmp_path: Path) -> None:
    loaded, parts = made_parts(tmp_path)
    here, _ = qc_finish(parts, tmp_path / "here", loaded)
    beside, _ = qc_finish(parts, tmp_path / "beside", loaded, beside=True)
    pd.testing.assert_frame_equal(here, beside)
    for name in OUTPUTS:
        assert (tmp_path / "here" / name).read_bytes() == (tmp_path / "beside" / name).read_bytes()


def test_a_worklist_that_fails_beside_the_report_fails_the_finish(tmp_path: Path) -> None:
    from hutong.parallel import Beside

    def broken(path: Path) -> None:
        raise OSError(f"cannot write {path}")

    task = Beside(broken, tmp_path / "worklist.xlsx")
    with pytest.raises(RuntimeError, match="broken failed"):
        task.wait()
    with pytest.raises(OSError, match="cannot write"):
        Beside(broken, tmp_path / "worklist.xlsx", forked=False)


def test_a_parts_case_files_hold_what_the_finish_shows_only(tmp_path: Path) -> None:
    """The shown settlement fields and the diagnosis and procedure rows of the cases with
    findings; the fee node keeps its columns and no rows."""
    _, parts = made_parts(tmp_path)
    sheet = part_sheets()[0]
    cases = parts[0] / job.CASES
    setl = pd.read_parquet(cases / "setlinfo.parquet")
    assert list(setl.columns) == [c for c in SHOWN_SETL if c in sheet.setlinfo.columns]
    findings = pd.read_csv(parts[0] / "findings.csv", encoding="utf-8-sig", dtype=str)
    assert sorted(setl["mdtrt_id"]) == sorted(set(findings["mdtrt_id"]))
    items = pd.read_parquet(cases / "iteminfo.parquet")
    assert items.empty and list(items.columns) == list(sheet.iteminfo.columns)
    diseases = pd.read_parquet(cases / "diseinfo.parquet")
    with_findings = sheet.diseinfo[sheet.diseinfo["mdtrt_id"].isin(setl["mdtrt_id"])]
    assert len(diseases) == len(with_findings) > 0
