"""Per-MDC lookup tables, built once at load, that say which ADRG rules a case can satisfy.

Most ADRG rules are the default combination (OR within diagnosis sections, OR within procedure
sections, AND between the two kinds). For those, whether the rule holds depends only on which
(kind, position, code) triples the case has, so an inverted index ``code → ADRG positions`` per
(kind, position) answers it for every ADRG of the MDC with a few dict lookups per case, instead
of scanning every section of every ADRG. Rules with logic or flags (a handful) stay on the
general evaluator in ``rules.holds``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hutong.quality.drg.pack import Adrg

# How an ADRG's rule is decided: by the diagnosis index, the procedure index, both, or the
# general evaluator ("slow": logic, flags); "never" = a rule with no section and no flag.
DX, PX, BOTH, SLOW, NEVER = "dx", "px", "both", "slow", "never"


@dataclass(frozen=True)
class MdcIndex:
    """The ADRGs of one MDC in rule order, each with how its rule is decided, and the indexes."""

    adrgs: tuple[Adrg, ...]
    modes: tuple[str, ...]
    # code → positions (into ``adrgs``) of ADRGs one of whose sections it hits
    dx_principal: dict[str, tuple[int, ...]]
    dx_secondary: dict[str, tuple[int, ...]]
    dx_any: dict[str, tuple[int, ...]]
    px_principal: dict[str, tuple[int, ...]]
    px_secondary: dict[str, tuple[int, ...]]
    px_any: dict[str, tuple[int, ...]]
    slow: frozenset[int]
    # "slow" rules are monotone in their section hits (only AND / OR), so one needs at least one
    # of its codes present: code → slow positions; plus the procedure-count flags
    dx_maybe: dict[str, tuple[int, ...]]
    px_maybe: dict[str, tuple[int, ...]]
    if_any_procedure: tuple[int, ...]
    if_no_procedure: tuple[int, ...]

    def candidates(self, dx: Sequence[str], px: Sequence[str]) -> list[int]:
        """Positions, in rule order, of the ADRGs whose rule may hold (all but "slow" ones do)."""
        dx_ok = _hits(dx, self.dx_principal, self.dx_secondary, self.dx_any)
        px_ok = _hits(px, self.px_principal, self.px_secondary, self.px_any)
        modes = self.modes
        found = set(self.if_any_procedure if px else self.if_no_procedure)
        for code in dx:
            if code in self.dx_maybe:
                found.update(self.dx_maybe[code])
        for code in px:
            if code in self.px_maybe:
                found.update(self.px_maybe[code])
        for i in dx_ok:
            mode = modes[i]
            if mode == DX or (mode == BOTH and i in px_ok):
                found.add(i)
        for i in px_ok:
            if modes[i] == PX:
                found.add(i)
        return sorted(found)


def _hits(codes: Sequence[str], principal: dict, secondary: dict, anywhere: dict) -> set[int]:
    out: set[int] = set()
    if not codes:
        return out
    first = codes[0]
    if first in principal:
        out.update(principal[first])
    for i, code in enumerate(codes):
        if code in anywhere:
            out.update(anywhere[code])
        if i and code in secondary:
            out.update(secondary[code])
    return out


def _mode(adrg: Adrg) -> str:
    if (
        adrg.rpn
        or adrg.procedure_groups
        or adrg.referenced
        or adrg.any_procedure
        or adrg.zero_procedures
    ):
        return SLOW
    kinds = {s.kind for s in adrg.sections}
    if not kinds:
        return NEVER
    return BOTH if len(kinds) == 2 else kinds.pop()


def _rule_codes(adrg: Adrg):
    """(kind, codes) of every list a "slow" rule reads; it cannot hold if the case has none."""
    for section in adrg.sections:
        yield section.kind, section.codes
    for group in adrg.procedure_groups:
        yield "px", group
    for codes in adrg.referenced_codes:
        yield "px", codes


def build_index(adrgs: Sequence[Adrg]) -> MdcIndex:
    """Index the ADRGs of one MDC (given in rule order)."""
    tables: dict[tuple[str, str], dict[str, list[int]]] = {
        (k, p): {} for k in ("dx", "px") for p in ("principal", "secondary", "any")
    }
    modes = tuple(_mode(a) for a in adrgs)
    maybe: dict[str, dict[str, set[int]]] = {"dx": {}, "px": {}}
    for i, (adrg, mode) in enumerate(zip(adrgs, modes, strict=True)):
        if mode == SLOW:
            for kind, codes in _rule_codes(adrg):
                for code in codes:
                    maybe[kind].setdefault(code, set()).add(i)
        if mode in (SLOW, NEVER):
            continue
        for section in adrg.sections:
            table = tables[(section.kind, section.position)]
            for code in section.codes:
                positions = table.setdefault(code, [])
                if not positions or positions[-1] != i:
                    positions.append(i)

    def frozen(kind: str, position: str) -> dict[str, tuple[int, ...]]:
        return {c: tuple(v) for c, v in tables[(kind, position)].items()}

    return MdcIndex(
        adrgs=tuple(adrgs),
        modes=modes,
        dx_principal=frozen("dx", "principal"),
        dx_secondary=frozen("dx", "secondary"),
        dx_any=frozen("dx", "any"),
        px_principal=frozen("px", "principal"),
        px_secondary=frozen("px", "secondary"),
        px_any=frozen("px", "any"),
        slow=frozenset(i for i, m in enumerate(modes) if m == SLOW),
        dx_maybe={c: tuple(sorted(v)) for c, v in maybe["dx"].items()},
        px_maybe={c: tuple(sorted(v)) for c, v in maybe["px"].items()},
        if_any_procedure=tuple(i for i, a in enumerate(adrgs) if a.any_procedure),
        if_no_procedure=tuple(i for i, a in enumerate(adrgs) if a.zero_procedures),
    )
