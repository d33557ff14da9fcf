"""DIP (病种分值付费) grouping from a catalog file.

>>> catalog = load_catalog(Path("catalog.csv"), Path("params.toml"))   # doctest: +SKIP
>>> frame = group_facesheet(read_facesheet(Path("out/facesheet")), catalog)  # doctest: +SKIP
>>> write_dip(frame, Path("out/dip"))                                   # doctest: +SKIP
"""

from importlib import resources
from pathlib import Path

from hutong.quality.dip.catalog import DipCatalog, DipCatalogError, DipGroup, load_catalog
from hutong.quality.dip.grouper import DipResult, group_case, group_facesheet
from hutong.quality.dip.output import write_dip
from hutong.quality.dip.params import DipParams


def sample_catalog() -> DipCatalog:
    """The shipped illustrative catalog (not official scores) that covers the demo samples."""
    data = resources.files("hutong.quality.dip").joinpath("data")
    with resources.as_file(data) as folder:
        return load_catalog(
            Path(folder) / "sample-catalog.csv", Path(folder) / "sample-params.toml"
        )


__all__ = [
    "DipCatalog",
    "DipCatalogError",
    "DipGroup",
    "DipParams",
    "DipResult",
    "group_case",
    "group_facesheet",
    "load_catalog",
    "sample_catalog",
    "write_dip",
]
