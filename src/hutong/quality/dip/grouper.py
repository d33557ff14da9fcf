"""Group cases into DIP groups: ``group_case(main_dx, procedures, cost, catalog)`` with a trace.

Order (STANDARDS.md §5, after Node-DIP ``region.base.service.ts``):

1. dx key = the first five characters of the western main diagnosis (``K80.100x001`` → ``K80.1``).
2. Core groups of that key whose procedure combination the case satisfies are candidates; the
   one matching most of the case's procedures wins, then the highest base score, then the
   smallest dip_code (so the result never depends on catalog order).
3. No candidate and no classed procedure (treatment 保守治疗) → the key's conservative core group.
4. Otherwise the integrated group of the category (first three characters) × the case's
   treatment type (the highest class of its procedures: 相关手术 > 治疗性操作 > 诊断性操作 >
   保守治疗), first by exact category, then the narrowest category range holding it.
5. Nothing → ungroupable, with the reason.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from hutong.quality.dip.catalog import DipCatalog, DipGroup
from hutong.quality.dip.params import CONSERVATIVE, PROCEDURE_CODE, TREATMENTS
from hutong.quality.dip.score import NAN, score_case

UNGROUPABLE = "ungroupable"
DIAGNOSIS_CODE = re.compile(r"^[A-Z]\d{2}(\.[0-9x]|$)")
COLUMNS = [
    "mdtrt_id",
    "dip_code",
    "kind",
    "dx_key",
    "treatment",
    "base_score",
    "score",
    "cost",
    "outlier",
    "adjusted_score",
    "payment",
    "reason",
    "trace",
]


@dataclass
class DipResult:
    """One case's group, scores and the steps that chose them."""

    mdtrt_id: str
    dip_code: str
    kind: str  # core, integrated or ungroupable
    dx_key: str
    treatment: str
    base_score: float
    score: float
    cost: float
    outlier: str  # high, low, none ("" when ungroupable)
    adjusted_score: float
    payment: float
    reason: str = ""
    trace: list[str] = field(default_factory=list)

    def row(self) -> tuple:
        return tuple(getattr(self, c) for c in COLUMNS)


def treatment_of(procedures: Sequence[str], catalog: DipCatalog, trace: list[str]) -> str:
    """The case's treatment type: the highest class among its procedures."""
    best = CONSERVATIVE
    for code in procedures:
        cls = catalog.params.procedure_class(code)
        if cls is None:
            trace.append(f"procedure {code}: in no procedure class, counts as {CONSERVATIVE}")
        elif TREATMENTS[cls] > TREATMENTS[best]:
            best = cls
    return best


def _core(key, procedures, treatment, catalog, trace) -> DipGroup | None:
    groups = catalog.core.get(key, [])
    if not groups:
        trace.append(f"core {key}: no core group")
        return None
    have = set(procedures)
    candidates = [(len(g.codes & have), g) for g in groups if g.satisfied_by(have)]
    if candidates:
        candidates.sort(key=lambda c: (-c[0], -c[1].base_score, c[1].dip_code))
        listed = "; ".join(
            f"{g.dip_code} [{g.procedures}] matches {n}, score {g.base_score:g}"
            for n, g in candidates
        )
        trace.append(f"core {key}: candidates {listed}")
        _, chosen = candidates[0]
        if len(candidates) > 1:
            trace.append(
                f"core {key}: chose {chosen.dip_code} (most procedures matched, "
                "then highest base score, then dip_code)"
            )
        return chosen
    conservative = next((g for g in groups if not g.terms), None)
    if treatment == CONSERVATIVE and conservative:
        trace.append(
            f"core {key}: no procedure combination applies → {conservative.dip_code} 保守治疗"
        )
        return conservative
    why = f"treatment {treatment}" if conservative else "no 保守治疗 group"
    trace.append(
        f"core {key}: none of {len(groups)} groups matches procedures "
        f"[{' '.join(procedures) or '-'}] ({why})"
    )
    return None


def _integrated(category, treatment, catalog, trace) -> DipGroup | None:
    if group := catalog.integrated.get((category, treatment)):
        trace.append(f"integrated {category} × {treatment} → {group.dip_code}")
        return group
    for group in catalog.ranges:
        lo, hi = group.category_range
        if group.treatment == treatment and lo <= category <= hi:
            trace.append(f"integrated {group.dx} ∋ {category} × {treatment} → {group.dip_code}")
            return group
    trace.append(f"integrated {category} × {treatment}: no group (category nor range)")
    return None


