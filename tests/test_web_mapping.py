"""The mapping queue: coders see the most frequent unmapped terms with explained candidates,
search codes, flag, comment and propose; reviewers decide; a stale decision is a 409 that
names who changed the mapping, never a silent overwrite."""

from __future__ import annotations

import json
import re

import pandas as pd
from fastapi.testclient import TestClient

from hutong.terminologies.codesystem import DIAGNOSIS, sample_code_system
from hutong.terminologies.store import Store
from hutong.web.accounts import Accounts
from hutong.web.app import Settings, create_app
from stores import store_url_fixture  # noqa: F401
from workbench import PASSWORD, app_fixture, login_fixture, workbench_fixture  # noqa: F401

DX, PX = "icd10-yb-2.0", "icd9cm3-yb-2.0"
CHD = {"target": DX, "local_system": "vendor-a:diagnosis", "local_code": "I25.1",
       "local_name": "冠心病"}  # fmt: skip


def first_term(client: TestClient, **filters) -> dict:
    return client.get("/api/queue", params={"limit": 1, **filters}).json()["terms"][0]


def term_of(client: TestClient, name: str, **filters) -> dict:
    terms = client.get("/api/queue", params={"limit": 200, **filters}).json()["terms"]
    return next(t for t in terms if t["local_name"] == name)


def decide(client: TestClient, candidate: dict, action: str, **extra):
    body = {"action": action, "version": candidate["version"], **extra}
    return client.post(f"/api/mappings/{candidate['mapping_id']}/decision", json=body)


# -- the queue ----------------------------------------------------------------------------------


def test_queue_lists_the_most_frequent_terms_first_with_explained_candidates(login):
    page = login("coder1").get("/api/queue").json()
    assert page["total"] == 14 and len(page["terms"]) == 14
    frequencies = [t["frequency"] for t in page["terms"]]
    assert frequencies == sorted(frequencies, reverse=True) and frequencies[0] == 19
    top = page["terms"][0]
    assert (top["local_code"], top["local_name"], top["target"]) == ("I10", "高血压3级极高危", DX)
    assert top["example"].startswith("住院病案首页_2024.csv:")
    scores = [c["score"] for c in top["candidates"]]
    assert len(scores) == 5 and scores == sorted(scores, reverse=True)
    best = top["candidates"][0]
    assert best["status"] == "unreviewed" and best["version"] == 1
    assert "code hint" in best["why"] and "编码提示" in best["why"]  # the matcher's reasons
    assert all(c["why"] for t in page["terms"] for c in t["candidates"])


def test_queue_filters_by_target_local_system_status_and_pages(login):
    client = login("coder1")
    everything = client.get("/api/queue").json()["terms"]
    procedures = client.get("/api/queue", params={"target": PX}).json()
    assert procedures["total"] == 3
    assert {t["local_system"] for t in procedures["terms"]} == {"vendor-a:procedure"}
    by_system = client.get("/api/queue", params={"local_system": "vendor-a:procedure"}).json()
    assert [t["key"] for t in by_system["terms"]] == [t["key"] for t in procedures["terms"]]
    second = client.get("/api/queue", params={"limit": 5, "offset": 5, "explain": False}).json()
    assert [t["key"] for t in second["terms"]] == [t["key"] for t in everything[5:10]]
    assert second["total"] == 14 and all(c["why"] is None for c in second["terms"][0]["candidates"])
    assert client.get("/api/queue", params={"status": "flagged"}).json()["total"] == 0
    assert decide(client, everything[1]["candidates"][0], "flag").status_code == 200
    flagged = client.get("/api/queue", params={"status": "flagged"}).json()["terms"]
    assert [t["key"] for t in flagged] == [everything[1]["key"]]
    assert [c["status"] for c in flagged[0]["candidates"]] == ["flagged"]
    for bad in ({"status": "maybe"}, {"limit": 0}, {"offset": -1}, {"limit": 201}):
        assert client.get("/api/queue", params=bad).status_code == 422, bad
    for unknown in ({"target": "icd-99"}, {"local_system": "vendor-z:diagnosis"}):
        assert client.get("/api/queue", params=unknown).status_code == 404, unknown


