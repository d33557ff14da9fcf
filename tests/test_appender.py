"""The appender concatenates the parts' outputs as they finish, in part order only: whatever
order the partitions finish in, the bytes are those concat_files gives at the end."""

from __future__ import annotations

from pathlib import Path

import pytest

from hutong.assemble import Appender
from hutong.quality.job import concat_files
from hutong.stages import DONE


def _part(folder: Path, index: int, fhir: list[str]) -> Path:
    part = folder / f"p{index:05d}"
    (part / "qc").mkdir(parents=True)
    (part / "qc" / "findings.csv").write_bytes(
        f"\ufeffmdtrt_id,rule_id\n{index},R{index}\n{index},S{index}\n".encode()
    )
    (part / "fhir").mkdir()
    for kind in fhir:
        (part / "fhir" / f"{kind}.ndjson").write_text(f'{{"id": "{kind}-{index}"}}\n', "utf-8")
    return part


def test_parts_finishing_out_of_order_give_the_bytes_of_one_concatenation(tmp_path):
    kinds = [["Patient"], [], ["Patient", "Encounter"]]
    parts = [_part(tmp_path / "work", i, k) for i, k in enumerate(kinds)]
    out = tmp_path / "out"
    appender = Appender(parts, out, {"qc": ("findings.csv", "scores.csv"), "fhir": None})
    (parts[2] / DONE).write_text("")
    appender.catch_up()
    assert appender.taken == 0  # the third part waits for the first two
    (parts[0] / DONE).write_text("")
    appender.catch_up()
    assert appender.taken == 1
    (parts[1] / DONE).write_text("")
    appender.close()

    expected = tmp_path / "expected.csv"
    concat_files([p / "qc" / "findings.csv" for p in parts], expected)
    assert (out / "qc" / "findings.csv").read_bytes() == expected.read_bytes()
    assert (out / "qc" / "findings.csv").read_text("utf-8-sig").count("mdtrt_id") == 1
    assert (out / "qc" / "scores.csv").read_bytes() == b""  # named, in no part: empty
    assert (out / "fhir" / "Patient.ndjson").read_text("utf-8").splitlines() == [
        '{"id": "Patient-0"}',
        '{"id": "Patient-2"}',
    ]
    assert sorted(f.name for f in (out / "fhir").iterdir()) == [
        "Encounter.ndjson",
        "Patient.ndjson",
    ]


def test_closing_before_every_part_is_done_fails(tmp_path):
    parts = [_part(tmp_path / "work", i, []) for i in range(2)]
    (parts[0] / DONE).write_text("")
    appender = Appender(parts, tmp_path / "out", {"qc": ("findings.csv",)})
    with pytest.raises(RuntimeError, match="p00001"):
        appender.close()
