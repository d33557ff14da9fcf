"""Code systems in the national list format: one ``CODE NAME`` per line (医保版 2.0 files).

The same loader reads the official NHSA lists a user points hutong at and the small sample
lists hutong ships. A ``<stem>-gray.txt`` file beside a list is its gray-code list (codes that
must not be uploaded in the settlement list).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

DIAGNOSIS = "icd10-yb-2.0"
PROCEDURE = "icd9cm3-yb-2.0"

TITLES = {
    DIAGNOSIS: "医保疾病诊断分类与代码 ICD-10 医保版 2.0",
    PROCEDURE: "医保手术操作分类与代码 ICD-9-CM-3 医保版 2.0",
}


class CodeListError(ValueError):
    """A code list file with a line that is not ``CODE NAME``."""


@dataclass
class CodeSystem:
    """Codes with their names, and the gray codes, of one versioned system."""

    id: str
    source: str
    names: dict[str, str]
    gray: set[str] = field(default_factory=set)

    def __contains__(self, code: object) -> bool:
        return code in self.names

    def __len__(self) -> int:
        return len(self.names)

    @property
    def title(self) -> str:
        return TITLES.get(self.id, self.id)


def read_code_list(path: Path) -> dict[str, str]:
    """Parse a ``CODE NAME`` file; a line without a name is an error naming file and line."""
    names: dict[str, str] = {}
    text = path.read_bytes().decode("utf-8-sig")
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        code, _, name = line.partition(" ")
        if not name.strip():
            raise CodeListError(f"{path}:{number}: expected 'CODE NAME', found {line!r}")
        names.setdefault(code, name.strip())
    return names


def load_code_system(system_id: str, path: Path) -> CodeSystem:
    """Load a code list and, when present, its ``-gray`` sibling."""
    gray_path = path.with_name(f"{path.stem}-gray{path.suffix}")
    gray = set(read_code_list(gray_path)) if gray_path.exists() else set()
    return CodeSystem(system_id, path.as_posix(), read_code_list(path), gray)


def sample_code_system(system_id: str) -> CodeSystem:
    """The small hand-picked sample of a national list shipped with hutong (demo, tests)."""
    folder = resources.files("hutong.terminologies").joinpath("data")
    with resources.as_file(folder.joinpath(f"sample-{system_id}.txt")) as path:
        system = load_code_system(system_id, path)
    system.source = f"builtin:sample-{system_id}"
    return system