def test_local_systems_and_stats(login):
    client = login("coder1")
    systems = {s["name"]: s for s in client.get("/api/local-systems").json()}
    assert systems["vendor-a:diagnosis"]["target"] == DX
    assert (systems["vendor-a:diagnosis"]["terms"], systems["vendor-a:procedure"]["terms"]) == (
        11,
        3,
    )
    stats = client.get("/api/stats").json()
    assert stats["mappings"]["unreviewed"] == 70 and stats["terms"] == 14
    assert client.get("/api/stats", params={"target": PX}).json()["mappings"]["unreviewed"] == 15


def test_terms_are_filtered_by_the_department_they_were_seen_in(login, workbench):
    client = login("coder1")
    departments = client.get("/api/departments").json()
    assert len(departments) > 1  # the run recorded its stays' departments
    with Store(workbench.url) as store:
        assert departments[0]["department"] == store.departments()[0]["department"]
        everywhere = client.get("/api/queue", params={"limit": 200}).json()["total"]
        for d in departments[:3]:
            page = client.get("/api/queue", params={"department": d["department"], "limit": 200})
            assert page.status_code == 200 and page.json()["department"] == d["department"]
            want = store.queue(department=d["department"]).drop_duplicates(
                ["local_system", "local_code", "local_name"]
            )
            assert page.json()["total"] == len(want) <= everywhere
            assert page.json()["total"] <= d["terms"]
    assert client.get("/api/queue", params={"department": "NOPE"}).status_code == 404
    html = client.get("/queue", params={"department": departments[0]["department"]}).text
    assert 'id="department"' in html and f'value="{departments[0]["department"]}" selected' in html


def test_search_by_chinese_pinyin_initials_and_code(login):
    client = login("coder1")

    def codes(q: str, system: str = DX) -> list[str]:
        response = client.get("/api/search", params={"q": q, "system": system})
        assert response.status_code == 200, response.text
        return [c["code"] for c in response.json()]

    assert "I25.103" in codes("冠状动脉")  # 冠状动脉粥样硬化性心脏病
    assert codes("gxy")[0] == "I10.x00x002"  # 高血压
    assert codes("i25.1") == ["I25.103"]  # a code prefix, any case
    assert "36.0700" in codes("36.07", PX)
    assert codes("zzzzqqq") == []
    assert client.get("/api/search", params={"q": "gxy", "system": "nope"}).status_code == 404
    assert client.get("/api/search", params={"q": ""}).status_code == 422


# -- decisions ----------------------------------------------------------------------------------


def test_a_reviewer_approves_the_version_they_saw_and_the_term_leaves_the_queue(login):
    client = login("rev1")
    term = first_term(client)
    chosen = term["candidates"][1]
    response = decide(client, chosen, "approve", comment="3级 → 高血压 per coding rule")
    assert response.status_code == 200, response.text
    m = response.json()
    assert (m["status"], m["version"], m["reviewer"]) == ("approved", 2, "rev1")
    assert client.get(f"/api/mappings/{chosen['mapping_id']}").json()["status"] == "approved"
    keys = [t["key"] for t in client.get("/api/queue").json()["terms"]]
    assert term["key"] not in keys and len(keys) == 13
    assert client.get("/api/stats").json()["mappings"]["approved"] == 1


