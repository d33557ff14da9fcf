"""FHIR emission: hutong's emitters + NDJSON vs plain dicts + orjson, resources/s on one core.

Usage: python benchmarks/fhir_emission.py [--n 20000] [--vendor vendor-a] [--repeat 3]

Canonical tables come from ``--n`` generated cases, read, linked and coded as a run does.
hutong: ``emit_fhir`` on the patient, encounter, diagnosis, procedure and charge tables, then
every resource as its NDJSON line (``ndjson_bytes``, what ``write_ndjson`` writes). Peer: the
naive way, the same five resource types shaped like hutong's (uuid5 ids, identifiers, codings,
references) built as plain dicts row by row and written with ``orjson.dumps``, with none of
hutong's checks. Target (issue "province scale"): hutong ≥ 25 % of the peer's rate. The two
take turns ``--repeat`` times (best of each), so a neighbour's load falls on both alike.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path

import orjson
import pandas as pd

from hutong.adapters.detect import detect
from hutong.adapters.profile import load_profile
from hutong.adapters.table import batches, open_table
from hutong.linking import link
from hutong.mapping.fhir import emit_fhir
from hutong.model import SCHEMAS, canonical
from hutong.synthetic import generate
from hutong.terminologies.codesystem import DIAGNOSIS, PROCEDURE, sample_code_system
from hutong.terminologies.coding import Coder, apply_codes

try:
    from hutong.mapping.fhir.ndjson import ndjson_bytes
except ImportError:  # a checkout from before the orjson writer, for before/after figures
    from hutong.mapping.fhir.ndjson import ndjson_line

    def ndjson_bytes(resource: dict) -> bytes:
        return ndjson_line(resource).encode("utf-8")


TARGET = 0.25
TABLES = ("patient", "encounter", "diagnosis", "procedure", "charge")
NS = uuid.UUID("6ba7b811-9dad-11d1-80b4-00c04fd430c8")
V2 = "http://terminology.hl7.org/CodeSystem/v2-0203"


def canonical_tables(vendor: str, cases: int) -> dict[str, pd.DataFrame]:
    """The canonical tables of ``cases`` generated cases, read, linked and coded the way a
    run does (table adapters → link → codes → canonical schema)."""
    profile = load_profile(vendor)
    parts: dict[str, list[pd.DataFrame]] = {t: [] for t in SCHEMAS}
    with tempfile.TemporaryDirectory() as tmp:
        generate(vendor, cases, 1, Path(tmp))
        for path in sorted(Path(tmp).rglob("*")):
            if not path.is_file() or detect(path) != "table":
                continue
            raw, kind = open_table(path, profile)
            for batch in batches(raw, kind, profile):
                for table, frame in batch.tables.items():
                    parts[table].append(frame)
    tables = {
        t: pd.concat(p, ignore_index=True) if p else pd.DataFrame(columns=SCHEMAS[t].names)
        for t, p in parts.items()
    }
    tables, _, _ = link(tables)
    systems = {
        "diagnosis": sample_code_system(DIAGNOSIS),
        "procedure": sample_code_system(PROCEDURE),
    }
    for table, system in systems.items():
        tables[table] = apply_codes(tables[table], Coder(system), table)
    return {t: canonical(t, tables[t]) for t in TABLES}


def hutong(tables: dict[str, pd.DataFrame]) -> tuple[int, int]:
    resources = emit_fhir(tables, [])
    size = count = 0
    for items in resources.values():
        lines = b"".join([ndjson_bytes(r) + b"\n" for r in items])
        size += len(lines)
        count += len(items)
    return count, size


def _id(system: str, value: object) -> str:
    return str(uuid.uuid5(NS, f"{system}|{value}"))


def _coded(system: str, code: object, name: object) -> dict:
    return {"coding": [{"system": system, "code": code, "display": name}], "text": name}


def plain(tables: dict[str, pd.DataFrame]) -> tuple[int, int]:
    """The naive builder: one dict per row, serialised with orjson (sorted keys)."""
    out: list[bytes] = []
    dumps, sort = orjson.dumps, orjson.OPT_SORT_KEYS
    pt = tables["patient"]
    for vendor, _pid, medcasno, name, gend, brdy, tel, certno in zip(
        *(pt[c].tolist() for c in ("vendor", "patient_id", "medcasno", "name", "gend", "brdy")),
        pt["tel"].tolist(),
        pt["certno"].tolist(),
        strict=True,
    ):
        system = f"urn:hutong:sid:{vendor}:medcasno"
        resource = {
            "resourceType": "Patient",
            "id": _id(system, medcasno),
            "identifier": [
                {
                    "type": {"coding": [{"system": V2, "code": "MR"}]},
                    "system": system,
                    "value": medcasno,
                },
                {"system": "urn:hutong:sid:gb11643", "value": certno},
            ],
            "name": [{"text": name, "family": str(name)[:1], "given": [str(name)[1:]]}],
            "gender": {"1": "male", "2": "female"}.get(gend, "unknown"),
            "birthDate": str(brdy)[:10],
            "telecom": [{"system": "phone", "value": tel}],
            "extension": [
                {
                    "url": "urn:hutong:ext:gend",
                    "valueCodeableConcept": _coded("urn:oid:2.16.156.10011.2.3.3.4", gend, gend),
                }
            ],
        }
        out.append(dumps(resource, option=sort))
    enc = tables["encounter"]
    for vendor, mdtrt, pid, adm, dscg, days in zip(
        *(enc[c].tolist() for c in ("vendor", "mdtrt_id", "patient_id", "adm_time")),
        enc["dscg_time"].tolist(),
        enc["act_ipt_days"].tolist(),
        strict=True,
    ):
        system = f"urn:hutong:sid:{vendor}:mdtrt_id"
        resource = {
            "resourceType": "Encounter",
            "id": _id(system, mdtrt),
            "identifier": [
                {
                    "type": {"coding": [{"system": V2, "code": "VN"}]},
                    "system": system,
                    "value": mdtrt,
                }
            ],
            "status": "finished",
            "class": {
                "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                "code": "IMP",
                "display": "inpatient encounter",
            },
            "subject": {"reference": f"Patient/{_id(vendor, pid)}"},
            "period": {
                "start": f"{adm:%Y-%m-%dT%H:%M:%S}+08:00",
                "end": f"{dscg:%Y-%m-%dT%H:%M:%S}+08:00",
            },
            "length": {
                "value": days,
                "unit": "天",
                "system": "http://unitsofmeasure.org",
                "code": "d",
            },
        }
        out.append(dumps(resource, option=sort, default=str))
    stays = {m: _id("urn:hutong:sid:vendor:mdtrt_id", m) for m in enc["mdtrt_id"].tolist()}
    for table, kind in (("diagnosis", "Condition"), ("procedure", "Procedure")):
        frame = tables[table]
        for vendor, mdtrt, seq, code, name in zip(
            *(frame[c].tolist() for c in ("vendor", "mdtrt_id", "seq", "code", "local_name")),
            strict=True,
        ):
            system = f"urn:hutong:sid:{vendor}:{table}"
            resource = {
                "resourceType": kind,
                "id": _id(system, f"{mdtrt}#{seq}"),
                "identifier": [{"system": system, "value": f"{mdtrt}#{seq}"}],
                "code": _coded(f"urn:hutong:cs:{table}", code, name),
                "subject": {"reference": f"Patient/{stays.get(mdtrt)}"},
                "encounter": {"reference": f"Encounter/{stays.get(mdtrt)}"},
            }
            if kind == "Condition":
                resource["verificationStatus"] = {"coding": [{"code": "confirmed"}]}
            else:
                resource["status"] = "completed"
            out.append(dumps(resource, option=sort, default=str))
    charges = tables["charge"]
    items: dict[str, list[dict]] = {}
    for mdtrt, category, amount in zip(
        charges["mdtrt_id"].tolist(),
        charges["med_chrgitm"].tolist(),
        charges["amt"].tolist(),
        strict=True,
    ):
        listed = items.setdefault(mdtrt, [])
        listed.append(
            {
                "sequence": len(listed) + 1,
                "productOrService": _coded("urn:hutong:cs:med_chrgitm", category, category),
                "net": {"currency": "CNY", "value": amount},
                "encounter": [{"reference": f"Encounter/{stays.get(mdtrt)}"}],
            }
        )
    for mdtrt, listed in items.items():
        resource = {
            "resourceType": "Claim",
            "id": _id("urn:hutong:sid:claim", mdtrt),
            "identifier": [{"system": "urn:hutong:sid:claim", "value": mdtrt}],
            "insurance": [{"sequence": 1, "focal": True, "coverage": {"display": "医保"}}],
            "item": listed,
        }
        out.append(dumps(resource, option=sort))
    return len(out), sum(len(line) + 1 for line in out)


def timed(works, repeat: int) -> list[tuple[float, object]]:
    """Best wall time and result of each work, the works taking turns ``repeat`` times."""
    best = [(float("inf"), None) for _ in works]
    for _ in range(repeat):
        for i, work in enumerate(works):
            t0 = time.perf_counter()
            result = work()
            best[i] = min(best[i], (time.perf_counter() - t0, result), key=lambda b: b[0])
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20000, help="generated cases")
    parser.add_argument("--vendor", default="vendor-a", choices=["vendor-a", "vendor-b"])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    t0 = time.perf_counter()
    tables = canonical_tables(args.vendor, args.n)
    setup = time.perf_counter() - t0
    rows = sum(len(f) for f in tables.values())
    print(
        f"FHIR emission: {args.n} cases ({args.vendor}), {rows} canonical rows "
        f"(built in {setup:.0f} s)"
    )
    (h_s, (h_n, h_size)), (p_s, (p_n, p_size)) = timed(
        [lambda: hutong(tables), lambda: plain(tables)], args.repeat
    )
    h_rate, p_rate = h_n / h_s, p_n / p_s
    ratio = h_rate / p_rate
    print(
        f"{'workload':<40}{'resources':>10}{'res/s':>10}{'µs/res':>8}{'ratio':>8}"
        f"{'target':>8}  result"
    )
    print(f"{'plain dicts + orjson (naive peer)':<40}{p_n:>10}{p_rate:>10,.0f}{1e6 / p_rate:>8.1f}")
    verdict = "PASS" if ratio >= TARGET else "MISS"
    print(
        f"{'hutong emit_fhir + NDJSON':<40}{h_n:>10}{h_rate:>10,.0f}{1e6 / h_rate:>8.1f}"
        f"{ratio:>8.0%}{TARGET:>8.0%}  {verdict}"
    )
    print(f"NDJSON bytes: hutong {h_size / 1e6:.1f} MB, peer {p_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
