"""FHIR R4 output: canonical tables to Patient, Encounter, Condition and Procedure resources, and
from the clinical tables ServiceRequest, DiagnosticReport, Observation, ImagingStudy and
MedicationRequest, and Claim from the charge table::

resources = emit_fhir(tables, rejects)   # {"Patient": [...], "Encounter": [...], ...}
problems = validate(resources)          # [] when every resource and reference is good
write_ndjson(resources, Path("out"))    # out/fhir/Patient.ndjson, ...
write_bundles(resources, Path("out/fhir/bundles"))  # transaction Bundles bundle-0001.json, ...
"""

from hutong.mapping.fhir.bundle import write_bundles
from hutong.mapping.fhir.emit import emit_fhir
from hutong.mapping.fhir.ndjson import write_ndjson
from hutong.mapping.fhir.validate import validate

__all__ = ["emit_fhir", "validate", "write_bundles", "write_ndjson"]