def test_coders_flag_and_comment_but_may_not_approve_or_reject(login):
    coder = login("coder1")
    term = first_term(coder)
    best = term["candidates"][0]
    for action in ("approve", "reject"):
        refused = decide(coder, best, action)
        assert refused.status_code == 403
        assert "仅审核员" in refused.json()["detail"] and "reviewers" in refused.json()["detail"]
    assert decide(coder, best, "unreview").status_code == 403  # only a flag can be withdrawn
    commented = decide(coder, best, "comment", comment="分级不一致，请审核").json()
    assert (commented["status"], commented["comment"], commented["version"]) == (
        "unreviewed", "分级不一致，请审核", 2,
    )  # fmt: skip
    flagged = decide(coder, {"mapping_id": best["mapping_id"], "version": 2}, "flag").json()
    assert (flagged["status"], flagged["comment"]) == ("flagged", "分级不一致，请审核")
    withdrawn = decide(coder, {"mapping_id": best["mapping_id"], "version": 3}, "unreview")
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "unreviewed"
    queued = term_of(coder, term["local_name"])["candidates"][0]
    assert queued["comment"] == "分级不一致，请审核" and queued["version"] == 4


def test_a_coder_proposes_a_code_and_a_reviewer_can_propose_and_approve(login):
    coder = login("coder1")
    made = coder.post("/api/terms/propose", json={**CHD, "code": "I20.000", "comment": "看病历"})
    assert made.status_code == 200, made.text
    body = made.json()
    assert body["created"] is True
    m = body["mapping"]
    assert (m["code"], m["author"], m["status"], m["comment"]) == (
        "I20.000", "coder1", "unreviewed", "看病历",
    )  # fmt: skip
    codes = [c["code"] for c in term_of(coder, "冠心病")["candidates"]]
    assert "I20.000" in codes and len(codes) == 6
    again = coder.post("/api/terms/propose", json={**CHD, "code": "I25.103"}).json()
    assert again["created"] is False and again["mapping"]["author"] == "hutong"
    assert coder.post("/api/terms/propose", json={**CHD, "code": "I25.103", "approve": True}
                      ).status_code == 403  # fmt: skip
    assert coder.post("/api/terms/propose", json={**CHD, "code": "X99.999"}).status_code == 404
    ghost = {**CHD, "local_name": "不存在的术语"}
    assert coder.post("/api/terms/propose", json={**ghost, "code": "I20.000"}).status_code == 404
    reviewer = login("rev1")
    approved = reviewer.post("/api/terms/propose", json={**CHD, "code": "I25.103", "approve": True})
    assert approved.json()["mapping"]["status"] == "approved"
    assert approved.json()["mapping"]["reviewer"] == "rev1"


def test_two_users_on_the_same_version_get_a_conflict_naming_who_changed_it(login):
    first, second = login("rev1"), login("rev2")
    seen = first_term(first)["candidates"][0]  # both read version 1
    assert decide(first, seen, "reject").status_code == 200
    late = decide(second, seen, "approve")
    assert late.status_code == 409
    detail = late.json()["detail"]
    assert (detail["kind"], detail["changed_by"], detail["your_version"]) == ("stale", "rev1", 1)
    assert (detail["current_version"], detail["status"]) == (2, "rejected")
    assert "rev1" in detail["message"] and "第 2 版" in detail["message"]
    assert "version 2" in detail["message"] and "reload" in detail["message"]
    assert second.get(f"/api/mappings/{seen['mapping_id']}").json()["status"] == "rejected"
    coder1, coder2 = login("coder1"), login("coder2")
    other = first_term(coder1)["candidates"][1]
    assert decide(coder1, other, "flag", comment="看一下").status_code == 200
    clash = decide(coder2, other, "comment", comment="我不同意")
    assert clash.status_code == 409 and "coder1" in clash.json()["detail"]["message"]
    assert coder2.get(f"/api/mappings/{other['mapping_id']}").json()["comment"] == "看一下"


