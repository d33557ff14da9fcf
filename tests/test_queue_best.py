"""The coders' queue: partitions list their unmapped terms, the run adds the matcher's best
candidate once per distinct term; the queue is the one a whole run in one piece gives."""

from __future__ import annotations

import pandas as pd

from hutong import assemble
from hutong.terminologies.codesystem import DIAGNOSIS, PROCEDURE, sample_code_system
from hutong.terminologies.coding import UNMAPPED, Coder, unmapped, with_best


def _rows(table: str, terms: list[tuple[str, str]], first: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "mdtrt_id": [f"ZY{first + i}" for i in range(len(terms))],
            "local_code": [c for c, _ in terms],
            "local_name": [n for _, n in terms],
            "locator": [f"{table}.csv:{first + i + 2}" for i in range(len(terms))],
            "vendor": "vendor-a",
            "map_status": UNMAPPED,
        }
    )


def test_best_candidates_added_once_per_term_give_the_whole_runs_queue(tmp_path):
    coders = {
        "diagnosis": Coder(sample_code_system(DIAGNOSIS)),
        "procedure": Coder(sample_code_system(PROCEDURE)),
    }
    first = {
        "diagnosis": _rows("diagnosis", [("X1", "冠心病"), ("X2", "2型糖尿病伴肾病")], 0),
        "procedure": _rows("procedure", [("P1", "阑尾切除")], 0),
    }
    second = {
        "diagnosis": _rows("diagnosis", [("X1", "冠心病"), ("", "高血压病")], 10),
        "procedure": _rows("procedure", [], 10),
    }
    whole = {t: pd.concat([first[t], second[t]], ignore_index=True) for t in first}
    expected = tmp_path / "whole.csv"
    unmapped(whole, coders).to_csv(expected, index=False, encoding="utf-8-sig")

    parts = []
    for number, frames in enumerate((first, second)):
        part = tmp_path / f"p{number}"
        part.mkdir()
        queue = unmapped(frames, coders, best=False)
        assert queue["best_code"].isna().all()  # the partition leaves them to the run
        queue.to_csv(part / "unmapped.csv", index=False, encoding="utf-8-sig")
        parts.append(part)
    got = tmp_path / "run.csv"
    with_best(assemble.queue(parts), coders).to_csv(got, index=False, encoding="utf-8-sig")

    assert got.read_bytes() == expected.read_bytes()
    run = pd.read_csv(got, dtype=str, keep_default_na=False)
    chd = run[run["local_name"] == "冠心病"].iloc[0]
    assert chd["count"] == "2" and chd["best_code"].startswith("I25") and chd["why"]
