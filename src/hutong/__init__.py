"""hutong (互通): hospital exports to canonical tables, FHIR R4, NHSA face sheets and QC."""

__version__ = "0.1.0"

# The QC rule packs a run and `hutong qc` use unless told otherwise (kept here, not in
# hutong.quality, so the command line can show it without importing pandas).
DEFAULT_RULES = "nhsa-settlement+nhsa-homepage+code-validity+plausibility"
