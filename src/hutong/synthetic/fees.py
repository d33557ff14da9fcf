"""Synthetic fees: category totals (4101 iteminfo) and the fee lines a long export itemises.

All arithmetic is in whole cents, so ``amt = claa_sumfee + clab_amt + fulamt_ownpay_amt +
oth_amt`` holds exactly on every row, and the lines of a category add up to its total.
"""

from __future__ import annotations

import random
from decimal import Decimal

from hutong.synthetic.casemix import CaseMix, Step
from hutong.synthetic.draw import cents, chance

PARTS = ("claa_sumfee", "clab_amt", "fulamt_ownpay_amt", "oth_amt")
CENT = Decimal("0.01")


def yuan(amount_cents: int) -> Decimal:
    """Whole cents as a two-decimal amount in yuan."""
    return (Decimal(amount_cents) * CENT).quantize(CENT)


def stay_charges(
    rng: random.Random,
    mix: CaseMix,
    profile: str,
    days: int,
    extra: dict[str, tuple[float, float]],
    steps: list[Step],
    mdtrt_id: str,
) -> list[dict]:
    """One charge row per fee category billed for a stay, parts split by ``fees.toml``."""
    spec = mix.fees["profiles"][profile]
    totals: dict[str, int] = {}

    def add(category: str, amount: int) -> None:
        totals[category] = totals.get(category, 0) + amount

    for category, (lo, hi) in spec.get("per_day", {}).items():
        add(category, cents(rng, lo, hi) * max(days, 1))
    for category, (lo, hi) in spec.get("per_stay", {}).items():
        add(category, cents(rng, lo, hi))
    for category, (p, lo, hi) in spec.get("maybe", {}).items():
        if chance(rng, p):
            add(category, cents(rng, lo, hi))
    for category, (lo, hi) in extra.items():
        add(category, cents(rng, lo, hi))
    for step in steps:
        for category, (lo, hi) in step.fees.items():
            add(category, cents(rng, lo, hi))
    return [
        _charge(rng, mix, mdtrt_id, category, totals[category])
        for category in sorted(totals)
        if totals[category] > 0
    ]


def _charge(rng: random.Random, mix: CaseMix, mdtrt_id: str, category: str, total: int) -> dict:
    shares = [s * rng.uniform(0.7, 1.3) for s in mix.fees["split"][category]]
    parts = _apportion(total, shares)
    row = {
        "mdtrt_id": mdtrt_id,
        "item_local_code": None,
        "item_local_name": None,
        "med_chrgitm": category,
        "amt": yuan(total),
    }
    row.update({name: yuan(part) for name, part in zip(PARTS, parts, strict=True)})
    return row


def _apportion(total: int, shares: list[float]) -> list[int]:
    """Split ``total`` cents by ``shares`` (largest remainder), so the parts sum to ``total``."""
    weight = sum(shares)
    exact = [total * s / weight for s in shares]
    parts = [int(x) for x in exact]
    order = sorted(range(len(shares)), key=lambda i: (parts[i] - exact[i], i))
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


def fee_lines(rng: random.Random, mix: CaseMix, charges: list[dict]) -> list[dict]:
    """The charges itemised into one to three local fee items each, as a long export lists them.

    Each part is apportioned over the lines, and a line's amount is the sum of its parts; the
    last line takes whatever is left of the category amount, so a category whose parts do not
    add up (a deliberately broken case) keeps that fault on its last line.
    """
    lines = []
    for charge in charges:
        items = mix.fees["items"][charge["med_chrgitm"]]
        chosen = rng.sample(items, rng.randint(1, min(3, len(items))))
        shares = [rng.uniform(0.5, 1.5) for _ in chosen]
        split = {p: _apportion(_cents(charge[p]), shares) for p in PARTS}
        left = _cents(charge["amt"])
        for i, (code, name) in enumerate(chosen):
            parts = {p: split[p][i] for p in PARTS}
            amount = left if i == len(chosen) - 1 else sum(parts.values())
            left -= amount
            line = {**charge, "item_local_code": code, "item_local_name": name}
            line.update({p: yuan(v) for p, v in parts.items()})
            line["amt"] = yuan(amount)
            lines.append(line)
    return lines


def _cents(amount: Decimal) -> int:
    return int((amount / CENT).to_integral_value())
