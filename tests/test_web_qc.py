"""The QC worklist: a run's findings by money at stake, a case with the finding's fields marked
and its DRG trace, and marking findings fixed or accepted with optimistic concurrency."""

from __future__ import annotations

import csv
import itertools
import json
import re
import shutil

import pytest

from hutong.web import runs as run_files
from workbench import app_fixture, login_fixture, workbench_fixture  # noqa: F401

RUN = "vendor-a"
SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}


def _manifest(workbench) -> dict:
    return json.loads((workbench.runs / RUN / "manifest.json").read_text("utf-8"))


def _all_findings(client, run: str = RUN, **params) -> list[dict]:
    response = client.get(f"/api/runs/{run}/findings", params={"limit": 1000, **params})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def _priced_copy(workbench, name: str = "priced") -> dict[tuple, float]:
    """A copy of the run whose impact.csv has varied amounts (the sample's are all 0 or
    unknown); returns |amount| by (case, rule, field, fix_zh)."""
    target = workbench.runs / name
    shutil.copytree(workbench.runs / RUN, target)
    path = target / "qc" / "impact.csv"
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    for i, row in enumerate(rows):
        row["amount"] = "" if i % 5 == 4 else f"{(i * 37 % 11) * 100 - 500:.4f}"
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return {
        (r["mdtrt_id"], r["rule_id"], r["field"], r["fix_zh"]): abs(float(r["amount"]))
        for r in rows
        if r["amount"]
    }


def test_runs_are_listed_with_their_counts(workbench, login):
    client = login("coder1")
    runs = client.get("/api/runs").json()
    assert [r["name"] for r in runs] == [RUN]
    manifest = _manifest(workbench)
    assert runs[0]["findings"] == manifest["qc"]["findings"]
    assert runs[0]["cases"] == manifest["qc"]["score"]["cases"]
    html = client.get("/runs").text
    assert f'<tr class="run" data-run="{RUN}">' in html and f'href="/runs/{RUN}"' in html


def test_every_finding_is_listed_once_with_a_stable_key(workbench, login):
    client = login("coder1")
    items = _all_findings(client)
    assert len(items) == _manifest(workbench)["qc"]["findings"]
    keys = [f["key"] for f in items]
    assert len(set(keys)) == len(keys)
    run_files._CACHE.clear()  # read the files again: same keys
    assert sorted(f["key"] for f in _all_findings(client)) == sorted(keys)
    priced = [f for f in items if f["priced"]]
    assert len(priced) == _manifest(workbench)["drg"]["impact"]["findings"]
    assert all(f["department"] for f in items)


def test_findings_come_by_money_at_stake_then_severity(workbench, login):
    amounts = _priced_copy(workbench)
    client = login("coder1")
    items = _all_findings(client, "priced")
    money = [f["money"] for f in items]
    known = [m for m in money if m is not None]
    assert known == sorted(known, reverse=True) and known[0] == max(amounts.values())
    assert money[: len(known)] == known  # unknown amounts last
    for a, b in itertools.pairwise(items):
        if a["money"] == b["money"]:
            assert SEVERITY_RANK[a["severity"]] <= SEVERITY_RANK[b["severity"]]
    for f in items:
        if f["money"] is not None:
            assert amounts[(f["mdtrt_id"], f["rule_id"], f["field"], f["fix_zh"])] == f["money"]
    by_severity = _all_findings(client, "priced", sort="severity")
    ranks = [SEVERITY_RANK[f["severity"]] for f in by_severity]
    assert ranks == sorted(ranks) and ranks[-1] == 1  # the sample's one warning comes last


def test_filters_and_paging(workbench, login):
    client = login("coder1")
    page = client.get(f"/api/runs/{RUN}/findings", params={"rule": "CV-DX-01"}).json()
    assert page["total"] == _manifest(workbench)["qc"]["top_rules"]["CV-DX-01"]
    assert {f["rule_id"] for f in page["items"]} == {"CV-DX-01"}
    warn = client.get(f"/api/runs/{RUN}/findings", params={"severity": "warning"}).json()
    assert warn["total"] == 1 and warn["items"][0]["severity"] == "warning"
    dept = page["items"][0]["department"]
    same = client.get(f"/api/runs/{RUN}/findings", params={"department": dept}).json()
    assert same["total"] >= 1 and {f["department"] for f in same["items"]} == {dept}
    whole = _all_findings(client)
    second = client.get(f"/api/runs/{RUN}/findings", params={"limit": 10, "offset": 10}).json()
    assert [f["key"] for f in second["items"]] == [f["key"] for f in whole[10:20]]
    for bad in ({"limit": 0}, {"offset": -1}, {"sort": "name"}, {"status": "done"}):
        assert client.get(f"/api/runs/{RUN}/findings", params=bad).status_code == 422


