"""Quality checks of the settlement-list face sheet: rules as data, run vectorized.

>>> from hutong.quality import check, load_pack, write_findings, write_report
>>> findings = check(sheet)                                # doctest: +SKIP

``check`` runs a rule pack (default: the built-in ``nhsa-settlement`` pack, a TOML file of
rules with their sources) over a :class:`~hutong.mapping.facesheet.FaceSheet` and returns one
row per failing (case, rule, field). ``write_findings`` writes them as CSV and ``write_report``
as a self-contained HTML page.
"""

from hutong.quality.engine import COLUMNS, check, run_rule, skipped, write_findings
from hutong.quality.pack import Pack, Rule, builtin_packs, combine_packs, load_pack, parse_pack
from hutong.quality.report import write_report

__all__ = [
    "COLUMNS",
    "Pack",
    "Rule",
    "builtin_packs",
    "check",
    "combine_packs",
    "load_pack",
    "parse_pack",
    "run_rule",
    "skipped",
    "write_findings",
    "write_report",
]
