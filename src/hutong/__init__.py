"""hutong (互通): hospital exports to canonical tables, FHIR R4, NHSA face sheets and QC."""

__version__ = "0.1.0"

# The QC rule packs a run and `hutong qc` use unless told otherwise (kept here, not in
# hutong.quality, so the command line can show it without importing pandas).
DEFAULT_RULES = "nhsa-settlement+nhsa-homepage+code-validity+plausibility"

# Stays per partition unless --partition-size says otherwise: what bounds a run's memory. A
# partition has a fixed cost whatever its size (~0.4 s of pandas calls); at 20,000 stays a 1M
# run took 115-119 s with 850 MiB peak, at 10,000 125-130 s with 560 MiB (2 cores).
PARTITION_SIZE = 20_000