def _case_with(items: list[dict], rule: str) -> dict:
    return next(f for f in items if f["rule_id"] == rule)


def test_a_case_shows_the_findings_fields_its_trace_and_groups(workbench, login):
    client = login("rev1")
    finding = _case_with(_all_findings(client), "CV-DX-01")
    case_id = finding["mdtrt_id"]
    code = re.search(r"（([^（）]*)）$", finding["message_zh"]).group(1)
    detail = client.get(f"/api/runs/{RUN}/cases/{case_id}").json()
    assert finding["key"] in {f["key"] for f in detail["findings"]}
    marked = [d for d in detail["diagnoses"] if d["hl"]]
    assert marked and all(d["cells"]["diag_code"] in {code} | _other_codes(detail) for d in marked)
    row = next(d for d in detail["diagnoses"] if d["cells"]["diag_code"] == code)
    assert row["hl"] and "diag_code" in row["hl_fields"] and finding["key"] in row["findings"]
    assert any(not d["hl"] for d in detail["diagnoses"]) or len(detail["diagnoses"]) == 1
    trace = _trace(workbench, case_id)
    assert detail["group"]["trace"] == trace and trace
    assert detail["group"]["drg"] == finding["drg_before"]
    after = next(a for a in detail["after"] if a["key"] == finding["key"])
    assert after["drg_before"] == finding["drg_before"]

    html = client.get(f"/runs/{RUN}/cases/{case_id}").text
    diagnoses = html[html.index('id="case-diagnoses"') : html.index('id="case-procedures"')]
    assert f'<td data-field="diag_code" class="hl">{code}</td>' in diagnoses
    assert re.search(r'<tr class="hl" data-findings="[^"]*' + finding["key"], diagnoses)
    steps = html[html.index('id="drg-trace"') :]
    for step in trace:
        assert f"<li>{step}</li>" in steps.replace("&gt;", ">")
    assert 'id="group-before"' in html and 'id="group-after"' in html
    assert f'id="f-{finding["key"]}"' in html and 'data-state="fixed"' in html


def _other_codes(detail: dict) -> set[str]:
    """Codes named by the case's other findings (they are marked too)."""
    return {f["value"] for f in detail["findings"] if f["value"]}


def _trace(workbench, case_id: str) -> list[str]:
    path = workbench.runs / RUN / "qc" / "trace.ndjson"
    for line in path.read_text("utf-8").splitlines():
        doc = json.loads(line)
        if doc["mdtrt_id"] == case_id:
            return doc["trace"]
    return []


def test_a_setlinfo_finding_marks_its_fields(login):
    client = login("coder1")
    finding = _case_with(_all_findings(client), "SL-TIME-02")  # adm_time,dscg_time
    detail = client.get(f"/api/runs/{RUN}/cases/{finding['mdtrt_id']}").json()
    marked = {s["field"] for s in detail["setlinfo"] if s["hl"]}
    assert {"adm_time", "dscg_time"} <= marked
    assert "medcasno" not in marked


def test_marking_fixed_then_a_stale_mark_conflicts(login):
    coder, reviewer = login("coder1"), login("rev1")
    key = _all_findings(coder)[0]["key"]
    url = f"/api/runs/{RUN}/findings/{key}/state"
    done = coder.post(url, json={"status": "fixed", "version": 0, "comment": "改为 I10.x00x002"})
    assert done.status_code == 200, done.text
    assert done.json() | {"at": ""} == {
        "run": RUN, "key": key, "status": "fixed", "comment": "改为 I10.x00x002",
        "username": "coder1", "at": "", "version": 1,
    }  # fmt: skip
    stale = reviewer.post(url, json={"status": "accepted", "version": 0})
    assert stale.status_code == 409
    assert stale.json()["current"]["status"] == "fixed"
    assert stale.json()["current"]["version"] == 1
    again = reviewer.post(url, json={"status": "accepted", "version": 1, "comment": "可接受"})
    assert again.status_code == 200 and again.json()["username"] == "rev1"
    history = coder.get(f"/api/runs/{RUN}/findings/{key}/history").json()
    assert [(h["username"], h["old_status"], h["new_status"], h["version"]) for h in history] == [
        ("coder1", "open", "fixed", 1),
        ("rev1", "fixed", "accepted", 2),
    ]
    accepted = _all_findings(coder, status="accepted")
    assert [f["key"] for f in accepted] == [key] and accepted[0]["version"] == 2
    assert key not in {f["key"] for f in _all_findings(coder, status="open")}
    html = coder.get(f"/runs/{RUN}", params={"status": "accepted"}).text
    assert html.count('<tr class="finding"') == 1 and f'data-key="{key}" data-version="2"' in html


