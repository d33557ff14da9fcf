"""DIP scores and payment of a grouped case (STANDARDS.md §5; Node-DIP ``toSettle``).

- score = base score × hospital coefficient
- high outlier (高倍率), cost > high × avg cost: adjusted = (cost / avg − high + 1) × score
- low outlier (低倍率), cost < low × avg cost: adjusted = cost / avg × score
- otherwise adjusted = score; payment = adjusted score × point value (元/分)

``high`` (2.0), ``low`` (0.5), the coefficient and the point value come from the parameter TOML.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hutong.quality.dip.catalog import DipGroup
from hutong.quality.dip.params import DipParams

NAN = float("nan")


@dataclass(frozen=True)
class Score:
    score: float
    outlier: str  # "high", "low" or "none"
    adjusted_score: float
    payment: float  # NaN when the parameters give no point value
    note: str


def score_case(group: DipGroup, cost: float, params: DipParams) -> Score:
    """Score one case of ``group`` that cost ``cost`` 元 (NaN when the fees are unknown)."""
    score = group.base_score * params.hospital_coefficient
    avg = group.avg_cost
    outlier, adjusted = "none", score
    if avg is None:
        note = "no avg_cost in the catalog: outlier check skipped"
    elif math.isnan(cost):
        note = "no fees on the face sheet: outlier check skipped"
    else:
        ratio = cost / avg
        if cost > params.high * avg:
            outlier, adjusted = "high", (ratio - params.high + 1) * score
        elif cost < params.low * avg:
            outlier, adjusted = "low", ratio * score
        note = (
            f"cost {cost:.2f} / avg {avg:.2f} = {ratio:.3f} "
            f"(low {params.low:g}, high {params.high:g}) → {outlier}"
        )
    point = params.point_value
    payment = NAN if point is None else adjusted * point
    return Score(score, outlier, adjusted, payment, note)
