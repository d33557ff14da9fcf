"""Does an ADRG's entry rule hold for a case? ``holds(adrg, dx, px, pack)`` → (bool, why).

``dx`` is the diagnosis list (principal first), ``px`` the qualifying procedures (principal
first, ss_invalid already removed). The why-text names the section and code that fired.
"""

from __future__ import annotations

from hutong.quality.drg.pack import Adrg, DrgPack, Section


def section_hit(section: Section, dx: list[str], px: list[str]) -> str | None:
    """The first code of the case that hits ``section`` at an allowed position, or None."""
    codes = dx if section.kind == "dx" else px
    if section.position == "principal":
        candidates = codes[:1]
    elif section.position == "secondary":
        candidates = codes[1:]
    else:
        candidates = codes
    for code in candidates:
        if code in section.codes:
            return code
    return None


def _rpn(adrg: Adrg, hits: dict[str, str | None]) -> bool:
    stack: list[bool] = []
    for token in adrg.rpn:
        if token in ("&&", "||"):
            right, left = stack.pop(), stack.pop()
            stack.append(left and right if token == "&&" else left or right)
        else:
            stack.append(hits.get(token) is not None)
    return bool(stack) and stack[-1]


def _fired(hits: dict[str, str | None]) -> str:
    return ", ".join([f"section {n} hit by {c}" for n, c in hits.items() if c is not None])


def holds(adrg: Adrg, dx: list[str], px: list[str], pack: DrgPack) -> tuple[bool, str]:
    """Whether ``adrg``'s rule takes the case, and a short account of what fired."""
    if adrg.zero_procedures:
        return (not px, "no qualifying procedure")
    if adrg.any_procedure:
        return (bool(px), f"procedure {px[0]}" if px else "")
    if adrg.procedure_groups:
        found = [next((p for p in px if p in g), None) for g in adrg.procedure_groups]
        ok = all(found)
        return (ok, "procedure groups hit by " + ", ".join(map(str, found)) if ok else "")
    if adrg.referenced:
        # any position: see pack._referenced_codes
        hit = {
            ref: next((p for p in px if p in codes), None)
            for ref, codes in zip(adrg.referenced, adrg.referenced_codes, strict=True)
        }
        ok = all(hit.values()) if adrg.all_referenced else any(hit.values())
        text = ", ".join(f"{r} procedures hit by {c}" for r, c in hit.items() if c)
        return (ok, text if ok else "")
    if not adrg.sections:
        return (False, "")
    hits = {s.name: section_hit(s, dx, px) for s in adrg.sections}
    if adrg.rpn:
        ok = _rpn(adrg, hits)
        return (ok, f"logic: {_fired(hits)}" if ok else "")
    kinds = {s.kind for s in adrg.sections}
    ok = all(any(hits[s.name] for s in adrg.sections if s.kind == k) for k in kinds)
    return (ok, _fired(hits) if ok else "")


def fired(adrg: Adrg, dx: list[str], px: list[str]) -> str:
    """The account :func:`holds` gives of a default-combination rule (sections only, no logic,
    no flags) that holds: what the per-MDC index already decided, without deciding it again."""
    return _fired({s.name: section_hit(s, dx, px) for s in adrg.sections})
