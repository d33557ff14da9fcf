"""Province-scale generation: streamed in chunks, the same bytes however it is chunked, bounded
memory, a progress callback, and the HL7 v2 export read back by hutong's reader and hl7apy."""

from __future__ import annotations

import hashlib
import tracemalloc
from pathlib import Path

import pytest
from openpyxl import Workbook

from hutong.adapters import hl7v2
from hutong.synthetic import generate, generate_cases, iter_cases
from hutong.synthetic.hl7 import HL7Writer
from hutong.synthetic.xlsx import XlsxSheet, escape
from hutong.workbook import save_workbook

VENDORS = {"vendor-a": 2024, "vendor-b": 2025, "lis-a": 2024, "hl7": 2024}


def digests(paths: list[Path]) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


@pytest.mark.parametrize(("vendor", "seed"), VENDORS.items())
def test_chunk_size_never_changes_the_bytes(vendor, seed, tmp_path):
    small = generate(vendor, 60, seed, tmp_path / "small", chunk=7)
    whole = generate(vendor, 60, seed, tmp_path / "whole", chunk=10_000)
    assert digests(small) == digests(whole)
    assert all(p.stat().st_size > 0 for p in small)


@pytest.mark.parametrize("vendor", ["vendor-b", "hl7"])
def test_worker_processes_never_change_the_bytes(vendor, tmp_path):
    alone = generate(vendor, 50, 9, tmp_path / "alone", chunk=8)
    pooled = generate(vendor, 50, 9, tmp_path / "pooled", chunk=8, workers=2)
    assert digests(alone) == digests(pooled)


def test_chunks_are_the_cases_of_generate_cases():
    chunks = list(iter_cases(45, 7, chunk=10))
    assert [len(c) for c in chunks] == [10, 10, 10, 10, 5]
    flat = [case for chunk in chunks for case in chunk]
    assert flat == generate_cases(45, 7)
    bare = [case for chunk in iter_cases(45, 7, chunk=45, itemise=False) for case in chunk]
    assert all(case["fee_lines"] == [] for case in bare)
    assert [{**c, "fee_lines": []} for c in flat] == bare  # only the fee lines are skipped


def test_progress_is_reported_after_each_chunk(tmp_path):
    seen: list[int] = []
    generate("vendor-a", 25, 1, tmp_path, on_progress=seen.append, chunk=10)
    assert seen == [10, 20, 25]


def test_memory_does_not_grow_with_the_case_count(tmp_path):
    def peak(cases: int) -> int:
        tracemalloc.start()
        generate("vendor-b", cases, 3, tmp_path / str(cases), chunk=100)
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    peak(100)  # load the profile, case mix and templates first
    few, many = peak(600), peak(2400)
    assert many < few * 1.3, (few, many)


TRICKY = [
    "plain",
    "a & b < c > d",
    "quote \" and apostrophe '",
    "  leading and trailing  ",
    "line\nbreak\ttab",
    "carriage\rreturn",
    "trailing return\r",
    "冠状动脉粥样硬化性心脏病",
    "𠀀 beyond the BMP",
    "",
    "x" * 300,
]


@pytest.mark.parametrize("known", [True, False])
def test_streamed_sheet_equals_what_openpyxl_saves(known, tmp_path):
    header = ["代码", "名称", "备注"]
    rows = [[TRICKY[i % len(TRICKY)], TRICKY[(i * 3) % len(TRICKY)], str(i)] for i in range(40)]
    book = Workbook()
    sheet = book.active
    sheet.title = "SHEET"
    for values in [header, *([v or None for v in row] for row in rows)]:
        sheet.append(values)
    for line in sheet.iter_rows():
        for cell in line:
            cell.number_format = "@"
    expected = save_workbook(book, tmp_path / "openpyxl" / "SHEET.xlsx").read_bytes()
    (tmp_path / "stream").mkdir()
    streamed = XlsxSheet(tmp_path / "stream" / "SHEET.xlsx", header, len(rows) if known else None)
    for row in rows:
        streamed.append(row)
    assert streamed.close().read_bytes() == expected


def test_escape_is_ascii_with_character_references():
    assert escape("a&<>\r冠") == "a&amp;&lt;&gt;&#13;&#20896;"
    assert escape("𠀀").isascii()