def test_approving_a_second_candidate_of_an_approved_term_is_a_conflict(login):
    first, second = login("rev1"), login("rev2")
    a, b = first_term(first)["candidates"][:2]  # rev2's page still shows the term
    assert decide(first, a, "approve").status_code == 200
    clash = decide(second, b, "approve")
    assert clash.status_code == 409
    detail = clash.json()["detail"]
    assert (detail["kind"], detail["changed_by"], detail["code"]) == ("approved", "rev1", a["code"])
    assert "unreview" in detail["message"] and "撤销" in detail["message"]
    assert second.get(f"/api/mappings/{a['mapping_id']}").json()["status"] == "approved"


def test_history_says_who_changed_what_and_when(login):
    coder, reviewer = login("coder1"), login("rev1")
    c = first_term(coder)["candidates"][0]
    decide(coder, c, "flag", comment="不确定")
    decide(coder, {**c, "version": 2}, "comment", comment="不确定分级")
    decide(reviewer, {**c, "version": 3}, "approve")
    entries = reviewer.get(f"/api/mappings/{c['mapping_id']}/history").json()
    assert [(e["actor"], e["action"], e["version"]) for e in entries] == [
        ("hutong", "propose", 1), ("coder1", "flag", 2), ("coder1", "comment", 3),
        ("rev1", "approve", 4),
    ]  # fmt: skip
    flag = {d["field"]: (d["before"], d["after"]) for d in entries[1]["changes"]}
    assert flag["status"] == ("unreviewed", "flagged") and flag["comment"] == (None, "不确定")
    comment = {d["field"]: (d["before"], d["after"]) for d in entries[2]["changes"]}
    assert comment == {"comment": ("不确定", "不确定分级")}
    assert {d["field"] for d in entries[3]["changes"]} >= {"status", "reviewer"}
    assert pd.Timestamp(entries[1]["at"]) <= pd.Timestamp(entries[3]["at"])
    assert entries[3]["at"].endswith("Z") or "+00:00" in entries[3]["at"]


def test_bulk_approve_counts_and_is_for_reviewers(login):
    assert login("coder1").post("/api/mappings/bulk-approve", json={"min_score": 99}
                                ).status_code == 403  # fmt: skip
    reviewer = login("rev1")
    done = reviewer.post("/api/mappings/bulk-approve", json={"min_score": 99, "target": PX})
    assert done.status_code == 200
    # only 36.07 has a single best at ≥ 99: 13.41 and 51.23 have two candidates tied at 99
    assert done.json()["approved"] == 1
    assert reviewer.get("/api/stats", params={"target": PX}).json()["mappings"]["approved"] == 1
    assert reviewer.get("/api/stats", params={"target": DX}).json()["mappings"]["approved"] == 0
    for bad in ({"min_score": 101}, {"min_score": "high"}, {}):
        assert reviewer.post("/api/mappings/bulk-approve", json=bad).status_code == 422
    unknown = reviewer.post("/api/mappings/bulk-approve", json={"min_score": 90, "target": "x"})
    assert unknown.status_code == 404


def test_unknown_mappings_are_404_and_bad_input_is_422(login):
    client = login("rev1")
    assert client.get("/api/mappings/99999").status_code == 404
    assert "没有映射" in client.get("/api/mappings/99999").json()["detail"]
    assert client.get("/api/mappings/99999/history").status_code == 404
    body = {"action": "flag", "version": 1}
    assert client.post("/api/mappings/99999/decision", json=body).status_code == 404
    for bad in ({"action": "bless", "version": 1}, {"action": "flag", "version": 0},
                {"action": "flag"}, {"action": "flag", "version": 1, "code": "I10.x05"},
                {"action": "comment", "version": 1, "comment": "  "},
                {"action": "flag", "version": 1, "comment": "nul\x00"}):  # fmt: skip
        assert client.post("/api/mappings/1/decision", json=bad).status_code == 422, bad
    assert client.get("/api/mappings/0").status_code == 422
    assert client.get("/api/mappings/99999999999").status_code == 422
    wrong = client.post("/api/mappings/1/decision",
                        json={"action": "approve", "version": 1, "code": "X99.999"})  # fmt: skip
    assert wrong.status_code == 404 and "X99.999" in wrong.json()["detail"]


