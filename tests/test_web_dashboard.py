"""The dashboards: coverage replayed from the audit log grows with decisions and adds up to
today's totals; QC scores per department match a recomputation from the run's CSVs."""

from __future__ import annotations

import csv
import shutil
import statistics
from datetime import UTC, datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from hutong.terminologies import tables
from hutong.terminologies.store import Store
from workbench import app_fixture, login_fixture, workbench_fixture  # noqa: F401

CHINA = timezone(timedelta(hours=8))


def _decide_on(monkeypatch, when: datetime, store: Store, decisions: list[tuple[int, str]]):
    """Decide through the store with its clock set to ``when`` (the audit log's ``at``)."""
    monkeypatch.setattr(tables, "utcnow", lambda: when)
    for mapping_id, action in decisions:
        store.decide(mapping_id, action, "rev1", store.mapping(mapping_id).version)
    monkeypatch.undo()


def _candidates(store: Store) -> dict[tuple[str, str, str], list[int]]:
    """Unreviewed candidate ids per local term, best first."""
    out: dict[tuple[str, str, str], list[int]] = {}
    queue = store.queue().dropna(subset=["mapping_id"])
    for row in queue.itertuples():
        out.setdefault((row.local_system, row.local_code, row.local_name), []).append(
            int(row.mapping_id)
        )
    return out


@pytest.fixture(name="decided")
def decided_fixture(workbench, monkeypatch):
    """Three days of decisions after the fixture's proposals (today): two terms covered on
    day 1; on day 3 one more term, and a second candidate of a covered term approved (which
    demotes the first: no change in coverage); a term rejected today (minus one)."""
    now = datetime.now(UTC)
    day1, day3 = now + timedelta(days=1), now + timedelta(days=3)
    with Store(workbench.url) as store:
        terms = [ids for ids in _candidates(store).values() if len(ids) >= 2]
        assert len(terms) >= 4
        a, b, c, d = terms[:4]
        _decide_on(monkeypatch, day1, store, [(a[0], "approve"), (b[0], "approve")])
        _decide_on(monkeypatch, day3, store, [(c[0], "approve"), (a[1], "approve")])
        _decide_on(monkeypatch, day3 + timedelta(days=1), store, [(b[0], "reject")])
        _decide_on(monkeypatch, day3 + timedelta(days=1), store, [(d[0], "approve")])
        stats = store.stats()
    return [t.astimezone(CHINA).date().isoformat() for t in (day1, day3)], stats


def test_coverage_grows_with_decisions_and_the_days_add_up(decided, login):
    (day1, day3), stats = decided
    client = login("coder1")
    body = client.get("/api/dashboard/coverage").json()
    days = {d["day"]: d for d in body["days"]}
    assert days[day1]["covered_terms"] == 2 and days[day1]["gained"] == 2
    assert days[day3]["gained"] == 1 and days[day3]["lost"] == 0  # the swap keeps term a
    assert days[day3]["covered_terms"] == 3
    last = body["days"][-1]
    assert last["gained"] == 1 and last["lost"] == 1 and last["covered_terms"] == 3
    assert sum(d["gained"] - d["lost"] for d in body["days"]) == stats["covered_terms"] == 3
    shares = [d["coverage_terms"] for d in body["days"]]
    assert shares[0] == 0.0 and shares[-1] > 0  # the proposals alone cover nothing
    today = body["today"]
    assert today["covered_terms"] == last["covered_terms"]
    assert today["covered_frequency"] == last["covered_frequency"] > 0
    assert today["coverage_frequency"] == pytest.approx(last["coverage_frequency"])
    assert last["coverage_terms"] == pytest.approx(3 / today["terms"])
    assert [d["day"] for d in body["days"]] == sorted(days)


def test_coverage_filters_split_the_totals(decided, login):
    client = login("coder1")
    parts = []
    for system in ("vendor-a:diagnosis", "vendor-a:procedure"):
        body = client.get("/api/dashboard/coverage", params={"local_system": system}).json()
        assert body["today"]["covered_terms"] == body["days"][-1]["covered_terms"]
        parts.append(body["today"]["covered_terms"])
    assert sum(parts) == 3
    assert client.get("/api/dashboard/coverage", params={"target": "nope"}).status_code == 404
    missing = client.get("/api/dashboard/coverage", params={"local_system": "x:y"})
    assert missing.status_code == 404


