"""De-identify canonical tables before they leave the hospital (PIPL 第28、73条).

One call, driven by a profile written as data (``deid_profiles/*.toml``)::

    key = deid_key(Path("site.key"))                  # or env HUTONG_DEID_KEY
    safe, report = deidentify(tables, load_deid_profile("research"), key)

Identifiers become keyed pseudonyms (same key and value → same token in every table and run),
names and contact details are removed, addresses are cut to a region, free text is scrubbed,
every date of a patient moves by one per-patient offset, and ages from 90 are grouped. The key
is never written to the tables or the report.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pandas as pd

from hutong import model
from hutong.mapping import deid_dates, deid_region, deid_text
from hutong.mapping.deid_kanon import k_anonymity
from hutong.mapping.deid_pseudonym import dicom_uid, pseudonymise, token

__all__ = ["DeidProfile", "deid_key", "deidentify", "k_anonymity", "load_deid_profile"]

BUILT_IN = ("none", "research", "share")
MIN_KEY_BYTES = 16
KEY_ENV = "HUTONG_DEID_KEY"


@dataclass(frozen=True)
class DeidProfile:
    """What to do with each column; column specs are ``table.column`` (``*`` = any table)."""

    name: str
    source: str
    identity: bool = False
    pseudonyms: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    uids: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    region_level: str = "province"
    addresses: tuple[str, ...] = ()
    region_codes: tuple[str, ...] = ()
    text: tuple[str, ...] = ()
    max_shift_days: int = 180
    top_age: int = 90
    k: int = 5  # k-anonymity threshold the run manifest reports against


def load_deid_profile(name_or_path: str | Path) -> DeidProfile:
    """A built-in profile by name (none, research, share) or a profile TOML file by path.

    Raises ``ValueError`` naming the file and the problem for an unknown level or column.
    """
    data, where = _profile_data(name_or_path)
    head = data.get("profile", {})
    if not head.get("source"):
        raise ValueError(f"{where}: [profile] needs a source line / 缺少依据 (source)")
    if head.get("identity"):
        return DeidProfile(name=head.get("name", "none"), source=head["source"], identity=True)
    level = data.get("region", {}).get("level", "province")
    if level not in deid_region.LEVELS:
        raise ValueError(f"{where}: region level {level!r} not in {deid_region.LEVELS}")
    pseudonyms = {
        ns: (spec["prefix"], tuple(spec["columns"]))
        for ns, spec in data.get("pseudonyms", {}).items()
    }
    profile = DeidProfile(
        name=head.get("name", str(name_or_path)),
        source=head["source"],
        pseudonyms=pseudonyms,
        uids=tuple(data.get("uids", {}).get("columns", ())),
        names=tuple(data.get("remove", {}).get("names", ())),
        remove=tuple(data.get("remove", {}).get("columns", ())),
        region_level=level,
        addresses=tuple(data.get("region", {}).get("addresses", ())),
        region_codes=tuple(data.get("region", {}).get("codes", ())),
        text=tuple(data.get("text", {}).get("columns", ())),
        max_shift_days=int(data.get("dates", {}).get("max_shift_days", 180)),
        top_age=int(data.get("ages", {}).get("top", 90)),
        k=int(data.get("k_anonymity", {}).get("k", 5)),
    )
    _check_columns(profile, where)
    if profile.max_shift_days < 1:
        raise ValueError(f"{where}: max_shift_days must be at least 1")
    return profile


def _profile_data(name_or_path: str | Path) -> tuple[dict, str]:
    """The profile's TOML, with ``extends`` resolved (the child's tables override the base's)."""
    if str(name_or_path) in BUILT_IN:
        ref = resources.files("hutong.mapping").joinpath(f"deid_profiles/{name_or_path}.toml")
        text, where = ref.read_text(encoding="utf-8"), f"deid_profiles/{name_or_path}.toml"
    else:
        path = Path(name_or_path)
        if not path.exists():
            raise ValueError(
                f"{path}: no such de-identification profile / 去标识化配置不存在 "
                f"(built-in: {', '.join(BUILT_IN)})"
            )
        text, where = path.read_text(encoding="utf-8"), str(path)
    data = tomllib.loads(text)
    base = data.get("profile", {}).get("extends")
    if base:
        parent, _ = _profile_data(base)
        for section, values in data.items():
            parent[section] = {**parent.get(section, {}), **values}
        parent["profile"].pop("extends", None)
        data = parent
    return data, where


def _check_columns(profile: DeidProfile, where: str) -> None:
    specs = [
        *(c for _, cols in profile.pseudonyms.values() for c in cols),
        *profile.uids,
        *profile.names,
        *profile.remove,
        *profile.addresses,
        *profile.region_codes,
        *profile.text,
    ]
    for spec in specs:
        table, _, column = spec.partition(".")
        known = model.SCHEMAS.values() if table == "*" else [model.SCHEMAS.get(table)]
        if not any(s is not None and column in s.names for s in known):
            raise ValueError(f"{where}: unknown column {spec!r} / 未知字段")


def deid_key(key_file: Path | None) -> bytes:
    """The pseudonym key: the file's bytes (stripped), else env ``HUTONG_DEID_KEY``.

    Raises ``ValueError`` when there is none or it is shorter than 16 bytes: a short key lets
    anyone recompute the pseudonyms of guessed identifiers.
    """
    if key_file is not None:
        key = Path(key_file).read_bytes().strip()
        origin = str(key_file)
    else:
        key = os.environ.get(KEY_ENV, "").strip().encode()
        origin = KEY_ENV
    if not key:
        raise ValueError(
            "去标识化需要密钥：请用 --deid-key-file 指定密钥文件，或设置环境变量 HUTONG_DEID_KEY。"
            " / De-identification needs a key: pass --deid-key-file or set HUTONG_DEID_KEY."
        )
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(
            f"{origin}: 密钥太短（至少 {MIN_KEY_BYTES} 字节）/ "
            f"the key is too short (at least {MIN_KEY_BYTES} bytes)"
        )
    return key


