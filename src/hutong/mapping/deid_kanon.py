"""k-anonymity of inpatient stays over their quasi-identifiers, for the run manifest: how many
stays share each combination of age band, sex, region and admission month, and which
combinations are rarer than k (those stays are the re-identifiable ones)."""

from __future__ import annotations

import pandas as pd

from hutong.mapping.facesheet import _age_parts

QUASI_IDENTIFIERS = ("age_band", "gend", "region", "adm_month")
MAX_LISTED = 200  # small classes listed in the manifest; the count says how many there are


def age_band(age: float | None, top: int = 90) -> str | None:
    """Five-year band ``"30-34"``; ``"90+"`` from ``top``; None when unknown."""
    if age is None or pd.isna(age):
        return None
    if age >= top:
        return f"{top}+"
    low = int(age) // 5 * 5
    return f"{low}-{low + 4}"


def quasi_identifiers(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per inpatient stay (enc_class IMP or unknown) with its quasi-identifiers."""
    enc = tables["encounter"]
    enc = enc[enc["enc_class"].isna() | (enc["enc_class"] == "IMP")]
    pat = tables.get("patient", pd.DataFrame(columns=["patient_id"]))
    pat = pat.drop_duplicates("patient_id").set_index("patient_id")
    brdy = enc["patient_id"].map(pat["brdy"]) if "brdy" in pat else None
    age = enc["age"].astype("Float64") if "age" in enc else pd.Series(pd.NA, index=enc.index)
    if brdy is not None:
        age = age.fillna(_age_parts(brdy, enc["adm_time"])[0].set_axis(enc.index))
    region = pd.Series(None, index=enc.index, dtype=object)
    if "curr_addr" in pat:
        region = enc["patient_id"].map(pat["curr_addr"])
    if "insuplc" in enc:
        region = region.where(region.notna(), enc["insuplc"])
    gend = enc["patient_id"].map(pat["gend"]) if "gend" in pat else None
    return pd.DataFrame(
        {
            "age_band": [age_band(a) for a in age.astype("float64")],
            "gend": gend,
            "region": region,
            "adm_month": pd.to_datetime(enc["adm_time"]).dt.strftime("%Y-%m"),
        },
        index=enc.index,
    )


def class_sizes(tables: dict[str, pd.DataFrame]) -> pd.Series:
    """Stays per quasi-identifier class (indexed by the class values; '' for a missing one)."""
    qi = quasi_identifiers(tables).astype(object).where(lambda f: f.notna(), "")
    return qi.groupby(list(QUASI_IDENTIFIERS), sort=True).size()


def k_anonymity(tables: dict[str, pd.DataFrame], k: int) -> dict:
    """Class count, smallest class and the classes smaller than ``k`` (QI values and size)."""
    return k_report(class_sizes(tables), k)


def k_report(sizes: pd.Series, k: int) -> dict:
    """The k-anonymity report of class sizes (several partitions' sizes summed first)."""
    if len(sizes):
        sizes = sizes.groupby(level=list(range(sizes.index.nlevels)), sort=True).sum()
    small = sizes[sizes < k].sort_values(kind="mergesort")
    listed = [
        {**dict(zip(QUASI_IDENTIFIERS, values, strict=True)), "size": int(size)}
        for values, size in small.head(MAX_LISTED).items()
    ]
    return {
        "k": k,
        "quasi_identifiers": list(QUASI_IDENTIFIERS),
        "records": int(sizes.sum()),
        "classes": len(sizes),
        "smallest": int(sizes.min()) if len(sizes) else 0,
        "small_classes_count": len(small),
        "records_in_small_classes": int(small.sum()),
        "small_classes": listed,
    }
