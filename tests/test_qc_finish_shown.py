"""The cases a run shows do not depend on how the run is partitioned: ranked part by part they
are the cases ranked all at once and cut at the caps (SHOWN_CASES, SHOWN_FINDINGS)."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hutong.quality.job as job
from qc_cases import MAIN_DX, OTHER_DX, case, combine

WORSE_DX = {**MAIN_DX, "adm_cond_type": "4"}  # a warning on the main diagnosis


def per_case(rows: list[tuple[str, int, int, float]]) -> pd.DataFrame:
    """Cases as a part's per-case file holds them: id, errors, findings, money at stake."""
    frame = pd.DataFrame(rows, columns=["mdtrt_id", "errors", "findings", "money"])
    return frame.astype({"errors": "int64", "findings": "int64", "money": "float64"})


def shown_by_parts(parts: list[pd.DataFrame]) -> list[str]:
    top = None
    for part in parts:
        top = job._top_cases(part, top)
    return top["mdtrt_id"].tolist()


def shown_at_once(parts: list[pd.DataFrame]) -> list[str]:
    return job._top_cases(pd.concat(parts, ignore_index=True))["mdtrt_id"].tolist()


def test_a_small_case_ranked_after_the_first_left_out_is_not_shown(monkeypatch) -> None:
    """B fills the budget past 10, so the run stops before it: C, smaller and ranked after B,
    stays out although it would fit, whether it comes in a later part or the same one."""
    monkeypatch.setattr(job, "SHOWN_FINDINGS", 10)
    first = per_case([("A", 1, 6, 100.0), ("B", 1, 6, 90.0)])
    second = per_case([("C", 1, 2, 80.0)])
    assert shown_at_once([first, second]) == ["A"]
    assert shown_by_parts([first, second]) == ["A"]
    assert shown_by_parts([second, first]) == ["A"]


def random_cases(rng: np.random.Generator, count: int) -> pd.DataFrame:
    money = rng.choice([0.0, 0.0, 50.0, 120.5, 300.0, 800.0], size=count)  # ties on purpose
    rows = [
        (f"ZY{i:04d}", int(rng.integers(0, 3)), int(rng.integers(1, 9)), float(m))
        for i, m in enumerate(money)
    ]
    return per_case(rows).sample(frac=1, random_state=int(rng.integers(1 << 30)))


@pytest.mark.parametrize("seed", range(40))
def test_ranked_part_by_part_or_at_once_the_same_cases_are_shown(monkeypatch, seed) -> None:
    rng = np.random.default_rng(seed)
    cases = random_cases(rng, int(rng.integers(5, 60)))
    monkeypatch.setattr(job, "SHOWN_FINDINGS", int(rng.integers(1, 60)))
    monkeypatch.setattr(job, "SHOWN_CASES", int(rng.integers(1, 25)))
    whole = shown_at_once([cases])
    budget, first = job.SHOWN_FINDINGS, cases.set_index("mdtrt_id")["findings"]
    assert first[whole].sum() <= max(budget, first[whole[0]]) and len(whole) <= job.SHOWN_CASES
    for count in (2, 3, 7):
        cut = np.sort(
            rng.choice(np.arange(1, len(cases)), size=min(count, len(cases)) - 1, replace=False)
        )
        bounds = [0, *cut.tolist(), len(cases)]
        parts = [cases.iloc[a:b] for a, b in pairwise(bounds)]
        assert shown_by_parts(parts) == whole, (count, [p["mdtrt_id"].tolist() for p in parts])


def test_a_run_in_parts_shows_the_cases_a_run_in_one_part_shows(tmp_path, monkeypatch) -> None:
    """ZY2 (2 errors) comes first; ZY7 (1 error, 2 findings) next would overfill a budget of 3,
    so the run shows ZY2 only. ZY4 (1 error, 1 finding) ranks after ZY7 and would fit: it must
    stay out when it comes in a later part too (report and worklist the same bytes)."""
    monkeypatch.setattr(job, "SHOWN_FINDINGS", 3)
    first = combine(
        case("ZY1"),
        case("ZY2", setlinfo={"gend": "3", "act_ipt_days": 9}),
        case("ZY3", diseinfo=[WORSE_DX, OTHER_DX]),
        case("ZY7", setlinfo={"gend": "3"}, diseinfo=[WORSE_DX, OTHER_DX]),
    )
    second = combine(case("ZY4", setlinfo={"gend": "3"}), case("ZY5"), case("ZY6"))
    loaded = job.load_job(job.QcJob(drg_pack=Path("sample"), base_rate=10_000))
    for name, sheet in {"p0": first, "p1": second, "whole": combine(first, second)}.items():
        job.qc_part(sheet, tmp_path / name, loaded)
    ranked = job._top_cases(pd.read_parquet(tmp_path / "whole" / job.PER_CASE))
    assert ranked["mdtrt_id"].tolist() == ["ZY2"]  # one sort of all cases: ZY7 stops it
    parts, whole = [tmp_path / "p0", tmp_path / "p1"], [tmp_path / "whole"]
    findings, summary = job.qc_finish(parts, tmp_path / "split", loaded)
    one_findings, one_summary = job.qc_finish(whole, tmp_path / "one", loaded)
    assert set(findings["mdtrt_id"]) == set(one_findings["mdtrt_id"]) == {"ZY2"}
    assert summary["shown_cases"] == one_summary["shown_cases"]
    for name in ("report.html", "worklist.xlsx", "impact.csv"):
        split_bytes = (tmp_path / "split" / name).read_bytes()
        assert split_bytes == (tmp_path / "one" / name).read_bytes(), name
