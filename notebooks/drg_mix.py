# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # DRG mix of a run / DRG 病组结构
#
# Reads every run under `HUTONG_OUT` (default `hutong-demo-out/`, what `make demo` writes; a
# folder holding `manifest.json` is read as one run):
#
# - `qc/groups.csv`: each case's MDC, ADRG, DRG, CC status, weight, and the reason when it is
#   ungroupable (DRG `0000`);
# - `qc/trace.ndjson`: the grouper's steps for each case;
# - `qc/cmi.csv`: the case-mix index per discharge department and for the hospital (全院);
# - `facesheet/setlinfo.csv` (departments), `unmapped.csv` (the coders' queue);
# - `manifest.json`: the run's DRG totals, and the pack whose names label the tables.
#
# The demo groups with hutong's hand-made sample pack and its illustrative weights: the mix
# shows how to read a run, not real CHS-DRG weights. Plot text stays in English.

# %%
import json
import os
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from hutong.quality.drg import load_pack, sample_pack_path

if "ipykernel" not in sys.modules:  # run as a script: draw off-screen, nothing to show
    plt.switch_backend("Agg")

OUT = Path(os.environ.get("HUTONG_OUT", "hutong-demo-out"))
RUNS = (
    [OUT]
    if (OUT / "manifest.json").is_file()
    else sorted(p.parent for p in OUT.glob("*/manifest.json"))
)
assert RUNS, f"no run under {OUT}: `make demo` writes one"
manifests = {run.name: json.loads((run / "manifest.json").read_text("utf-8")) for run in RUNS}
assert all(m["drg"] for m in manifests.values()), "a run without DRG grouping (--drg-pack)"
ID = {"mdtrt_id": str}
UNGROUPABLE = "0000"


def read(name: str) -> pd.DataFrame:
    """One CSV of every run, with a ``run`` column."""
    parts = [pd.read_csv(run / name, dtype=ID).assign(run=run.name) for run in RUNS]
    return pd.concat(parts, ignore_index=True)


def pack_of(drg: dict):
    """The run's DRG pack (for names), found beside its weights; None when it moved away."""
    folder = Path(drg["weights"]).parent if drg.get("weights") else None
    if (folder is None or not folder.is_dir()) and drg["pack"] == "sample-pack":
        folder = sample_pack_path()
    return load_pack(folder) if folder is not None and folder.is_dir() else None


packs = {run: pack_of(m["drg"]) for run, m in manifests.items()}
groups = read("qc/groups.csv").astype({"mdc": "string", "adrg": "string", "drg": "string"})
groups = groups.merge(
    read("facesheet/setlinfo.csv")[["run", "mdtrt_id", "dscg_caty"]],
    on=["run", "mdtrt_id"],
    how="left",
)
groups["grouped"] = groups["drg"].fillna(UNGROUPABLE) != UNGROUPABLE

totals = groups.groupby("run").agg(cases=("mdtrt_id", "size"), grouped=("grouped", "sum"))
totals["ungroupable"] = totals["cases"] - totals["grouped"]
print(totals.to_string())
for run, manifest in manifests.items():
    for column in totals.columns:
        assert totals.loc[run, column] == manifest["drg"][column], (run, column)

# %% [markdown]
# ## Cases by MDC / 按主要诊断大类 (MDC)

# %%
grouped = groups[groups["grouped"]]
by_mdc = grouped.pivot_table(
    index="mdc", columns="run", values="mdtrt_id", aggfunc="size", fill_value=0
)
names = {}
for pack in packs.values():
    names.update(pack.mdc_names if pack else {})
print(by_mdc.assign(name=by_mdc.index.map(names)).to_string())
assert by_mdc.sum().to_dict() == totals["grouped"].to_dict()

fig, ax = plt.subplots(figsize=(10, 3.8))
by_mdc.plot.bar(ax=ax, rot=0)
ax.set_xlabel("MDC")
ax.set_ylabel("grouped cases")
ax.set_title("Cases by major diagnostic category")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## ADRG kind and CC status / 外科、操作、内科组与并发症
#
# The second letter of an ADRG says its kind (A–J surgical, K–Q non-OR procedure, R–Z
# medical); the DRG's last digit says its complications (MCC, CC, none). An `xQY` group (歧义组)
# holds cases whose operating-room procedure is unrelated to their MDC: it has no ADRG rule and,
# in the sample pack, no weight.

# %%
kinds = {}
for pack in packs.values():
    kinds.update({code: adrg.kind for code, adrg in pack.adrgs.items()} if pack else {})
qy = grouped["adrg"].str.endswith("QY").fillna(False)
grouped = grouped.assign(kind=grouped["adrg"].map(kinds).mask(qy, "ambiguous (QY)").fillna("?"))
kind_cc = grouped.pivot_table(
    index=["run", "kind"], columns="cc_status", values="mdtrt_id", aggfunc="size", fill_value=0
)
print(kind_cc.to_string())

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
grouped.pivot_table(index="kind", columns="run", values="mdtrt_id", aggfunc="size").plot.bar(
    ax=left, rot=0
)
left.set_ylabel("grouped cases")
left.set_title("ADRG kind")
share = grouped.pivot_table(index="run", columns="cc_status", values="mdtrt_id", aggfunc="size")
(share.div(share.sum(axis=1), axis=0)).plot.barh(ax=right, stacked=True)
right.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncols=3, fontsize=8)
right.set_xlabel("share of grouped cases")
right.set_title("CC status")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Top DRGs / 主要病组
#
# By cases and by total weight: a rare but heavy DRG can weigh more than a common light one.

# %%
drg_names = {}
for pack in packs.values():
    drg_names.update(pack.drg_names if pack else {})
