"""HL7 v2 → FHIR NDJSON: hutong's whole path vs parse-only peers, messages/s on one core.

Usage: python benchmarks/hl7_fhir.py [--n 20000] [--sample 500] [--repeat 1]

The mix is built from the real corpus (/work/shared/corpus/hl7v2: the ADT A01/A03/A04/A08 and
ORU^R01 files, negative examples left out), repeated to ``--n`` messages with the message
control id, patient id, visit number and order numbers
varied, so every copy is a new patient and stay.
hutong: read (ER7 reader → canonical rows) → link → conform → ``emit_fhir`` → NDJSON bytes,
with Arrow's allocator as ``hutong run`` sets it (``hutong.allocator``).
Peers, parse only: hl7apy ``parse_message`` (on ``--sample`` messages, it is slow), python-hl7
``hl7.parse`` and a plain ``str.split`` of segments and fields. Target (issue "province
scale"): hutong ≥ 2,000 messages/s per core.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from hutong.adapters import hl7v2
from hutong.linking import link
from hutong.mapping.fhir import emit_fhir
from hutong.model import SCHEMAS, canonical

try:
    from hutong.mapping.fhir.ndjson import ndjson_lines
except ImportError:  # a checkout from before the line writer, for before/after figures
    from hutong.mapping.fhir.ndjson import ndjson_line

    def ndjson_lines(items: list[dict], **_: bool) -> Iterator[bytes]:
        return (ndjson_line(r).encode("utf-8") + b"\n" for r in items)


CORPUS = Path("/work/shared/corpus/hl7v2")
KINDS = re.compile(r"(ADT-A0[1348]|ORU-R01)")
TARGET = 2000.0
# fields to vary per copy: segment → field numbers (MSH counts its separator as field 1)
VARIED = {b"MSH": (10,), b"PID": (3,), b"PV1": (19,), b"ORC": (2, 3), b"OBR": (2, 3)}


def corpus_messages() -> list[bytes]:
    """ADT and ORU messages of the corpus, as raw bytes with CR segment ends."""
    found = []
    for path in sorted(CORPUS.glob("*.hl7")):
        if "NEG" in path.name or not KINDS.search(path.name):
            continue
        data = path.read_bytes().removeprefix(b"\xef\xbb\xbf")
        lines = [line for line in re.split(rb"\r\n|\r|\n", data) if line.strip()]
        message: list[bytes] = []
        for line in lines:
            if line.startswith((b"FHS", b"BHS", b"FTS", b"BTS")):
                continue
            if line.startswith(b"MSH") and message:
                found.append(b"\r".join(message))
                message = []
            message.append(line)
        if message and message[0].startswith(b"MSH"):
            found.append(b"\r".join(message))
    return [m for m in found if re.search(rb"^MSH.{5,}(ADT|ORU)", m)]


def varied(message: bytes, i: int) -> bytes:
    """The message with its control id, patient id, visit number and order numbers
    suffixed with ``i``."""
    sep = message[3:4]
    out = []
    for segment in message.split(b"\r"):
        numbers = VARIED.get(segment[:3], ())
        fields = segment.split(sep)
        for n in numbers:
            index = n - 1 if segment[:3] == b"MSH" else n
            if index < len(fields) and fields[index]:
                fields[index] = re.sub(rb"^([^\^~&\\]*)", rb"\g<1>" + b"N%d" % i, fields[index])
        segment = sep.join(fields)
        out.append(segment)
    return b"\r".join(out)


def mix(n: int) -> list[bytes]:
    base = corpus_messages()
    return [varied(base[i % len(base)], i) for i in range(n)]


STAGES: dict[str, float] = {}  # seconds per step of the last hutong run
CPU: dict[str, float] = {}  # CPU seconds of the last hutong run (steadier on a shared machine)
CPU_STAGES: dict[str, float] = {}  # CPU seconds per step of the last hutong run


def hutong_run(path: Path) -> tuple[int, int, int]:
    """Messages read, resources emitted and NDJSON bytes: the pipeline's steps for one feed."""
    cpu = c0 = time.process_time()
    t0 = time.perf_counter()
    parts: dict[str, list[pd.DataFrame]] = {t: [] for t in SCHEMAS}
    read = 0
    for batch in hl7v2.read(path):
        read += batch.read
        for table, frame in batch.tables.items():
            parts[table].append(frame)
    t1, c1 = time.perf_counter(), time.process_time()
    tables = {
        t: pd.concat(p, ignore_index=True) if p else pd.DataFrame(columns=SCHEMAS[t].names)
        for t, p in parts.items()
    }
    tables, _, _ = link(tables, {path.as_posix()})
    tables = {t: canonical(t, f) for t, f in tables.items()}
    t2, c2 = time.perf_counter(), time.process_time()
    resources = emit_fhir(tables, [])
    t3, c3 = time.perf_counter(), time.process_time()
    size = 0
    count = 0
    for items in resources.values():
        # as a run writes emit_fhir's resources: they hold no float, and each is let go of
        # once its line is made
        for line in ndjson_lines(items, floats=False, release=True):
            size += len(line)
            count += 1
    t4, c4 = time.perf_counter(), time.process_time()
    STAGES.update(
        {"read": t1 - t0, "link+conform": t2 - t1, "emit_fhir": t3 - t2, "NDJSON": t4 - t3}
    )
    CPU_STAGES.update(
        {"read": c1 - c0, "link+conform": c2 - c1, "emit_fhir": c3 - c2, "NDJSON": c4 - c3}
    )
    CPU["hutong"] = time.process_time() - cpu
    return read, count, size


