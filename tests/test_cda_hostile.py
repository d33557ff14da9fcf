"""Hostile and broken XML: refused quickly, with one reject, without the network or the memory
the input asks for."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hutong.adapters import cda
from hutong.adapters.cda import safe

ROOT_OPEN = '<ClinicalDocument xmlns="urn:hl7-org:v3">'
ROOT_CLOSE = "</ClinicalDocument>"
PATIENT = (
    '<recordTarget><patientRole><id root="1.2" extension="P1"/>'
    "<patient><name>A</name></patient></patientRole></recordTarget>"
)


def refused(path: Path) -> tuple[str, str]:
    """(reason, message) of the one reject of ``path`` (how fast: benchmarks, not here)."""
    batches = list(cda.read(path))
    assert len(batches) == 1 and batches[0].read == 1 and batches[0].tables == {}
    [reject] = batches[0].rejects
    assert reject.locator == path.name and reject.source == path.as_posix()
    return reject.reason, reject.message


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize(
    "target", ["file:///etc/passwd", "http://127.0.0.1:9/cda.dtd", "https://example.invalid/x"]
)
def test_external_entities_are_refused(tmp_path, target):
    text = f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "{target}">]>'
    path = write(tmp_path, "xxe.xml", text + ROOT_OPEN + PATIENT + "&x;" + ROOT_CLOSE)
    reason, message = refused(path)
    assert reason == "hostile" and "DOCTYPE" in message
    assert "root:" not in message


def test_external_dtd_is_refused(tmp_path):
    text = '<!DOCTYPE ClinicalDocument SYSTEM "http://127.0.0.1:9/cda.dtd">'
    assert refused(write(tmp_path, "dtd.xml", text + ROOT_OPEN + ROOT_CLOSE))[0] == "hostile"


ENTITIES = ['<!ENTITY lol0 "lol">'] + [
    f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
]
LAUGHS = "<!DOCTYPE lolz [" + "".join(ENTITIES) + "]>"  # &lol9; is 10^9 lols


def test_billion_laughs_is_refused(tmp_path):
    path = write(tmp_path, "laughs.xml", LAUGHS + ROOT_OPEN + PATIENT + "&lol9;" + ROOT_CLOSE)
    assert refused(path)[0] == "hostile"


def test_a_doctype_hidden_behind_a_long_prolog_is_still_refused(tmp_path):
    """Past the first chunk the prolog is not scanned; the parsed tree is checked instead, and
    entities were never expanded (resolve_entities=False), so nothing was read or blown up."""
    padding = "<!--" + "x" * (safe.CHUNK * 2) + "-->"
    text = padding + LAUGHS.replace("]>", '<!ENTITY x SYSTEM "file:///etc/passwd">]>')
    path = write(tmp_path, "hidden.xml", text + ROOT_OPEN + PATIENT + "&x;&lol9;" + ROOT_CLOSE)
    assert refused(path)[0] == "hostile"


MEASURE = """
import resource, sys
from pathlib import Path
from hutong.adapters import cda
path = Path(sys.argv[1])
next(cda.read(path.with_name("warm.xml")))  # imports and first-use caches, not the input
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
batch = next(cda.read(path))
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(batch.rejects[0].reason, (after - before) // 1024)
"""


def peak_growth(path: Path) -> tuple[str, int]:
    """(reject reason, growth of peak RSS in MB) of reading ``path`` in a fresh interpreter."""
    write(path.parent, "warm.xml", ROOT_OPEN + PATIENT + ROOT_CLOSE)
    run = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    reason, mb = run.stdout.split()
    return reason, int(mb)


def big_text(path: Path, megabytes: int) -> Path:
    """A document whose one text node has ``megabytes`` MB, written without holding it."""
    block = b"A" * (1024 * 1024)
    with path.open("wb") as fh:
        fh.write((ROOT_OPEN + PATIENT + "<title>").encode())
        for _ in range(megabytes):
            fh.write(block)
        fh.write(("</title>" + ROOT_CLOSE).encode())
    return path


def test_a_100_mb_text_node_is_refused_before_it_is_read(tmp_path):
    path = big_text(tmp_path / "huge.xml", 100)
    reason, message = refused(path)
    assert reason == "hostile" and "limit" in message
    reason, grew = peak_growth(path)
    assert reason == "hostile" and grew < 5


def test_a_text_node_over_10_mb_is_refused_with_bounded_memory(tmp_path):
    path = big_text(tmp_path / "text.xml", 12)  # under the file limit, over the text limit
    assert path.stat().st_size < safe.MAX_BYTES
    reason, message = refused(path)
    assert reason == "hostile" and "Text node too long" in message
    reason, grew = peak_growth(path)
    assert reason == "hostile" and grew < 3 * 12  # libxml2 buffers, never the whole input twice


@pytest.mark.parametrize("depth", [safe.MAX_DEPTH + 1, 100_000])
def test_deep_nesting_is_refused(tmp_path, depth):
    text = ROOT_OPEN + "<x>" * depth + "</x>" * depth + ROOT_CLOSE
    reason, message = refused(write(tmp_path, "deep.xml", text))
    assert reason == "hostile" and ("nested" in message or "depth" in message)


def test_nesting_within_the_limit_is_fine(tmp_path):
    depth = safe.MAX_DEPTH - 10
    text = ROOT_OPEN + PATIENT + "<x>" * depth + "</x>" * depth + ROOT_CLOSE
    batch = next(cda.read(write(tmp_path, "ok.xml", text)))
    assert not batch.rejects and set(batch.tables) == {"patient"}


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "malformed"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "malformed"),
        (bytes(range(256)) * 40, "malformed"),
        (b"MSH|^~\\&|LAB|HOSP|||20240101||ORU^R01|1|P|2.5\r", "malformed"),
        ((ROOT_OPEN + PATIENT).encode(), "malformed"),  # truncated
        ((ROOT_OPEN + PATIENT + "<title>病案</title>" + ROOT_CLOSE).encode("gbk"), "encoding"),
        (b'<?xml version="1.0"?><html><body/></html>', "unsupported"),
        (b'<ClinicalDocument xmlns="urn:hl7-org:v2"/>', "unsupported"),
        (b"<ClinicalDocument/>", "unsupported"),
    ],
)
def test_non_cda_bytes_are_one_reject(tmp_path, content, reason):
    path = tmp_path / "bad.xml"
    path.write_bytes(content)
    assert refused(path)[0] == reason


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8-sig", "gb18030"])
def test_declared_and_bom_encodings_read(tmp_path, encoding):
    declared = {"utf-16": "UTF-16", "utf-8-sig": "UTF-8", "gb18030": "GB18030"}[encoding]
    text = (
        f'<?xml version="1.0" encoding="{declared}"?>'
        + ROOT_OPEN
        + PATIENT.replace("<name>A</name>", "<name>张三</name>")
    )
    path = write(tmp_path, "enc.xml", text + ROOT_CLOSE, encoding)
    batch = next(cda.read(path))
    assert not batch.rejects
    assert batch.tables["patient"]["name"].tolist() == ["张三"]
