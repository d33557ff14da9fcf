"""Fuzzing the CDA adapter: seeded mutations of real and sample documents never raise, and each
mutated document is converted (rows that fit the canonical schema) or rejected with one reason.

``make test`` runs a short budget; ``make fuzz`` sets ``HUTONG_FUZZ_EXAMPLES=10000``. Example
``i`` depends only on ``i``, so a failure names the one example to rerun
(``HUTONG_FUZZ_ONLY=i``); its bytes are kept beside the test's temporary folder.
"""

from __future__ import annotations

import copy
import random
import re
from collections import Counter
from pathlib import Path

from lxml import etree

from conftest import ROOT, SHARED
from fuzzing import fuzz
from hutong.adapters import cda
from hutong.model import conform

REASONS = {"malformed", "hostile", "unsupported", "encoding", "missing_value"}
TRUSTED = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)

JUNK = [
    b"\x00",
    b"\xff\xfe",
    b"\xc3\x28",
    b"]]>",
    b"<![CDATA[",
    b"&amp",
    b"&#0;",
    b"<!--",
    b"<?pi x?>",
    "病案".encode("gbk"),
    b"\r\n",
    b"<x:y>",
]
VALUES = [
    "",
    " ",
    "NaN",
    "inf",
    "-1e400",
    "1e400",
    "20241301",
    "2024022930",
    "19000101000000.123+9999",
    "0",
    "-5",
    "x" * 300,
    "2.16.156.10011.1.12",
    "urn:hl7-org:v3",
    "病案号",
    "PQ",
    "CD",
    "#ref",
    "\u202e",
]
ENTITIES = [
    b'<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
    b'<!DOCTYPE d [<!ENTITY x SYSTEM "http://127.0.0.1:9/x">]>',
    b'<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>',
    b'<!DOCTYPE d SYSTEM "http://127.0.0.1:9/d.dtd">',
]


def seeds() -> list[bytes]:
    """Documents to mutate: the shipped WS/T 500 samples and, when present, the C-CDA corpus."""
    paths = sorted((ROOT / "samples" / "cda").glob("*.xml"))[:5]
    corpus = SHARED / "corpus" / "cda"
    if corpus.exists():
        paths += sorted(corpus.glob("*.xml"))
    assert paths, "no seed documents"
    return [p.read_bytes() for p in paths]


def _flip(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        out[rng.randrange(len(out))] ^= rng.randint(1, 255)
    return bytes(out)


def _truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(len(data))]


def _junk(data: bytes, rng: random.Random) -> bytes:
    at = rng.randrange(len(data))
    return data[:at] + rng.choice(JUNK) + data[at:]


TAG = re.compile(rb"<[A-Za-z][^<>]{0,300}>")


def _tag_text(data: bytes, rng: random.Random) -> bytes:
    """Delete or duplicate one tag as text (unbalancing the document)."""
    tags = list(TAG.finditer(data[:200_000]))
    if not tags:
        return data
    tag = rng.choice(tags)
    middle = b"" if rng.random() < 0.5 else tag.group() * 2
    return data[: tag.start()] + middle + data[tag.end() :]


def _entity(data: bytes, rng: random.Random) -> bytes:
    """A DOCTYPE with entities (XXE, expansion) before the root, and a reference inside it."""
    start = data.find(b"<ClinicalDocument")
    start = max(start, 0)
    body = data[start:]
    close = body.find(b">")
    ref = rng.choice([b"&x;", b"&b;", b""])
    body = body[: close + 1] + ref + body[close + 1 :] if close >= 0 else body
    return data[:start] + rng.choice(ENTITIES) + body


def _tree(data: bytes, rng: random.Random) -> bytes:
    """A structural change that keeps the XML well formed: drop, copy or move an element,
    garble an attribute, or change an xsi:type."""
    try:
        root = etree.fromstring(data, TRUSTED)
    except etree.XMLSyntaxError:
        return _flip(data, rng)
    elements = [el for el in root.iter() if isinstance(el.tag, str)]
    el = rng.choice(elements)
    parent = el.getparent()
    action = rng.choice(["drop", "copy", "move", "attr", "attr", "attr", "type", "text"])
    if action == "drop" and parent is not None:
        parent.remove(el)
    elif action == "copy" and parent is not None:
        parent.insert(parent.index(el), copy.deepcopy(el))
    elif action == "move" and parent is not None:
        target = rng.choice(elements)
        if el not in target.iterancestors() and target is not el:
            target.append(el)
    elif action == "attr" and el.attrib:
        el.set(rng.choice(list(el.attrib)), rng.choice(VALUES))
    elif action == "type":
        el.set("{http://www.w3.org/2001/XMLSchema-instance}type", rng.choice(VALUES[13:17]))
    else:
        el.text = rng.choice(VALUES)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


MUTATIONS = {
    "flip": _flip,
    "truncate": _truncate,
    "junk": _junk,
    "tag": _tag_text,
    "entity": _entity,
    "tree": _tree,
}
WEIGHTS = {"flip": 2, "truncate": 1, "junk": 1, "tag": 2, "entity": 1, "tree": 6}


def example(i: int, pool: list[bytes]) -> tuple[bytes, list[str]]:
    """Example ``i``: a seed document with one to three mutations (names in order)."""
    rng = random.Random(f"hutong-fuzz-cda/{i}")
    data = rng.choice(pool)
    names = rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()), k=rng.randint(1, 3))
    for name in names:
        if data:
            data = MUTATIONS[name](data, rng)
    return data, names


def check(path: Path) -> str:
    """Read ``path``: converted (rows fit their schema) or one reject; the outcome's name."""
    batches = list(cda.read(path))
    assert len(batches) == 1
    batch = batches[0]
    assert batch.read == 1 and batch.kind == "cda"
    if batch.rejects:
        [reject] = batch.rejects
        assert reject.reason in REASONS and reject.message and batch.tables == {}
        return reject.reason
    assert "patient" in batch.tables
    for table, frame in batch.tables.items():
        conform(table, frame)
    return "converted"


def test_fuzz_cda(tmp_path):
    pool = seeds()

    def named(i: int) -> tuple[str, bytes, list[str]]:
        data, names = example(i, pool)
        return "fuzz.xml", data, names

    fuzz("cda", tmp_path, named, lambda path: Counter([check(path)]))
