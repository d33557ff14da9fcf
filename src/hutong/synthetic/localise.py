"""Write some codes the way a vendor's hospital does locally (its own codes and names).

The national code stays in each record's ``code``/``name``; only ``local_code``/``local_name``
change, so tests know the right answer for every local term the samples contain.
"""

from __future__ import annotations

import random
import tomllib
from importlib import resources

TABLES = {"diagnosis": "diagnoses", "procedure": "procedures"}


def local_terms(vendor: str) -> dict[str, dict[str, dict]]:
    """The vendor's local dictionary: table → national code → local code, name and share."""
    text = resources.files("hutong.synthetic").joinpath("local_terms.toml").read_text("utf-8")
    return tomllib.loads(text).get(vendor, {})


def localise(cases: list[dict], vendor: str, seed: int) -> list[dict]:
    """Replace local code/name of the records the vendor writes locally (in place)."""
    terms = local_terms(vendor)
    for case in cases:
        mdtrt_id = case["encounter"]["mdtrt_id"]
        for table, key in TABLES.items():
            for record in case[key]:
                entry = terms.get(table, {}).get(record["code"])
                if entry is None or record["local_code"] != record["code"]:
                    continue  # not a local term, or deliberately broken already
                rng = random.Random(
                    f"hutong-synthetic/{seed}/local/{mdtrt_id}/{table}/{record['seq']}"
                )
                if rng.random() < entry["share"]:
                    record["local_code"] = entry["local_code"]
                    record["local_name"] = entry["local_name"]
    return cases