def test_the_api_document_declares_every_status(app, login):
    paths = login("coder1").get("/api/openapi.json").json()["paths"]
    mine = {p: ops for p, ops in paths.items() if re.match(r"/api/(queue|search|mappings|terms|"
                                                           r"stats|local-systems)", p)}  # fmt: skip
    assert len(mine) == 9
    for path, operations in mine.items():
        for method, operation in operations.items():
            assert {"200", "401", "422"} <= set(operation["responses"]), (method, path)
    assert "409" in paths["/api/mappings/{mapping_id}/decision"]["post"]["responses"]


# -- the page -----------------------------------------------------------------------------------


def test_the_queue_page_renders_terms_candidates_and_the_shortcuts(login):
    coder = login("coder1")
    html = coder.get("/queue").text
    assert len(re.findall(r'<tr class="term[^"]*" data-term="', html)) == 14
    assert 'data-term="icd10-yb-2.0|vendor-a:diagnosis|I10|高血压3级极高危"' in html
    assert len(re.findall(r'<tr class="candidate[^"]*" data-mapping-id="\d+" data-version="1"',
                          html)) == 5  # fmt: skip
    assert 'id="help"' in html and html.count('class="shortcut"') >= 14
    for key in ("j / ↓", "1–9", "<kbd>a</kbd>", "<kbd>/</kbd>", "<kbd>?</kbd>", "<kbd>b</kbd>"):
        assert key in html, key
    assert '<script src="/static/queue.js" defer></script>' in html
    assert 'data-can-approve="false"' in html and 'id="bulk"' not in html
    data = re.search(r'<script type="application/json" id="queue-data">(.*?)</script>', html, re.S)
    assert json.loads(data.group(1))["total"] == 14
    reviewer = login("rev1").get("/queue", params={"target": PX}).text
    assert 'data-can-approve="true"' in reviewer and 'id="bulk"' in reviewer
    assert len(re.findall(r'<tr class="term[^"]*" data-term="', reviewer)) == 3
    wrong = coder.get("/queue", params={"local_system": "vendor-z"}).text
    assert 'id="filter-error"' in wrong and wrong.count('data-term="') == 14
    assert coder.get("/static/queue.js").status_code == 200


# -- PostgreSQL too -----------------------------------------------------------------------------


def test_a_stale_decision_is_a_conflict_on_either_backend(store_url):
    url = store_url()
    with Store(url) as store:
        store.save_code_system(sample_code_system(DIAGNOSIS))
        terms = pd.DataFrame({"local_code": ["I25.1"], "local_name": ["冠心病"], "count": [3]})
        store.record_terms("his:diagnosis", DIAGNOSIS, terms)
        (m,) = store.propose("his:diagnosis", "I25.1", "冠心病", DIAGNOSIS,
                             [("I25.103", "", 99.0)])  # fmt: skip
        accounts = Accounts(store)
        for name in ("rev1", "rev2"):
            accounts.add_user(name, PASSWORD, "reviewer")
    app = create_app(Settings(store_url=url))
    clients = []
    for name in ("rev1", "rev2"):
        client = TestClient(app)
        pre = client.get("/api/csrf").json()["csrf"]
        signed = client.post("/api/login", json={"username": name, "password": PASSWORD},
                             headers={"X-CSRF-Token": pre})  # fmt: skip
        client.headers["X-CSRF-Token"] = signed.json()["csrf"]
        clients.append(client)
    seen = {"mapping_id": m.id, "version": m.version}
    assert decide(clients[0], seen, "approve").status_code == 200
    late = decide(clients[1], seen, "reject")
    assert late.status_code == 409 and late.json()["detail"]["changed_by"] == "rev1"
    app.state.store.close()
