"""The CHS-DRG 2.0 ADRGs decided by logic text or by a flag, on the real pack.

Each logic rule is transcribed below from its official text (``rule.logic``) into its "or" of
"and"-groups of section names; the grouper evaluates ``_logicRPN`` instead, so the two are checked
against each other. A case holding one group goes to the ADRG; the same case with one section of
the group left out does not. Codes come from the pack's own section lists, chosen so that no
other section of the rule, no earlier ADRG of the MDC and no MDCA rule can take the case.
"""

from __future__ import annotations

import pytest

from hutong.quality.drg import CaseInput, GroupResult, group

# ADRG → (official logic text, its groups: each a set of section names that must all be hit)
LOGIC = {
    "AH2": (
        "（其他诊断或手术或操作 1）+手术或操作 2",
        [{"其他诊断", "手术或操作 2"}, {"手术或操作 1", "手术或操作 2"}],
    ),
    "IB1": (
        "主要诊断+主要手术或操作 1  或 主要手术或操作 2  或 手术或操作 3+手术或操作 4",
        [{"主要诊断", "主要手术或操作 1"}, {"主要手术或操作 2"}, {"手术或操作 3", "手术或操作 4"}],
    ),
    "JA1": (
        "主要诊断+手术或操作 1+手术或操作 2  或 主要诊断+手术或操作 1+手术或操作 3+手术或操作 4"
        "  或 主要诊断+手术或操作 4+手术或操作 5",
        [
            {"主要诊断", "手术或操作 1", "手术或操作 2"},
            {"主要诊断", "手术或操作 1", "手术或操作 3", "手术或操作 4"},
            {"主要诊断", "手术或操作 4", "手术或操作 5"},
        ],
    ),
    "JA2": (
        "主要诊断+主要手术或操作 1  或 主要诊断+手术或操作 2+手术或操作 3",
        [{"主要诊断", "主要手术或操作 1"}, {"主要诊断", "手术或操作 2", "手术或操作 3"}],
    ),
    "NA1": (
        "主要诊断+主要手术或操作 1  或 主要诊断+手术或操作 2+手术或操作 3",
        [{"主要诊断", "主要手术或操作 1"}, {"主要诊断", "手术或操作 2", "手术或操作 3"}],
    ),
    "OF1": (
        "主要诊断 1+主要手术或操作  或 主要诊断 2+其他诊断+主要手术或操作",
        [{"主要诊断 1", "主要手术或操作"}, {"主要诊断 2", "其他诊断", "主要手术或操作"}],
    ),
    "WB1": (
        "主要诊断+其他诊断 1+主要手术或操作  或 其他诊断 2+主要手术或操作",
        [{"主要诊断", "其他诊断 1", "主要手术或操作"}, {"其他诊断 2", "主要手术或操作"}],
    ),
    "WB2": (
        "主要诊断+其他诊断 1+主要手术或操作  或 其他诊断 2+主要手术或操作",
        [{"主要诊断", "其他诊断 1", "主要手术或操作"}, {"其他诊断 2", "主要手术或操作"}],
    ),
    "WB3": (
        "（主要诊断或其他诊断）+主要手术或操作",
        [{"主要诊断", "主要手术或操作"}, {"其他诊断", "主要手术或操作"}],
    ),
}
BRANCHES = [(a, i) for a, (_, groups) in LOGIC.items() for i in range(len(groups))]
SEX = {"N": "2", "O": "2"}  # MDCN is female only; MDCO (pregnancy) cases are women
NEUTRAL_DX = "B37.100"  # a plain MDCE medical principal (ES1) for the MDCA cases


@pytest.fixture
def pack(drg_pack):
    return drg_pack


def section(pack, adrg: str, name: str):
    return next(s for s in pack.adrgs[adrg].sections if s.name == name)


def rule_codes(a) -> set[str]:
    """Every code an ADRG rule names (sections, procedure groups, referenced procedures)."""
    out = {c for s in a.sections for c in s.codes}
    for codes in (*a.procedure_groups, *a.referenced_codes):
        out |= codes
    return out


