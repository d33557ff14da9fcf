"""The shortcuts that let the payment impact group less, checked against grouping everything.

``impact(..., groups=...)`` (what a run calls) takes the DRGs of the cases as they stand from
the run's own grouping and groups a variant only when its ``drg_key`` is new; ``impact(...)``
without groups groups every variant. Both must give the same table. ``drg_key`` must be a key
of the DRG: cases with the same key get the same DRG, and the edits the fixes make to codes no
table of the pack names (an unknown vendor code dropped or replaced) keep the key.
"""

from __future__ import annotations

import dataclasses
import random

import pandas as pd
import pytest

import hutong.quality.impact as impact_module
from hutong import DEFAULT_RULES
from hutong.quality import check
from hutong.quality.drg import CaseInput, group, group_facesheet, load_pack, sample_pack_path
from hutong.quality.drg.grouper import SETL_FIELDS, case_input, drg_key, record_key
from hutong.quality.impact import impact
from hutong.synthetic.facesheets import code_pools, facesheet_batch
from hutong.terminologies.codesystem import DIAGNOSIS, PROCEDURE, load_code_system

CASES = 400
NOBODY = ("ZZ9.999x999", "ZZ8.888x888", "99.9999x999")  # codes no pack table names


@pytest.fixture(params=["official", "sample"])
def pack(request, drg_pack):
    return drg_pack if request.param == "official" else load_pack(sample_pack_path())


@pytest.fixture
def codes(reference):
    return {
        "diagnosis": load_code_system(DIAGNOSIS, reference / "icd10-yb-2.0.txt"),
        "procedure": load_code_system(PROCEDURE, reference / "icd9cm3-yb-2.0.txt"),
    }


def _sheet(reference, pack, seed: int = 7):
    """Synthetic cases whose principal the pack can place, with every 3rd diagnosis code and
    every 4th procedure code made unknown (as vendor exports have them), some of those by
    case or blanks only (so the fixes find a candidate)."""
    principal = (set(pack.mdc_of) | set(pack.mdcp_codes)) - set(pack.zd_invalid)
    pools = code_pools(
        reference / "icd10-yb-2.0.txt", reference / "icd9cm3-yb-2.0.txt", principal or None
    )
    sheet = facesheet_batch(0, CASES, CASES, seed, pools)
    for node, code, step in (("diseinfo", "diag_code", 3), ("oprninfo", "oprn_oprt_code", 4)):
        frame = sheet.node(node)
        values = frame[code].astype(object).tolist()
        for i in range(0, len(values), step):
            if isinstance(values[i], str):
                values[i] = values[i].lower() if i % (2 * step) else values[i] + "x99"
        frame[code] = pd.Series(values, index=frame.index, dtype=frame[code].dtype)
    return sheet


def _records(frame: pd.DataFrame) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for row in frame.to_dict("records"):
        out.setdefault(row["mdtrt_id"], []).append(row)
    return out


def test_impact_with_the_runs_groups_is_the_table_of_grouping_every_variant(
    reference, pack, codes, monkeypatch
):
    sheet = _sheet(reference, pack)
    findings = check(sheet, DEFAULT_RULES, codes=codes)
    groups = group_facesheet(sheet, pack)
    weights = {d: 0.5 + (sum(map(ord, d)) % 17) / 10 for d in set(groups["drg"])}
    sizes: list[int] = []
    real = impact_module.group_facesheet

    def counting(batch, p):
        sizes.append(len(batch))
        return real(batch, p)

    monkeypatch.setattr(impact_module, "group_facesheet", counting)
    every = impact(sheet, findings, pack, codes, weights, base_rate=10_000)
    fast = impact(sheet, findings, pack, codes, weights, base_rate=10_000, groups=groups)
    pd.testing.assert_frame_equal(fast, every)
    unknown = every["rule_id"].isin(["CV-DX-01", "CV-OP-01"])
    assert unknown.sum() > CASES / 4  # the unknown codes are priced ...
    assert every.loc[unknown, "drg_after"].notna().any()  # ... some with a candidate
    assert (every["drg_before"] != every["drg_after"]).any()  # and some fixes move the group
    assert len(sizes) == 2 and sizes[1] < sizes[0]  # the run's call groups fewer


def test_case_input_is_what_group_facesheet_groups(reference, pack):
    sheet = _sheet(reference, pack)
    groups = group_facesheet(sheet, pack).set_index("mdtrt_id")
    dx, px = _records(sheet.diseinfo), _records(sheet.oprninfo)
    setl = sheet.setlinfo.reindex(columns=["mdtrt_id", *SETL_FIELDS])
    for row in setl.itertuples(index=False):
        mid, values = row[0], tuple(row[1:])
        case = case_input(dx.get(mid, []), px.get(mid, []), values, mid)
        result = group(case, pack)
        assert (result.drg, result.trace) == (groups.at[mid, "drg"], groups.at[mid, "trace"])
        assert record_key(dx.get(mid, []), px.get(mid, []), values, pack) == drg_key(case, pack)


def _variants(case: CaseInput, pack, rng: random.Random) -> list[CaseInput]:
    """The case with codes no table names added, moved or swapped (its key must not move)."""
    more = (*case.secondary_dx, rng.choice(NOBODY))
    out = [
        dataclasses.replace(case, secondary_dx=more),
        dataclasses.replace(case, secondary_dx=tuple(reversed(case.secondary_dx))),
        dataclasses.replace(case, los=(case.los or 0) + 3, discharge_way="9", mdtrt_id="x"),
    ]
    counted = [c for c in (case.principal_px, *case.other_px) if c and c not in pack.ss_invalid]
    if counted:  # after the first procedure that counts, one more or fewer
        out.append(dataclasses.replace(case, other_px=(*case.other_px, NOBODY[2])))
    if counted and counted[0] == case.principal_px:
        out.append(dataclasses.replace(case, other_px=(NOBODY[2], *case.other_px)))
    return out


def test_drg_key_is_a_key_of_the_drg(reference, pack):
    sheet = _sheet(reference, pack, seed=11)
    dx, px = _records(sheet.diseinfo), _records(sheet.oprninfo)
    setl = sheet.setlinfo.reindex(columns=["mdtrt_id", *SETL_FIELDS])
    rng = random.Random(3)
    drg_of_key: dict[tuple, str] = {}
    inert_principals = checked = 0
    for row in setl.itertuples(index=False):
        case = case_input(dx.get(row[0], []), px.get(row[0], []), tuple(row[1:]))
        cases = [case, *_variants(case, pack, rng)]
        if case.principal_dx and drg_key(case, pack)[0] == "\x00":  # no table names it
            inert_principals += 1
            cases.append(dataclasses.replace(case, principal_dx=NOBODY[0]))
        key = drg_key(case, pack)
        for c in cases:
            assert drg_key(c, pack) == key, c
        # cases whose key may differ: one patient for all, fewer codes that matter
        cases.append(dataclasses.replace(case, sex="1", age=50.0, age_days=None, los=5.0))
        cases.append(dataclasses.replace(case, secondary_dx=case.secondary_dx[:1], other_px=()))
        cases.append(dataclasses.replace(case, secondary_dx=(), principal_px=None, other_px=()))
        for c in cases:
            drg = group(c, pack).drg
            assert drg_of_key.setdefault(drg_key(c, pack), drg) == drg, c
            checked += 1
    assert len(set(drg_of_key.values())) > 5  # many DRGs took part
    assert len(drg_of_key) < checked / 2  # keys shared across cases were checked too
    assert inert_principals > 0  # the unknown principals were exercised
