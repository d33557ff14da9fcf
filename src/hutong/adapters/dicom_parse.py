"""The pydicom call that both DICOM header paths make, and where it stops.

:mod:`hutong.adapters.dicom_header` (the budgeted path) and
:mod:`hutong.adapters.dicom_memory` (the in-memory fast path) must parse a file the same way,
or their outcomes could differ. So the one ``dcmread`` call, its silence and the Pixel Data
tags it stops before are kept here, where both import them without importing each other.
"""

from __future__ import annotations

import warnings
from typing import BinaryIO

import pydicom
from pydicom.dataset import Dataset

PIXEL_TAGS = {0x7FE00010, 0x7FE00008, 0x7FE00009}


def quiet() -> warnings.catch_warnings:
    """pydicom warns about each oddity it reads past; here a reject (or nothing) says enough."""
    return warnings.catch_warnings(action="ignore")


def read_elements(fp: BinaryIO, tags: list[int], defer: int | None) -> Dataset:
    """The file meta and ``tags`` of the data set in ``fp``, up to its Pixel Data; values
    larger than ``defer`` bytes are left unread. ``force``: a bare data set is DICOM too."""
    return pydicom.dcmread(
        fp, defer_size=defer, stop_before_pixels=True, force=True, specific_tags=tags
    )
