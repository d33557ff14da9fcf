"""Reduce an address to its administrative region (省 / 市 / 县), and a 6-digit region code or
postcode to the same level, so a record keeps where a patient lives only as coarsely as the
profile allows (GB/T 2260: 2 digits province, 4 city, 6 county)."""

from __future__ import annotations

import re

import pandas as pd

LEVELS = ("province", "city", "county")
CODE_DIGITS = {"province": 2, "city": 4, "county": 6}

_MUNICIPALITIES = "北京市|天津市|上海市|重庆市"
_PROVINCE = re.compile(rf"(?:{_MUNICIPALITIES}|[\u4e00-\u9fff]{{2,8}}?(?:省|自治区|特别行政区))")
_CITY = re.compile(r"[\u4e00-\u9fff]{1,10}?(?:自治州|地区|盟|市)")
_COUNTY = re.compile(r"[\u4e00-\u9fff]{1,10}?(?:自治县|区|县|旗|市)")


def region(address: str, level: str) -> str | None:
    """The leading 省 / 市 / 县 words of ``address`` down to ``level``; None when the address
    does not start with a province (a bare street could name too few people to keep).

    >>> region("河北省廊坊市安次区银河南路12号", "city")
    '河北省廊坊市'
    >>> region("北京市朝阳区建国路88号", "city")
    '北京市'
    """
    text = address.strip().replace(" ", "")
    province = _PROVINCE.match(text)
    if province is None:
        return None
    kept = province.group()
    rest = text[province.end() :]
    if level == "province":
        return kept
    # A municipality has no city level of its own: its districts are counties.
    if not kept.endswith("市"):
        city = _CITY.match(rest)
        if city is None:
            return kept
        kept, rest = kept + city.group(), rest[city.end() :]
    if level == "city":
        return kept
    county = _COUNTY.match(rest)
    return kept + county.group() if county else kept


def regions(values: pd.Series, level: str) -> pd.Series:
    """Column form of :func:`region`; empty stays empty."""
    return values.map(lambda v: region(v, level) if isinstance(v, str) and v.strip() else None)


def region_code(code: str, level: str) -> str | None:
    """A 6-digit code cut to the level and padded with zeros: 131002 → 131000 at city level;
    anything that is not 6 digits is dropped rather than guessed at."""
    text = code.strip()
    if not (len(text) == 6 and text.isdigit()):
        return None
    digits = CODE_DIGITS[level]
    return text[:digits] + "0" * (6 - digits)


def region_codes(values: pd.Series, level: str) -> pd.Series:
    """Column form of :func:`region_code`; empty stays empty."""
    return values.map(lambda v: region_code(v, level) if isinstance(v, str) and v.strip() else None)
