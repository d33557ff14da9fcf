"""Deliberately broken cases: the faults the adapters must reject and the QC must flag.

Which cases break, and how, depends only on the seed. A broken case says so in
``case["broken"]`` (one of :data:`KINDS`); the adapter-level faults put the text the vendor file
must carry verbatim into ``case["raw"]`` (``{"encounter": {"adm_time": "2024/13/45 25:61"}}``),
because a malformed date or an unmapped sex value cannot be held by a canonical field.
"""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from hutong.synthetic.casemix import CaseMix, casemix

KINDS: tuple[str, ...] = tuple(casemix().broken["kinds"])
"""All kinds, in ``broken.toml`` order: adapter-level first, then QC-level."""

RATE = 0.04
"""About 4 % of the cases break, but a run of ten cases per kind or more shows every kind once."""


def level(kind: str) -> str:
    """``"adapter"`` (the record must end in the rejects) or ``"qc"`` (a QC finding)."""
    return casemix().broken["kinds"][kind]["level"]


def plan(n: int, rng: random.Random) -> dict[int, str]:
    """Case index -> broken kind for a run of ``n`` cases; every kind before any repeats."""
    count = min(n, max(round(n * RATE), min(len(KINDS), n // 10)))
    where = sorted(rng.sample(range(n), count))
    kinds = list(KINDS)
    rng.shuffle(kinds)
    return {index: kinds[i % len(kinds)] for i, index in enumerate(where)}


def needs_newborn(kind: str) -> bool:
    return kind == "newborn_without_birth_weight"


def forced_discharge(kind: str | None) -> str | None:
    """The discharge mode a kind needs at generation time (a transfer, not a death)."""
    return "2" if kind == "transfer_without_receiver" else None


def apply(kind: str, case: dict, rng: random.Random, mix: CaseMix) -> None:
    """Break ``case`` in place the way ``kind`` says and tag it."""
    raw = mix.broken["raw"]
    enc, pat, dx = case["encounter"], case["patient"], case["diagnoses"]
    if kind == "bad_datetime":
        field = rng.choice(["adm_time", "dscg_time"])
        case["raw"].setdefault("encounter", {})[field] = rng.choice(raw["bad_datetimes"])
    elif kind == "unknown_sex":
        case["raw"].setdefault("patient", {})["gend"] = rng.choice(raw["unknown_sexes"])
    elif kind == "missing_case_id":
        case["raw"].setdefault("encounter", {})["mdtrt_id"] = ""
    elif kind == "los_mismatch":
        enc["act_ipt_days"] += rng.randint(1, 3)
    elif kind == "fee_parts_mismatch":
        biggest = max(case["charges"], key=lambda c: c["amt"])
        biggest["fulamt_ownpay_amt"] += Decimal(rng.randint(1, 5000)) / 100
    elif kind == "transfer_without_receiver":
        enc["dscg_way"], enc["acp_medins_name"] = "2", None
    elif kind == "newborn_without_birth_weight":
        enc["nwb_bir_wt"] = None
    elif kind == "main_diag_adm_cond_4":
        dx[0]["adm_cond_type"] = "4"
    elif kind == "id_check_digit":
        good = pat["certno"]
        pat["certno"] = good[:17] + rng.choice([c for c in "0123456789X" if c != good[17]])
    elif kind == "discharge_before_admission":
        if enc["dscg_time"] - enc["adm_time"] < timedelta(hours=1):
            enc["dscg_time"] = enc["adm_time"] + timedelta(hours=3)
        enc["adm_time"], enc["dscg_time"] = enc["dscg_time"], enc["adm_time"]
    elif kind == "unknown_diag_code":
        typo = _typo(dx[0]["code"], mix)
        dx[0].update(code=typo, local_code=typo)
    elif kind == "star_code_alone":
        _add_star_code(case, rng, mix)
    else:
        raise ValueError(f"unknown broken kind {kind!r}; known: {', '.join(KINDS)}")
    case["broken"] = kind


def _typo(code: str, mix: CaseMix) -> str:
    """A plausible mistyping of ``code`` (I25.103 -> I25.199) that is in no code list."""
    for tail in ("99", "98", "97", "96"):
        typo = code[:5] + tail
        if typo not in mix.diagnoses:
            return typo
    raise ValueError(f"no free typo for {code}")


def _add_star_code(case: dict, rng: random.Random, mix: CaseMix) -> None:
    """Code the manifestation of a dagger/star pair alone, as a secondary diagnosis."""
    pairs = sorted((c, n) for c, n in mix.diagnoses.items() if "+" in c)
    dagger, name = rng.choice(pairs)
    star = dagger.split("+", 1)[1]
    rows = case["diagnoses"]
    row = {**rows[-1], "maindiag_flag": "0", "local_code": star, "code": star}
    row.update(local_name=name, name=name, adm_cond_type="1")
    if len(rows) > 10:  # keep within the face sheet's 10 other-diagnosis rows
        rows.pop()
    row["seq"] = len(rows) + 1
    rows.append(row)
