"""CHS-DRG grouping: ``group(case, load_pack(folder))`` and ``group_facesheet(sheet, pack)``."""

from importlib.resources import files
from pathlib import Path

from hutong.quality.drg.grouper import CaseInput, GroupResult, group
from hutong.quality.drg.pack import DrgPack, DrgPackError, load_pack
from hutong.quality.drg.sheet import group_facesheet


def sample_pack_path() -> Path:
    """The hand-made, illustrative sample pack shipped with hutong (not the official tables)."""
    return Path(str(files("hutong.quality.drg") / "data" / "sample-pack"))


__all__ = [
    "CaseInput",
    "DrgPack",
    "DrgPackError",
    "GroupResult",
    "group",
    "group_facesheet",
    "load_pack",
    "sample_pack_path",
]
