"""CHS-DRG grouping: ``group(case, load_pack(folder))`` and ``group_facesheet(sheet, pack)``."""

from hutong.quality.drg.grouper import CaseInput, GroupResult, group, group_facesheet
from hutong.quality.drg.pack import DrgPack, DrgPackError, load_pack

__all__ = [
    "CaseInput",
    "DrgPack",
    "DrgPackError",
    "GroupResult",
    "group",
    "group_facesheet",
    "load_pack",
]