def test_a_sheet_with_fewer_rows_than_announced_is_an_error(tmp_path):
    sheet = XlsxSheet(tmp_path / "S.xlsx", ["A"], rows=2)
    sheet.append(["x"])
    with pytest.raises(ValueError, match="1 rows written, 2 said"):
        sheet.close()


@pytest.fixture(scope="module")
def hl7_run(tmp_path_factory) -> tuple[list[dict], list[Path]]:
    out = tmp_path_factory.mktemp("hl7")
    return generate_cases(200, 2024), generate("hl7", 200, 2024, out)


def test_hl7_messages_convert_with_the_hutong_reader(hl7_run):
    cases, paths = hl7_run
    batches = [batch for path in paths for batch in hl7v2.read(path)]
    assert [r.reason for b in batches for r in b.rejects] == []
    encounters = {
        row["mdtrt_id"]: row
        for b in batches
        if "encounter" in b.tables
        for row in b.tables["encounter"].to_dict("records")
    }
    clean = [c for c in cases if not c["broken"]]
    for case in clean:
        enc = case["encounter"]
        assert encounters[enc["mdtrt_id"]]["patient_id"] == enc["patient_id"]
    diagnoses = {
        (row["mdtrt_id"], row["seq"]): row["local_code"]
        for b in batches
        if "diagnosis" in b.tables
        for row in b.tables["diagnosis"].to_dict("records")
    }
    for case in clean:
        for dx in case["diagnoses"]:
            assert diagnoses[(dx["mdtrt_id"], dx["seq"])] == dx["code"]
    results = sum(len(b.tables.get("observation", [])) for b in batches)
    assert results > len(clean)  # every clean adult stay has at least one panel


def test_hl7_messages_parse_and_validate_with_hl7apy(hl7_run):
    from hl7apy.consts import VALIDATION_LEVEL
    from hl7apy.parser import parse_message

    _, paths = hl7_run
    text = paths[0].read_bytes().decode("utf-8")
    messages = [m for m in text.split("\n") if m]
    kinds = set()
    for message in messages[:9]:
        parsed = parse_message(message.rstrip("\r"), validation_level=VALIDATION_LEVEL.STRICT)
        assert parsed.validate()
        assert parsed.msh.msh_18.value == "UNICODE UTF-8"
        kinds.add(parsed.msh.msh_9.value)
    assert kinds == {"ADT^A01^ADT_A01", "ADT^A03^ADT_A03", "ORU^R01^ORU_R01"}


def test_hl7_files_hold_a_fixed_number_of_messages(tmp_path):
    writer = HL7Writer(tmp_path, seed=5, per_file=4)
    writer.write(generate_cases(5, 5))
    paths = writer.close()
    counts = [p.read_bytes().count(b"MSH|") for p in paths]
    assert [p.name for p in paths][:2] == ["messages-00001.hl7", "messages-00002.hl7"]
    assert all(c == 4 for c in counts[:-1]) and 0 < counts[-1] <= 4
    assert sum(counts) >= 10  # an admission and a discharge per case at least


def test_a_zip64_sheet_still_opens(tmp_path, monkeypatch):
    from openpyxl import load_workbook

    from hutong.synthetic import xlsx

    monkeypatch.setattr(xlsx, "ZIP64_CELL_BYTES", 10**9)  # as for a million-row sheet
    sheet = XlsxSheet(tmp_path / "BIG.xlsx", ["A", "B"], rows=3)
    for i in range(3):
        sheet.append([f"r{i}", "冠心病"])
    book = load_workbook(sheet.close(), read_only=True)
    assert [list(r) for r in book.active.iter_rows(values_only=True)][-1] == ["r2", "冠心病"]
    book.close()


def test_cli_generates_hl7_that_a_run_converts(tmp_path):
    from typer.testing import CliRunner

    from hutong.cli import app

    runner = CliRunner()
    made = runner.invoke(
        app, ["samples", "generate", "--vendor", "hl7", "--cases", "40", "-o", str(tmp_path / "h")]
    )
    assert made.exit_code == 0, made.output
    assert (tmp_path / "h" / "messages-00001.hl7").exists()
    ran = runner.invoke(app, ["run", str(tmp_path / "h"), "-o", str(tmp_path / "o"), "-q",
                              "--no-store"])  # fmt: skip
    assert ran.exit_code == 0, ran.output
    import json

    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text("utf-8"))
    assert (
        manifest["tables"]["encounter"] >= 39
        and sum(f["rejected"] for f in manifest["inputs"]) == 0
    )