def _expected(run) -> dict[str, dict]:
    """Per department, recomputed from the CSVs: cases, mean, median, below 60, findings."""
    with (run / "facesheet" / "setlinfo.csv").open(encoding="utf-8-sig") as f:
        dept = {
            r["mdtrt_id"]: (r["dscg_caty"].strip() or r["adm_caty"].strip() or "未填")
            for r in csv.DictReader(f)
        }
    with (run / "qc" / "findings.csv").open(encoding="utf-8-sig") as f:
        findings = [r["mdtrt_id"] for r in csv.DictReader(f)]
    with (run / "qc" / "scores.csv").open(encoding="utf-8-sig") as f:
        scores = [(r["mdtrt_id"], float(r["score"])) for r in csv.DictReader(f)]
    out: dict[str, dict] = {}
    for case, score in scores:
        entry = out.setdefault(dept.get(case, "未填"), {"scores": [], "findings": 0})
        entry["scores"].append(score)
        entry["findings"] += findings.count(case)
    return out


def _lower_scores(run, cases: int) -> None:
    """Give the first ``cases`` cases of a run a failing score (a second run to select)."""
    path = run / "qc" / "scores.csv"
    rows = path.read_text("utf-8-sig").splitlines()
    for i in range(1, cases + 1):
        case, _, rest = rows[i].split(",", 2)
        rows[i] = f"{case},{40 + i}.5,{rest}"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8-sig")


def test_qc_scores_by_department_match_the_csvs(workbench, login):
    edited = workbench.runs / "edited"
    shutil.copytree(workbench.runs / "vendor-a", edited)
    _lower_scores(edited, 5)
    client = login("coder1")
    for run in ("vendor-a", "edited"):
        body = client.get("/api/dashboard/qc-scores", params={"run": run}).json()
        expected = _expected(workbench.runs / run)
        got = {d["dept"]: d for d in body["departments"]}
        assert set(got) == set(expected) and len(got) > 3
        for dept, want in expected.items():
            d, s = got[dept], want["scores"]
            assert d["cases"] == len(s)
            assert d["mean"] == pytest.approx(statistics.mean(s), abs=0.005)
            assert d["median"] == pytest.approx(statistics.median(s))
            assert d["below_fail"] == sum(x < 60 for x in s)
            assert d["findings"] == want["findings"]
        hospital = body["hospital"]
        assert hospital["cases"] == sum(len(w["scores"]) for w in expected.values())
        assert hospital["below_fail"] == (5 if run == "edited" else 0)
        assert hospital["findings"] == sum(w["findings"] for w in expected.values()) > 0
    assert got["A03.03"]["dept_name"]  # names from the department table


def test_unknown_runs_are_404(workbench, login):
    client = login("rev1")
    (workbench.runs / "no-qc").mkdir()  # a folder without QC outputs is not a run to show
    for run in ("nope", "..", ".", "../runs/vendor-a", "vendor-a/qc", "no-qc", "vendor-a\x00"):
        response = client.get("/api/dashboard/qc-scores", params={"run": run})
        assert response.status_code == 404, run
    assert client.get("/dashboard", params={"run": "../vendor-a"}).status_code == 404


def test_the_page_draws_both_charts_with_tables(decided, workbench, login):
    (day1, day3), _ = decided
    page = login("coder2").get("/dashboard")
    assert page.status_code == 200
    html = page.text
    assert html.count('<svg class="chart"') == 2
    assert "<polyline" in html and 'class="good"' in html  # the line and the score bars
    assert day1 in html and day3 in html and "A03.03" in html
    assert '<option value="vendor-a" selected>' in html
    assert "<script>" not in html  # the CSP allows no inline script


def test_no_session_no_dashboard(app):
    assert TestClient(app).get("/api/dashboard/qc-scores?run=vendor-a").status_code == 401