def avoid(pack, adrg: str) -> set[str]:
    """Codes of the MDCA rules and of the ADRGs before ``adrg`` in its MDC."""
    mdc = pack.by_mdc[adrg[0]]
    earlier = [a for a in mdc[: [a.code for a in mdc].index(adrg)]]
    if adrg[0] != "A":
        earlier += pack.by_mdc["A"]
    return set().union(*(rule_codes(a) for a in earlier)) if earlier else set()


def pick(pack, codes, *tiers: set[str], principal_of: str | None = None) -> str:
    """The smallest usable code of ``codes`` outside the first exclusion tier that leaves one.

    Usable: not ss_invalid / zd_invalid, no HIV or trauma code (they would start MDCY / MDCZ);
    as a principal diagnosis, one listed in MDC ``principal_of`` only. The tiers go from
    strictest to loosest: sections of one rule often share codes, so the test asserts the
    outcome rather than trusting the choice.
    """
    blocked = pack.ss_invalid | pack.zd_invalid | pack.mdcy_codes | set(pack.trauma_of)
    usable = [
        c
        for c in codes
        if c not in blocked and (principal_of is None or pack.mdc_of.get(c) == (principal_of,))
    ]
    for exclude in (*tiers, set()) if tiers else (set(),):
        if found := [c for c in usable if c not in exclude]:
            return min(found)
    raise AssertionError(f"no usable code (principal of MDC{principal_of})")


def build(pack, adrg: str, names: set[str]) -> CaseInput:
    """A case that hits the sections ``names`` of ``adrg``, each with a code of its own if any.

    Codes of any-position sections go after a neutral principal procedure, so they are
    tested at secondary positions (principal positions are covered by the 主要 sections).
    """
    a = pack.adrgs[adrg]
    others = {s.name: s.codes for s in a.sections}
    every = set().union(*others.values())
    blocked = avoid(pack, adrg)
    mdc = adrg[0]
    principal, secondary, principal_px, other_px = None, [], None, []
    for name in sorted(names):
        s = section(pack, adrg, name)
        rest = set().union(*(v for k, v in others.items() if k != name))
        if s.kind == "dx" and s.position == "principal":
            principal = pick(pack, s.codes, rest | blocked, rest, principal_of=mdc)
        elif s.kind == "dx":
            secondary.append(pick(pack, s.codes, rest | blocked, rest))
        elif s.position == "principal":
            principal_px = pick(pack, s.codes, rest | blocked, blocked, rest)
        else:
            other_px.append(pick(pack, s.codes, rest | blocked, blocked, rest))
    if principal is None:  # a principal of the MDC that no section of the rule names
        principal = (
            NEUTRAL_DX if mdc == "A" else pick(pack, pack.mdc_of, every | blocked, principal_of=mdc)
        )
    if other_px and principal_px is None:
        principal_px = pick(pack, section(pack, "FM5", "主要手术或操作").codes, every | blocked)
    return CaseInput(
        principal_dx=principal,
        secondary_dx=tuple(secondary),
        principal_px=principal_px,
        other_px=tuple(other_px),
        sex=SEX.get(mdc, "1"),
        age=40,
    )


def fired(r: GroupResult, adrg: str) -> str:
    """The trace line saying ``adrg``'s rule took the case (fails when there is none)."""
    lines = [t for t in r.trace if t.startswith(f"ADRG {adrg}: ") and "rule holds but" not in t]
    assert lines, r.trace
    return lines[0]


def assert_groups(pack, case: CaseInput, adrg: str) -> GroupResult:
    r = group(case, pack)
    assert r.adrg == adrg, r.trace
    assert r.drg[:3] == adrg and r.drg in pack.drg_names, r.drg
    return r