def timed(work, repeat: int):
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - t0)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20000, help="messages in the mix")
    parser.add_argument("--sample", type=int, default=500, help="messages hl7apy parses")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    try:  # Arrow's allocator as `hutong run` sets it
        from hutong.allocator import use_system_allocator

        use_system_allocator()
    except ImportError:  # a checkout from before it, for before/after figures
        pass
    messages = mix(args.n)
    texts = [m.decode("utf-8", "replace") for m in messages]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mix.hl7"
        path.write_bytes(b"\n".join(messages) + b"\n")
        seconds, (read, resources, size) = timed(lambda: hutong_run(path), args.repeat)
        rows.append(("hutong read → tables → FHIR NDJSON", read, seconds))

    import hl7
    from hl7apy.parser import parse_message

    def apy() -> int:
        done = 0
        for text in texts[: args.sample]:
            try:
                parse_message(text, find_groups=False)
                done += 1
            except Exception:  # a refused message still costs its parse
                pass
        return done

    def python_hl7() -> int:
        done = 0
        for text in texts:
            try:
                hl7.parse(text)
                done += 1
            except Exception:  # likewise
                pass
        return done

    def plain() -> int:
        for text in texts:
            [segment.split(text[3]) for segment in text.split("\r")]
        return len(texts)

    seconds_apy, _ = timed(apy, args.repeat)
    rows.append(("hl7apy parse_message alone (sample)", min(args.sample, len(texts)), seconds_apy))
    seconds_hl7, _ = timed(python_hl7, args.repeat)
    rows.append(("python-hl7 hl7.parse alone", len(texts), seconds_hl7))
    seconds_split, _ = timed(plain, args.repeat)
    rows.append(("str.split segments/fields alone", len(texts), seconds_split))

    print(
        f"HL7 v2 ADT/ORU mix: {args.n} messages from {len(corpus_messages())} corpus "
        f"messages; hutong emitted {resources} resources, {size / 1e6:.1f} MB NDJSON"
    )
    hutong_rate = rows[0][1] / rows[0][2]
    print(f"{'workload':<40}{'msgs':>7}{'msg/s':>10}{'hutong/x':>10}{'target':>9}  result")
    for i, (name, count, seconds) in enumerate(rows):
        rate = count / seconds
        if i == 0:
            verdict = "PASS" if rate >= TARGET else "MISS"
            print(f"{name:<40}{count:>7}{rate:>10,.0f}{'':>10}{TARGET:>9,.0f}  {verdict}")
        else:
            print(f"{name:<40}{count:>7}{rate:>10,.0f}{hutong_rate / rate:>10.2f}")
    per = ", ".join(f"{k} {v / rows[0][1] * 1e6:,.0f}" for k, v in STAGES.items())
    print(f"hutong µs per message: {per} ({resources / rows[0][1]:.1f} resources per message)")
    per_cpu = ", ".join(f"{k} {v / rows[0][1] * 1e6:,.0f}" for k, v in CPU_STAGES.items())
    print(f"hutong CPU µs per message: {per_cpu} (last run, process time)")
    print(f"hutong CPU time: {rows[0][1] / CPU['hutong']:,.0f} msg/s (last run, process time)")


if __name__ == "__main__":
    main()