def test_coders_reviewers_and_admins_may_all_mark(login):
    items = _all_findings(login("coder1"))
    for user, finding in zip(("coder2", "rev2", "admin1"), items, strict=False):
        url = f"/api/runs/{RUN}/findings/{finding['key']}/state"
        response = login(user).post(url, json={"status": "accepted", "version": 0})
        assert response.status_code == 200 and response.json()["username"] == user


def test_bad_marks_are_refused(login):
    client = login("coder1")
    key = _all_findings(client)[0]["key"]
    url = f"/api/runs/{RUN}/findings/{key}/state"
    bad = [
        {"status": "done", "version": 0},
        {"status": "fixed", "version": -1},
        {"status": "fixed"},
        {"status": "fixed", "version": 0, "comment": "x" * 2001},
    ]
    for body in bad:
        assert client.post(url, json=body).status_code == 422, body
    assert client.post(f"/api/runs/{RUN}/findings/not-a-key/state",
                       json={"status": "fixed", "version": 0}).status_code == 422  # fmt: skip
    unknown = f"/api/runs/{RUN}/findings/{'0' * 20}/state"
    assert client.post(unknown, json={"status": "fixed", "version": 0}).status_code == 404
    assert client.get(f"/api/runs/{RUN}/findings/{'0' * 20}/history").status_code == 404


def test_unknown_runs_cases_and_paths_outside_are_not_found(workbench, login):
    outside = workbench.folder / "outside"
    shutil.copytree(workbench.runs / RUN, outside)  # a real run, but not under the runs folder
    (workbench.runs / "linked").symlink_to(outside, target_is_directory=True)
    client = login("coder1")
    for run in ("nope", "%2E%2E", "..%2Foutside", "%2E%2E%2Foutside", "linked", ".hidden"):
        assert client.get(f"/api/runs/{run}/findings").status_code == 404, run
        assert client.get(f"/runs/{run}").status_code == 404, run
        assert client.get(f"/api/runs/{run}/cases/x").status_code == 404, run
    assert client.get("/api/runs/../findings").status_code == 404  # the client folds "..": 404
    for name in ("..", ".", "../outside", "linked", "", "vendor-a/../../outside", "/tmp"):
        with pytest.raises(run_files.UnknownRun):
            run_files.run_folder(workbench.runs, name)
    assert client.get(f"/api/runs/{RUN}/cases/no-such-case").status_code == 404
    assert client.get(f"/runs/{RUN}/cases/no-such-case").status_code == 404
    assert [r["name"] for r in client.get("/api/runs").json()] == [RUN]


def test_a_run_without_face_sheet_or_grouping_still_lists_its_findings(workbench, login):
    bare = workbench.runs / "bare"
    shutil.copytree(workbench.runs / RUN, bare)
    shutil.rmtree(bare / "facesheet")
    for name in ("impact.csv", "groups.csv", "trace.ndjson"):
        (bare / "qc" / name).unlink()
    client = login("coder1")
    items = _all_findings(client, "bare")
    assert len(items) == _manifest(workbench)["qc"]["findings"]
    assert not any(f["priced"] or f["department"] for f in items)
    case_id = items[0]["mdtrt_id"]
    detail = client.get(f"/api/runs/bare/cases/{case_id}").json()
    assert detail["facesheet"] is False and detail["group"] is None and detail["findings"]
    html = client.get(f"/runs/bare/cases/{case_id}").text
    assert 'id="no-facesheet"' in html and 'id="group-before"' in html


def test_the_worklist_page_lists_the_findings_in_api_order(login):
    client = login("coder1")
    items = _all_findings(client)
    html = client.get(f"/runs/{RUN}").text
    keys = re.findall(r'<tr class="finding" data-key="([^"]+)"', html)
    assert keys == [f["key"] for f in items[:200]]
    assert '<script src="/static/qc.js" defer></script>' in html
    assert "<script>" not in html  # CSP: no inline scripts
    first = items[0]
    assert f'data-key="{first["key"]}" data-version="0" data-status="open"' in html
    assert '<span class="badge status open">待处理 open</span>' in html
    assert f'data-href="/runs/{RUN}/cases/{first["mdtrt_id"]}#f-{first["key"]}"' in html
    script = client.get("/static/qc.js").text
    for hook in ("tr.finding[data-key]", "#case-findings", "#drg-trace", "#group-before",
                 "#group-after", 'button[data-state="fixed"'):  # fmt: skip
        assert hook in script


@pytest.mark.parametrize("path", ["/runs", f"/runs/{RUN}", "/api/runs"])
def test_the_qc_pages_need_a_session(app, path):
    from fastapi.testclient import TestClient

    response = TestClient(app).get(path, follow_redirects=False)
    assert response.status_code in (401, 303)
