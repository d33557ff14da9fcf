"""hutong (互通): hospital exports to canonical tables, FHIR R4, NHSA face sheets and QC."""

__version__ = "0.1.0"