def _columns(spec: str, tables: dict[str, pd.DataFrame]) -> list[tuple[str, str]]:
    """(table, column) pairs a ``table.column`` spec names among the given frames."""
    table, _, column = spec.partition(".")
    names = tables if table == "*" else [table] if table in tables else []
    return [(t, column) for t in names if column in tables[t].columns]


def deidentify(
    tables: dict[str, pd.DataFrame], profile: DeidProfile, key: bytes
) -> tuple[dict[str, pd.DataFrame], dict]:
    """De-identified copies of the canonical ``tables`` and a report of counts per step.

    The input frames are not changed. The profile ``none`` returns copies unchanged.
    """
    out = {t: f.copy() for t, f in tables.items()}
    report: dict = {"profile": profile.name, "source": profile.source}
    if profile.identity:
        return out, report
    names = _known_names(out, profile)
    _dates_and_ages(out, profile, key, report)
    scrub = deid_text.scrubber(names)
    scrubbed = {}
    for spec in profile.text:
        for t, c in _columns(spec, out):
            out[t][c], n = deid_text.scrub_column(out[t][c], scrub)
            if n:
                scrubbed[f"{t}.{c}"] = n
    report["text_scrubbed"] = scrubbed
    report["regions"] = _regions(out, profile)
    removed = {}
    for spec in (*profile.names, *profile.remove):
        for t, c in _columns(spec, out):
            removed[f"{t}.{c}"] = int(out[t][c].notna().sum())
            out[t][c] = pd.Series(None, index=out[t].index, dtype=object)
    report["removed"] = removed
    report["pseudonymised"] = _pseudonyms(out, profile, key)
    return out, report


def _known_names(tables: dict[str, pd.DataFrame], profile: DeidProfile) -> set[str]:
    """Names and other removed values (certno, phones) to scrub from free text."""
    found: set[str] = set()
    for spec in (*profile.names, *profile.remove):
        for t, c in _columns(spec, tables):
            found.update(v.strip() for v in tables[t][c].dropna().astype(str))
    return {v for v in found if len(v) >= 2}


def _dates_and_ages(
    out: dict[str, pd.DataFrame], profile: DeidProfile, key: bytes, report: dict
) -> None:
    """Fill ages from identified dates, shift every date per patient, group ages from top."""
    if "encounter" in out and "patient" in out:
        out["encounter"], report["ages_filled"] = deid_dates.fill_ages(
            out["encounter"], out["patient"]
        )
    days, report["rows_without_patient"] = deid_dates.offsets(out, key, profile.max_shift_days)
    shifted = 0
    for table, frame in out.items():
        for col in deid_dates.date_columns(table, frame):
            shifted += int(frame[col].notna().sum())
            frame[col] = deid_dates.shift(frame[col], days[table])
    report["dates_shifted"] = shifted
    report["ages_grouped"] = 0
    if "encounter" in out:
        enc = out["encounter"]
        old = enc["age"].astype("Float64") >= profile.top_age
        old = old.fillna(False).astype(bool)
        enc.loc[old, "age"] = float(profile.top_age)
        elderly = set(enc.loc[old, "patient_id"])
        report["ages_grouped"] = len(elderly)
        if "patient" in out and elderly:
            # The birth date is removed, not generalised to a year: a year of birth and an
            # admission date still give an exact age above 90 (HIPAA 164.514(b)(2)(i)(C)).
            pat = out["patient"]
            pat["brdy"] = pat["brdy"].astype(object).where(~pat["patient_id"].isin(elderly), None)


def _regions(out: dict[str, pd.DataFrame], profile: DeidProfile) -> dict:
    counts = {"level": profile.region_level, "addresses": 0, "codes": 0}
    for spec in profile.addresses:
        for t, c in _columns(spec, out):
            counts["addresses"] += int(out[t][c].notna().sum())
            out[t][c] = deid_region.regions(out[t][c], profile.region_level)
    for spec in profile.region_codes:
        for t, c in _columns(spec, out):
            counts["codes"] += int(out[t][c].notna().sum())
            out[t][c] = deid_region.region_codes(out[t][c], profile.region_level)
    return counts


def _pseudonyms(out: dict[str, pd.DataFrame], profile: DeidProfile, key: bytes) -> dict:
    counts = {}
    for namespace, (prefix, specs) in profile.pseudonyms.items():
        cache: dict[str, str] = {}

        def make(value: str, ns: str = namespace, p: str = prefix, memo: dict = cache) -> str:
            if value not in memo:
                memo[value] = token(key, ns, p, value)
            return memo[value]

        for spec in specs:
            for t, c in _columns(spec, out):
                counts[f"{t}.{c}"] = int(out[t][c].notna().sum())
                out[t][c] = pseudonymise(out[t][c], make)
    uids: dict[str, str] = {}
    for spec in profile.uids:
        for t, c in _columns(spec, out):
            counts[f"{t}.{c}"] = int(out[t][c].notna().sum())
            out[t][c] = pseudonymise(out[t][c], lambda v: uids.setdefault(v, dicom_uid(key, v)))
    return counts
