"""Two coders in two processes decide the same mapping at once: one wins, one is told why."""

from __future__ import annotations

import multiprocessing

from hutong.terminologies.codesystem import DIAGNOSIS, sample_code_system
from hutong.terminologies.store import Store
from stores import LOCAL, decide_after_barrier, store_url_fixture  # noqa: F401


def test_concurrent_decisions_on_one_mapping_let_exactly_one_through(store_url):
    url = store_url()
    with Store(url) as store:
        store.save_code_system(sample_code_system(DIAGNOSIS))
        [mapping] = store.propose(LOCAL, "L001", "冠心病", DIAGNOSIS, [("I25.103", "", 0.9)])
    spawn = multiprocessing.get_context("spawn")
    barrier, results = spawn.Barrier(2), spawn.Queue()
    coders = [
        spawn.Process(
            target=decide_after_barrier, args=(url, mapping.id, action, user, barrier, results)
        )
        for action, user in (("approve", "alice"), ("reject", "bob"))
    ]
    for coder in coders:
        coder.start()
    outcomes = sorted((results.get(timeout=120) for _ in coders), key=lambda r: r[1] != "ok")
    for coder in coders:
        coder.join(timeout=60)
        assert coder.exitcode == 0
    [(winner, won, seen), (loser, lost, message)] = outcomes
    assert (won, lost, seen) == ("ok", "conflict", 1), outcomes
    assert f"changed by {winner} at" in message
    assert "you had version 1, it is now version 2" in message
    with Store(url) as store:
        history = store.history(mapping.id)
        assert [h["action"] for h in history] == [
            "propose",
            {"alice": "approve", "bob": "reject"}[winner],
        ]
        assert history[-1]["actor"] == winner != loser
        assert store.mapping(mapping.id).version == 2