top = (
    grouped.groupby(["drg", "adrg"], observed=True)
    .agg(cases=("mdtrt_id", "size"), weight=("weight", "first"), total=("weight", "sum"))
    .reset_index()
    .sort_values(["cases", "drg"], ascending=[False, True])
)
top.insert(1, "name", top["drg"].map(drg_names))
print(top.head(15).to_string(index=False))
assert top["cases"].sum() == totals["grouped"].sum()

fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5))
top.head(15).set_index("drg")["cases"].iloc[::-1].plot.barh(ax=left)
left.set_xlabel("cases")
left.set_title("Top 15 DRGs by cases (all runs)")
heavy = top.sort_values(["total", "drg"], ascending=[False, True]).head(15)
heavy.set_index("drg")["total"].iloc[::-1].plot.barh(ax=right, color="tab:orange")
right.set_xlabel("total weight")
right.set_title("Top 15 DRGs by total weight")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Weights and CMI / 权重与病例组合指数
#
# CMI = total weight of the grouped cases with a weight / their number. Recomputed here from
# `groups.csv`, it must equal the manifest's CMI and each department's row of `cmi.csv`.

# %%
weighted = grouped[grouped["weight"].notna()]
cmi = weighted.groupby("run")["weight"].agg(["size", "sum", "mean"]).round(4)
cmi.columns = ["weighted_cases", "total_weight", "cmi"]
print(cmi.to_string())
no_weight = grouped[grouped["weight"].isna()].groupby("run")["drg"].unique()
print("grouped without a weight / 无权重的病组:", no_weight.map(sorted).to_dict())
for run, manifest in manifests.items():
    assert cmi.loc[run, "cmi"] == manifest["drg"]["cmi"], run
    assert sorted(no_weight.get(run, [])) == manifest["drg"]["drgs_without_weight"], run

per_dept = read("qc/cmi.csv")
print(per_dept.pivot(index="dept", columns="run", values="cmi").round(3).to_string())
mine = weighted.groupby(["run", "dscg_caty"])["weight"].mean()
theirs = per_dept.set_index(["run", "dept"])["cmi"]
assert (mine - theirs.reindex(mine.index)).abs().max() < 1e-4

fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
for run, part in weighted.groupby("run"):
    left.hist(part["weight"], bins=20, alpha=0.6, label=run)
left.set_xlabel("DRG weight")
left.set_ylabel("cases")
left.set_title("Case weights")
left.legend()
hospital = per_dept.groupby("run").tail(1)  # 全院, the last row of each file
depts = per_dept.drop(index=hospital.index).pivot(index="dept", columns="run", values="cmi")
depts.plot.bar(ax=right)
for i, (run, value) in enumerate(zip(hospital["run"], hospital["cmi"], strict=True)):
    right.axhline(value, linestyle="--", linewidth=1, color=f"C{i}", label=f"{run} hospital")
right.legend(fontsize=8)
right.set_xlabel("discharge department (dscg_caty)")
right.set_ylabel("CMI")
right.set_title("CMI by department")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Ungrouped cases and why / 未入组病例及原因
#
# The grouper's reason, with the codes taken out, says what kind of failure it is; the code
# says whether the coders can fix it: a principal diagnosis that is still a hospital's local
# code (listed in `unmapped.csv`) groups once a coder maps it.

# %%
ungrouped = groups[~groups["grouped"]].copy()
ungrouped["why"] = ungrouped["reason"].fillna("").str.replace(r"\S*\d\S*", "<code>", regex=True)
ungrouped["code"] = ungrouped["reason"].fillna("").str.extract(r"principal (\S+)", expand=False)
queue = read("unmapped.csv")
local = set(zip(queue["run"], queue["local_code"].astype(str), strict=True))
ungrouped["unmapped_local_code"] = [
    (run, code) in local for run, code in zip(ungrouped["run"], ungrouped["code"], strict=True)
]
last_step = {}
for run in RUNS:
    with (run / "qc" / "trace.ndjson").open(encoding="utf-8") as lines:
        for line in lines:
            step = json.loads(line)
            if step["drg"] == UNGROUPABLE:
                last_step[run.name, step["mdtrt_id"]] = step["trace"][-1]
ungrouped["trace"] = [
    last_step.get(key) for key in zip(ungrouped["run"], ungrouped["mdtrt_id"], strict=True)
]
assert ungrouped["reason"].notna().all(), "every ungroupable case says why"
assert all(
    t is not None and t.endswith(r)
    for t, r in zip(ungrouped["trace"], ungrouped["reason"], strict=True)
), "the trace ends with the reason groups.csv gives"
why = ungrouped.pivot_table(
    index=["why", "unmapped_local_code"], columns="run", values="mdtrt_id", aggfunc="size"
)
print(why.fillna(0).astype(int).to_string())
columns = ["run", "mdtrt_id", "dscg_caty", "code", "unmapped_local_code", "trace"]
print(ungrouped[columns].to_string(index=False))

fig, ax = plt.subplots(figsize=(8, 3.5))
counts = ungrouped.groupby(["code", "run"]).size().unstack("run").fillna(0)
counts = counts.loc[counts.sum(axis=1).sort_values(ascending=False, kind="stable").index]
queued = [any((run, code) in local for run in counts.columns) for code in counts.index]
counts.index = [f"{c} (unmapped)" if q else c for c, q in zip(counts.index, queued, strict=True)]
counts.plot.barh(ax=ax, stacked=True)
ax.invert_yaxis()
ax.set_xlabel("ungroupable cases")
ax.set_ylabel("principal diagnosis code")
ax.set_title("Ungroupable cases by principal diagnosis")
fig.tight_layout()
plt.show()
