"""Weighted draws from one ``random.Random``: the only source of chance in the samples.

Every draw goes through a ``Random`` seeded from the user's seed (never the clock, never the
global generator), and mappings are walked in their file order, so a seed always gives the same
cases on every machine and Python version.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import TypeVar

K = TypeVar("K")


def weighted(rng: random.Random, weights: Mapping[K, float]) -> K:
    """One key of ``weights``, drawn with probability proportional to its weight."""
    keys = list(weights)
    return rng.choices(keys, weights=[float(weights[k]) for k in keys])[0]


def chance(rng: random.Random, p: float) -> bool:
    """True with probability ``p``."""
    return rng.random() < p


def cents(rng: random.Random, lo: float, hi: float) -> int:
    """An amount between ``lo`` and ``hi`` yuan, in whole cents (so sums stay exact)."""
    return round(rng.uniform(lo, hi) * 100)