def assert_not(pack, case: CaseInput, adrg: str) -> GroupResult:
    r = group(case, pack)
    assert r.adrg != adrg, r.trace
    assert not any(t.startswith(f"ADRG {adrg}: ") and "but" not in t for t in r.trace)
    return r


def test_logic_transcriptions_name_the_rule_sections(pack):
    for adrg, (text, groups) in LOGIC.items():
        names = {s.name for s in pack.adrgs[adrg].sections}
        assert set().union(*groups) == names, adrg
        assert pack.adrgs[adrg].rpn, adrg  # decided by _logicRPN, not the default combination
        for name in names:  # every section the groups use appears in the official text
            assert name.split()[0] in text, (adrg, name)


@pytest.mark.parametrize(("adrg", "branch"), BRANCHES)
def test_logic_branch_groups_there(pack, adrg, branch):
    names = LOGIC[adrg][1][branch]
    r = assert_groups(pack, build(pack, adrg, names), adrg)
    line = fired(r, adrg)
    assert line.startswith(f"ADRG {adrg}: logic: ")
    for name in names:
        assert f"section {name} hit by " in line, line


@pytest.mark.parametrize(("adrg", "branch"), BRANCHES)
def test_logic_branch_missing_one_section_does_not(pack, adrg, branch):
    groups = LOGIC[adrg][1]
    names = groups[branch]
    for left_out in sorted(names):
        part = names - {left_out}
        if not part or any(g <= part for g in groups):
            continue
        assert_not(pack, build(pack, adrg, part), adrg)


def test_logic_positions_are_kept(pack):
    """主要 sections match only the principal, 其他 only secondaries."""
    case = build(pack, "WB3", {"主要诊断", "主要手术或操作"})
    assert_groups(pack, case, "WB3")
    wb3 = rule_codes(pack.adrgs["WB3"])
    extra = pick(pack, pack.mdc_of, wb3, principal_of="W")
    plain_px = pick(pack, section(pack, "FM5", "主要手术或操作").codes, wb3)
    moved = CaseInput(
        extra, (case.principal_dx,), plain_px, (case.principal_px,), sex="1", age=40
    )  # both codes now at secondary positions: neither 主要 section is hit
    assert_not(pack, moved, "WB3")
    case = build(pack, "OF1", {"主要诊断 2", "其他诊断", "主要手术或操作"})
    assert_groups(pack, case, "OF1")
    swapped = CaseInput(
        case.secondary_dx[0], (case.principal_dx,), case.principal_px, sex="2", age=30
    )
    assert_not(pack, swapped, "OF1")


# --- flags: requiredProcedureGroups, referenced ADRGs, any / zero procedures ------------------


@pytest.mark.parametrize("adrg", ["AC1", "BB1", "FB1", "FF1"])
def test_required_procedure_groups(pack, adrg):
    a = pack.adrgs[adrg]
    assert len(a.procedure_groups) == 2 and not a.sections
    blocked = avoid(pack, adrg)
    g1, g2 = a.procedure_groups
    p1 = pick(pack, g1, blocked | g2)
    p2 = pick(pack, g2, blocked | g1)
    mdc = adrg[0]
    principal = NEUTRAL_DX if mdc == "A" else pick(pack, pack.mdc_of, principal_of=mdc)
    both = CaseInput(principal, principal_px=p2, other_px=(p1,), sex="1", age=40)
    r = assert_groups(pack, both, adrg)  # each group hit at any position
    assert fired(r, adrg) == f"ADRG {adrg}: procedure groups hit by {p1}, {p2}"
    for alone in (p1, p2):
        assert_not(pack, CaseInput(principal, principal_px=alone, sex="1", age=40), adrg)


