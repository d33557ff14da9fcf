"""Curation: local terms, proposals, coders' decisions with their audit trail, bulk work."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from hutong.terminologies.codesystem import DIAGNOSIS, PROCEDURE, sample_code_system
from hutong.terminologies.store import MappingConflict
from stores import LOCAL, new_store_fixture, next_version, store_fixture, store_url_fixture, terms  # noqa: F401


def propose_chd(store, status="unreviewed"):
    """冠心病 with two candidates, the right one first."""
    return store.propose(
        LOCAL, "L001", "冠心病", DIAGNOSIS,
        [("I25.103", "冠状动脉粥样硬化性心脏病", 0.92), ("I20.000", "不稳定型心绞痛", 0.41)],
        status=status,
    )  # fmt: skip


def test_recording_terms_sums_frequencies_and_keeps_the_first_example(store):
    assert (
        store.record_terms(LOCAL, DIAGNOSIS, terms(("L001", "冠心病", 3), ("L001", "冠心病", 2)))
        == 1
    )
    store.record_terms(LOCAL, DIAGNOSIS, terms(("L001", "冠心病", 4), (None, "高血压", 1)))
    queue = store.queue(DIAGNOSIS)
    assert queue[["local_code", "local_name", "frequency", "example"]].values.tolist() == [
        ["L001", "冠心病", 9, "his.csv:2"],
        ["", "高血压", 1, "his.csv:3"],
    ]
    assert queue["mapping_id"].isna().all()  # no candidate yet


def test_a_term_with_neither_code_nor_name_is_refused(store):
    with pytest.raises(ValueError, match=r"vendor-a:diagnosis: 1 local term\(s\) with neither"):
        store.record_terms(LOCAL, DIAGNOSIS, terms(("L1", "甲", 1), ("  ", None, 1)))
    assert store.stats()["terms"] == 0  # nothing recorded
    with pytest.raises(ValueError, match="needs a code or a name"):
        store.propose(LOCAL, "", None, DIAGNOSIS, [("I25.103", "", 0.9)])
    with pytest.raises(ValueError, match="unknown code system 'icd-10'"):
        store.record_terms(LOCAL, "icd-10", terms(("L1", "甲", 1)))
    with pytest.raises(ValueError, match=r"icd10-yb-2.0 2.0 has no code\(s\) I25.1"):
        store.propose(LOCAL, "L1", "甲", DIAGNOSIS, [("I25.1", "", 0.9)])


def test_propose_then_approve_is_audited_with_who_when_before_and_after(store):
    started = datetime.now(UTC) - timedelta(seconds=1)
    best, other = propose_chd(store)
    assert (best.code, best.display, best.status, best.author, best.version) == (
        "I25.103", "冠状动脉粥样硬化性心脏病", "unreviewed", "hutong", 1,
    )  # fmt: skip
    decided = store.decide(best.id, "approve", "alice", best.version, comment="查阅病历")
    assert (decided.status, decided.reviewer, decided.author, decided.version) == (
        "approved", "alice", "hutong", 2,
    )  # fmt: skip
    proposed, approved = store.history(best.id)
    assert (proposed["action"], proposed["actor"], proposed["before"]) == (
        "propose",
        "hutong",
        None,
    )
    assert proposed["after"]["status"] == "unreviewed"
    assert (approved["action"], approved["actor"]) == ("approve", "alice")
    assert approved["before"]["status"] == "unreviewed" and approved["before"]["version"] == 1
    assert approved["after"]["status"] == "approved" and approved["after"]["comment"] == "查阅病历"
    assert started <= proposed["at"] <= approved["at"] <= datetime.now(UTC)
    table = store.approved(DIAGNOSIS)
    assert table.to_dict("records") == [
        {
            "local_system": LOCAL, "local_code": "L001", "local_name": "冠心病",
            "code": "I25.103", "display": "冠状动脉粥样硬化性心脏病", "status": "approved",
            "score": 0.92,
        }
    ]  # fmt: skip
    assert store.mapping(other.id).status == "unreviewed"


def test_approving_a_second_candidate_demotes_the_first(store):
    best, other = propose_chd(store)
    store.decide(best.id, "approve", "alice", 1)
    store.decide(other.id, "approve", "bob", 1)
    assert store.approved(DIAGNOSIS)["code"].tolist() == ["I20.000"]
    demoted = store.mapping(best.id)
    assert (demoted.status, demoted.reviewer, demoted.version) == ("unreviewed", "bob", 3)
    last = store.history(best.id)[-1]
    assert (last["action"], last["actor"], last["before"]["status"]) == (
        "demote",
        "bob",
        "approved",
    )


def test_the_database_refuses_two_applied_mappings_for_one_term(store):
    best, other = propose_chd(store)
    store.decide(best.id, "approve", "alice", 1)
    with store.engine.begin() as conn, pytest.raises(sa.exc.IntegrityError):
        conn.execute(sa.text(f"UPDATE mapping SET status = 'auto' WHERE id = {other.id}"))


def test_a_stale_decision_raises_a_conflict_naming_who_changed_it(store):
    best, _ = propose_chd(store)
    store.decide(best.id, "flag", "alice", 1, comment="需确认")
    with pytest.raises(MappingConflict) as caught:
        store.decide(best.id, "reject", "bob", 1)
    message = str(caught.value)
    assert f"mapping {best.id} (vendor-a:diagnosis L001 冠心病 → I25.103)" in message
    assert "changed by alice at" in message
    assert "you had version 1, it is now version 2" in message
    assert (caught.value.expected, caught.value.current, caught.value.by) == (1, 2, "alice")
    assert store.mapping(best.id).status == "flagged"
    assert [h["action"] for h in store.history(best.id)] == ["propose", "flag"]


def test_a_coder_may_correct_the_code_and_must_explain_a_narrower_map(store):
    best, _ = propose_chd(store)
    fixed = store.decide(best.id, "approve", "alice", 1, code="I25.103 ", equivalence="equal")
    assert (fixed.code, fixed.equivalence) == ("I25.103", "equal")
    with pytest.raises(ValueError, match="narrower mapping needs a comment"):
        store.decide(best.id, "approve", "alice", 2, equivalence="narrower")
    with pytest.raises(ValueError, match=r"has no code\(s\) X00.000"):
        store.decide(best.id, "approve", "alice", 2, code="X00.000")
    with pytest.raises(ValueError, match=r"already maps this term to I20\.000"):
        store.decide(best.id, "approve", "alice", 2, code="I20.000")
    with pytest.raises(ValueError, match="unknown action 'accept'"):
        store.decide(best.id, "accept", "alice", 2)
    with pytest.raises(ValueError, match="no mapping 999"):
        store.decide(999, "approve", "alice", 1)
    assert store.mapping(best.id).version == 2


def test_auto_status_applies_the_first_candidate_and_is_marked(store):
    best, other = propose_chd(store, status="auto")
    assert (best.status, other.status) == ("auto", "unreviewed")
    assert store.approved(DIAGNOSIS)[["code", "status"]].values.tolist() == [["I25.103", "auto"]]
    # A term a coder decided keeps its decision when the matcher proposes again.
    store.decide(other.id, "approve", "alice", 1)
    again = propose_chd(store, status="auto")
    assert {m.code: m.status for m in again} == {"I25.103": "unreviewed", "I20.000": "approved"}


def test_the_audit_log_refuses_update_and_delete(store):
    best, _ = propose_chd(store)
    for statement in ("UPDATE audit SET actor = 'mallory'", "DELETE FROM audit"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):  # noqa: SIM117
            with store.engine.begin() as conn:
                conn.execute(sa.text(statement))
    assert [h["actor"] for h in store.history(best.id)] == ["hutong"]


def test_the_queue_lists_frequent_terms_first_and_leaves_out_decided_ones(store):
    store.record_terms(
        LOCAL, DIAGNOSIS, terms(("L001", "冠心病", 5), ("L002", "脑梗", 40), (None, "高血压", 9))
    )
    best, _ = propose_chd(store)
    store.propose(LOCAL, "L002", "脑梗", DIAGNOSIS, [("I63.900", "", 0.8)])
    queue = store.queue(DIAGNOSIS)
    assert queue[["local_name", "code"]].fillna("-").values.tolist() == [
        ["脑梗", "I63.900"], ["高血压", "-"], ["冠心病", "I25.103"], ["冠心病", "I20.000"],
    ]  # fmt: skip
    store.decide(best.id, "approve", "alice", 1)
    assert "冠心病" not in store.queue(DIAGNOSIS)["local_name"].tolist()
    assert store.queue(DIAGNOSIS, limit=1)["local_name"].tolist() == ["脑梗"]
    assert store.queue(status="approved")["code"].tolist() == ["I25.103"]
    stats = store.stats(DIAGNOSIS)
    assert stats["mappings"]["approved"] == 1 and stats["mappings"]["unreviewed"] == 2
    assert (stats["terms"], stats["covered_terms"], stats["frequency"]) == (3, 1, 54)
    assert stats["coverage_frequency"] == pytest.approx(5 / 54)
    # a procedure list's terms count for the procedure target, not against the diagnoses
    store.save_code_system(sample_code_system(PROCEDURE))
    store.record_terms("vendor-a:procedure", PROCEDURE, terms(("P01", "阑尾切除术", 7)))
    assert store.stats(DIAGNOSIS)["terms"] == 3 and store.stats(DIAGNOSIS)["frequency"] == 54
    assert (store.stats(PROCEDURE)["terms"], store.stats(PROCEDURE)["covered_terms"]) == (1, 0)
    assert store.stats()["terms"] == 4  # all targets


def test_bulk_approve_takes_clear_winners_and_skips_ties_and_decided_terms(store):
    propose_chd(store)  # 0.92 beats 0.41: approved
    store.propose(LOCAL, "L002", "脑梗", DIAGNOSIS, [("I63.900", "", 0.9), ("I63.905", "", 0.9)])
    store.propose(LOCAL, "L003", "贫血", DIAGNOSIS, [("D64.901", "", 0.5)])  # below threshold
    [done] = store.propose(LOCAL, "L004", "肥胖", DIAGNOSIS, [("E66.900", "", 0.95)])
    store.decide(done.id, "reject", "alice", 1)
    [auto] = store.propose(LOCAL, "L005", "低钾", DIAGNOSIS, [("E87.600", "", 0.99)], status="auto")
    assert store.bulk_approve(0.85, "bob", target=DIAGNOSIS) == 2
    approved = store.approved(DIAGNOSIS)
    assert approved[["local_code", "code", "status"]].values.tolist() == [
        ["L001", "I25.103", "approved"], ["L005", "E87.600", "approved"],
    ]  # fmt: skip
    last = store.history(auto.id)[-1]
    assert (last["action"], last["actor"], last["before"]["status"]) == (
        "bulk-approve",
        "bob",
        "auto",
    )
    assert store.bulk_approve(0.85, "bob") == 0  # nothing left that is clear


def test_reapply_moves_kept_codes_and_flags_renamed_and_retired_ones(store):
    kept = store.propose(LOCAL, "L1", "脑梗", DIAGNOSIS, [("I63.900", "", 0.9)], status="auto")[0]
    renamed = store.propose(LOCAL, "L2", "房颤", DIAGNOSIS, [("I48.000", "", 0.9)])[0]
    retired = store.propose(LOCAL, "L3", "贫血", DIAGNOSIS, [("D64.901", "", 0.9)])[0]
    pending = store.propose(LOCAL, "L4", "肥胖", DIAGNOSIS, [("E66.900", "", 0.9)])[0]
    for m in (renamed, retired):
        store.decide(m.id, "approve", "alice", 1)
    new = next_version(
        sample_code_system(DIAGNOSIS), "2.1", {"I48.000": "阵发性心房颤动（新）"}, {"D64.901"}
    )
    store.save_code_system(new)
    report = store.reapply(DIAGNOSIS, "2.1", "carol")
    assert report.counts == {"moved": 1, "renamed": 1, "retired": 1}
    assert report.rows[["local_code", "outcome", "status"]].values.tolist() == [
        ["L1", "moved", "auto"], ["L2", "renamed", "flagged"], ["L3", "retired", "flagged"],
    ]  # fmt: skip
    moved = store.mapping(kept.id)
    assert (moved.target_version, moved.status) == ("2.1", "auto")
    changed = store.mapping(renamed.id)
    assert changed.target_version == "2.1" and changed.display == "阵发性心房颤动（新）"
    assert changed.comment == "name changed: 阵发性心房颤动 → 阵发性心房颤动（新）"
    gone = store.mapping(retired.id)
    assert (gone.target_version, gone.status) == ("2.0", "flagged")
    assert gone.comment == "retired: D64.901 is not in icd10-yb-2.0 2.1"
    assert store.mapping(pending.id).target_version == "2.0"  # unreviewed: untouched
    assert store.history(renamed.id)[-1]["actor"] == "carol"
    assert store.approved(DIAGNOSIS)["code"].tolist() == ["I63.900"]
    with pytest.raises(ValueError, match=r"icd10-yb-2.0 2.1 has no code\(s\) D64.901"):
        store.decide(gone.id, "approve", "alice", gone.version)  # a retired code stays out
    again = store.decide(changed.id, "approve", "alice", changed.version)
    assert (again.status, again.target_version) == ("approved", "2.1")
    assert store.reapply(DIAGNOSIS, "2.1", "carol").counts == {
        "moved": 0,
        "renamed": 0,
        "retired": 0,
    }


def test_bulk_approve_leaves_codes_retired_since_the_proposal_to_a_coder(store):
    [gone] = store.propose(LOCAL, "L1", "贫血", DIAGNOSIS, [("D64.901", "", 0.9)])
    [kept] = store.propose(LOCAL, "L2", "脑梗", DIAGNOSIS, [("I63.900", "", 0.9)])
    store.save_code_system(next_version(sample_code_system(DIAGNOSIS), "2.1", {}, {"D64.901"}))
    assert store.bulk_approve(0.5, "bob") == 1
    assert store.mapping(gone.id).status == "unreviewed"
    assert (store.mapping(kept.id).status, store.mapping(kept.id).target_version) == (
        "approved", "2.1",
    )  # fmt: skip


def test_terms_are_counted_per_department_and_the_queue_filters_by_one(store):
    batch = terms(("L001", "冠心病", 3), ("L001", "冠心病", 2), (None, "高血压", 4))
    batch["department"] = ["A03", "A05", "A03"]
    store.record_terms(LOCAL, DIAGNOSIS, batch)
    store.record_terms(LOCAL, DIAGNOSIS, batch.iloc[:1])  # a later export: 3 more in A03
    assert store.departments() == [
        {"department": "A03", "terms": 2, "frequency": 10},
        {"department": "A05", "terms": 1, "frequency": 2},
    ]
    assert store.departments(local_system="other:diagnosis") == []
    everywhere = store.queue(DIAGNOSIS)
    assert everywhere.set_index("local_name")["frequency"].to_dict() == {"冠心病": 8, "高血压": 4}
    assert store.queue(DIAGNOSIS, department="A05")["local_name"].tolist() == ["冠心病"]
    assert sorted(store.queue(DIAGNOSIS, department="A03")["local_name"]) == ["冠心病", "高血压"]
    assert store.queue(DIAGNOSIS, department="B01").empty