def _ungroupable(mdtrt_id, key, treatment, cost, reason, trace) -> DipResult:
    trace.append(f"ungroupable: {reason}")
    return DipResult(
        mdtrt_id, "", UNGROUPABLE, key, treatment, NAN, NAN, cost, "", NAN, NAN, reason, trace
    )


def group_case(
    main_dx: str | None,
    procedures: Sequence[str],
    cost: float | None,
    catalog: DipCatalog,
    mdtrt_id: str = "",
) -> DipResult:
    """Group and score one case: western main diagnosis (医保版), procedure codes, total cost."""
    trace: list[str] = []
    cost = NAN if cost is None or (isinstance(cost, float) and math.isnan(cost)) else float(cost)
    dx = (main_dx or "").strip()
    procedures = [p.strip() for p in procedures if p and p.strip()]
    if not dx:
        reason = "no western main diagnosis / 无西医主要诊断"
        return _ungroupable(mdtrt_id, "", "", cost, reason, trace)
    if not DIAGNOSIS_CODE.match(dx):
        reason = f"main diagnosis {dx} is not an ICD-10 code / 主要诊断编码非ICD-10"
        return _ungroupable(mdtrt_id, "", "", cost, reason, trace)
    if bad := next((p for p in procedures if not PROCEDURE_CODE.match(p)), None):
        reason = f"procedure {bad} is not an ICD-9-CM-3 code / 手术操作编码非ICD-9-CM-3"
        return _ungroupable(mdtrt_id, dx[:5], "", cost, reason, trace)
    key, category = dx[:5], dx[:3]
    treatment = treatment_of(procedures, catalog, trace)
    trace.append(f"dx {dx} → key {key}; procedures [{' '.join(procedures) or '-'}] → {treatment}")
    group = _core(key, procedures, treatment, catalog, trace)
    if group is None:
        group = _integrated(category, treatment, catalog, trace)
    if group is None:
        reason = (
            f"no core group of {key} matches and no integrated group for {category} × "
            f"{treatment} / 无匹配的核心病种与综合病种"
        )
        return _ungroupable(mdtrt_id, key, treatment, cost, reason, trace)
    s = score_case(group, cost, catalog.params)
    trace.append(
        f"{group.dip_code} {group.name}: score {group.base_score:g} × coefficient "
        f"{catalog.params.hospital_coefficient:g} = {s.score:g}; {s.note}"
    )
    return DipResult(
        mdtrt_id,
        group.dip_code,
        group.kind,
        key,
        treatment,
        group.base_score,
        s.score,
        cost,
        s.outlier,
        s.adjusted_score,
        s.payment,
        "",
        trace,
    )


def _main_diagnoses(diseinfo: pd.DataFrame) -> dict[str, str]:
    """mdtrt_id → the first western main diagnosis code (maindiag_flag 1, diag_type 1)."""
    d = diseinfo
    main = d[(d["maindiag_flag"] == "1") & (d["diag_type"] == "1") & d["diag_code"].notna()]
    main = main.drop_duplicates("mdtrt_id")
    return dict(zip(main["mdtrt_id"], main["diag_code"], strict=True))


def _procedures(oprninfo: pd.DataFrame) -> dict[str, list[str]]:
    p = oprninfo[oprninfo["oprn_oprt_code"].notna()]
    out: dict[str, list[str]] = {}
    for key, code in zip(p["mdtrt_id"], p["oprn_oprt_code"], strict=True):
        out.setdefault(key, []).append(code)
    return out


def _costs(iteminfo: pd.DataFrame) -> dict[str, float]:
    amt = pd.to_numeric(iteminfo["amt"], errors="coerce").astype("float64")
    sums = amt.groupby(iteminfo["mdtrt_id"]).sum(min_count=1)
    return sums.to_dict()


def group_facesheet(sheet, catalog: DipCatalog) -> pd.DataFrame:
    """Group every case of a FaceSheet; one row per setlinfo case (columns: ``COLUMNS``)."""
    dx = _main_diagnoses(sheet.diseinfo)
    px = _procedures(sheet.oprninfo)
    cost = _costs(sheet.iteminfo)
    rows = [
        group_case(dx.get(mid), px.get(mid, ()), cost.get(mid, NAN), catalog, mid).row()
        for mid in sheet.setlinfo["mdtrt_id"]
    ]
    frame = pd.DataFrame(rows, columns=COLUMNS)
    for col in ("base_score", "score", "cost", "adjusted_score", "payment"):
        frame[col] = frame[col].astype("float64")
    return frame