@pytest.mark.parametrize(("adrg", "refs"), [("CB2", ("CB4", "CB5")), ("CB3", ("CB5", "CB6"))])
def test_required_referenced_adrgs_all_hit(pack, adrg, refs):
    a = pack.adrgs[adrg]
    assert a.all_referenced and a.referenced == refs
    blocked = avoid(pack, "CB2")  # MDCA and CB1
    eye = {r: rule_codes(pack.adrgs[r]) for r in ("CB4", "CB5", "CB6")}
    p1, p2 = (
        pick(pack, eye[ref], blocked.union(*(v for k, v in eye.items() if k != ref)))
        for ref in refs
    )
    principal = pick(pack, pack.mdc_of, principal_of="C")
    r = assert_groups(pack, CaseInput(principal, principal_px=p1, other_px=(p2,), age=9), adrg)
    want = f"ADRG {adrg}: {refs[0]} procedures hit by {p1}, {refs[1]} procedures hit by {p2}"
    assert fired(r, adrg) == want
    # either procedure alone is its own ADRG, not the combined one
    assert_groups(pack, CaseInput(principal, principal_px=p1, age=9), refs[0])
    assert_groups(pack, CaseInput(principal, principal_px=p2, age=9), refs[1])


def test_referenced_adrgs_any_hit_wj1(pack):
    wj1 = pack.adrgs["WJ1"]
    assert not wj1.all_referenced and wj1.referenced == ("WB1", "WB2", "WB3")
    wb = set().union(*(rule_codes(pack.adrgs[c]) for c in wj1.referenced))
    burn = pick(pack, pack.mdc_of, wb, principal_of="W")  # no WB section diagnosis
    px = pick(pack, wj1.referenced_codes[2], avoid(pack, "WB1"))
    r = assert_groups(pack, CaseInput(burn, principal_px=px, age=40), "WJ1")
    assert f"procedures hit by {px}" in fired(r, "WJ1")
    # the WB procedure need not be the principal one
    plain_px = pick(pack, section(pack, "FM5", "主要手术或操作").codes, wb)
    r = assert_groups(pack, CaseInput(burn, principal_px=plain_px, other_px=(px,), age=40), "WJ1")
    assert_not(pack, CaseInput(burn, age=40), "WJ1")


@pytest.mark.parametrize("adrg", ["SB1", "TB1", "XJ1", "YC1"])
def test_any_procedure_required(pack, adrg):
    mdc = adrg[0]
    if mdc == "Y":
        principal = min(section(pack, "YR1", "诊断").codes - pack.zd_invalid)
    else:
        principal = pick(pack, pack.mdc_of, principal_of=mdc)
    for donor in ("GB1", "FM5"):  # a surgical and a non-OR procedure: any one will do
        px = pick(pack, rule_codes(pack.adrgs[donor]), avoid(pack, adrg))
        r = assert_groups(pack, CaseInput(principal, principal_px=px, age=40), adrg)
        assert fired(r, adrg) == f"ADRG {adrg}: procedure {px}"
    r = assert_not(pack, CaseInput(principal, age=40), adrg)
    assert r.mdc == mdc and r.adrg[1] >= "R", r.trace  # the MDC's medical ADRGs
    # a procedure in ss_invalid does not count
    invalid = min(pack.ss_invalid)
    assert_not(pack, CaseInput(principal, principal_px=invalid, age=40), adrg)


def test_zero_procedures_required_zz1(pack):
    cats = list(pack.mdcz_categories.values())
    a, b = min(cats[0] - cats[1]), min(cats[1] - cats[0])
    r = assert_groups(pack, CaseInput(a, (b,), age=40), "ZZ1")
    assert fired(r, "ZZ1") == "ADRG ZZ1: no qualifying procedure"
    z_px = set().union(*(rule_codes(x) for x in pack.by_mdc["Z"]))
    px = pick(pack, section(pack, "ZJ1", "主要手术或操作").codes, avoid(pack, "ZB1"))
    r = assert_not(pack, CaseInput(a, (b,), principal_px=px, age=40), "ZZ1")
    assert r.mdc == "Z" and r.adrg[1] <= "J", r.trace
    invalid = min(pack.ss_invalid - z_px)  # an ignored procedure is no procedure
    assert_groups(pack, CaseInput(a, (b,), principal_px=invalid, age=40), "ZZ1")
