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
# # QC dashboard of a run / 质控看板
#
# Reads every run under `HUTONG_OUT` (default `hutong-demo-out/`, what `make demo` writes; a
# folder holding `manifest.json` is read as one run):
#
# - `qc/findings.csv`: one row per finding (rule, severity, field, message);
# - `facesheet/setlinfo.csv`: the discharge department (`dscg_caty`, 出院科别) of each case;
# - `qc/scores.csv`: the face-sheet score of each case (国卫办医发〔2016〕24号 scoring table);
# - `qc/indicators.csv`: the national face-sheet quality indicators;
# - `qc/impact.csv`: each finding that touches DRG grouping, grouped before and after its fix,
#   priced in 元;
# - `manifest.json`: the run's own totals, which this notebook checks its tables against.
#
# Plot text stays in English (a Chinese font may be missing); tables carry both languages.

# %%
import json
import os
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from hutong.quality.score import load_score_table

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
ID = {"mdtrt_id": str}


def read(name: str) -> pd.DataFrame:
    """One CSV of every run, with a ``run`` column (empty runs keep their header)."""
    parts = [pd.read_csv(run / name, dtype=ID).assign(run=run.name) for run in RUNS]
    return pd.concat(parts, ignore_index=True)


cases = read("facesheet/setlinfo.csv")[["run", "mdtrt_id", "dscg_caty"]]
findings = read("qc/findings.csv").merge(cases, on=["run", "mdtrt_id"], how="left")
print({run: len(part) for run, part in cases.groupby("run")}, "cases / 病例")

# %% [markdown]
# ## Findings by rule and severity / 按规则与严重程度
#
# Each run's counts must equal the totals its manifest reports.

# %%
by_rule = findings.pivot_table(
    index=["rule_id", "severity"], columns="run", values="mdtrt_id", aggfunc="size", fill_value=0
)
print(by_rule.to_string())
for run, manifest in manifests.items():
    part = findings[findings["run"] == run]
    assert len(part) == manifest["qc"]["findings"], run
    assert part["severity"].value_counts().to_dict() == manifest["qc"]["by_severity"], run

fig, ax = plt.subplots(figsize=(8, 0.3 * len(by_rule) + 1.5))
chart = by_rule.set_axis([f"{rule} ({severity})" for rule, severity in by_rule.index])
chart.loc[chart.sum(axis=1).sort_values(kind="stable").index].plot.barh(ax=ax, stacked=True)
ax.set_xlabel("findings")
ax.set_ylabel("rule (severity)")
ax.set_title("QC findings by rule")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Findings by discharge department / 按出院科别
#
# Counts alone favour big departments: the rate per 100 discharges says where the face sheets
# are weakest.

# %%
discharges = cases.groupby(["run", "dscg_caty"]).size().rename("cases")
by_dept = (
    findings.pivot_table(
        index=["run", "dscg_caty"], columns="severity", values="rule_id", aggfunc="size"
    )
    .reindex(discharges.index)
    .fillna(0)
    .astype(int)
)
by_dept["cases"] = discharges
by_dept["per_100_cases"] = (100 * by_dept.drop(columns="cases").sum(axis=1) / discharges).round(1)
print(by_dept.sort_values("per_100_cases", ascending=False).head(12).to_string())
assert by_dept.drop(columns=["cases", "per_100_cases"]).to_numpy().sum() == len(findings)

rates = by_dept["per_100_cases"].unstack("run").fillna(0)
fig, ax = plt.subplots(figsize=(9, 4))
rates.plot.bar(ax=ax)
ax.set_xlabel("discharge department (dscg_caty)")
ax.set_ylabel("findings per 100 discharges")
ax.set_title("Where the findings are")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Face-sheet scores / 首页评分
#
# The score starts at 100 per case; each finding deducts the points of its item within one of
# the four sections of the score table (`hutong.quality.score`: patient, stay, clinical,
# fees). Mean and minimum must match the manifest.

# %%
scores = read("qc/scores.csv")
summary = scores.groupby("run")["score"].agg(["count", "mean", "min"]).round(2)
summary["at_least_90"] = scores[scores["score"] >= 90].groupby("run").size()
print(summary.to_string())
for run, manifest in manifests.items():
    expected = manifest["qc"]["score"]
    assert summary.loc[run, "count"] == expected["cases"], run
    assert summary.loc[run, "mean"] == expected["mean"], run
    assert summary.loc[run, "min"] == expected["min"], run

points = {g.id: g.points for g in load_score_table().groups}  # the built-in table the run used
assert list(points) == scores.columns[2:-1].tolist()
lost = (pd.Series(points) - scores[list(points)]).groupby(scores["run"]).sum()
print("points lost by section / 各部分扣分合计\n" + lost.to_string())

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
for run, part in scores.groupby("run"):
    left.hist(part["score"], bins=range(int(scores["score"].min()) - 1, 102), alpha=0.6, label=run)
left.set_yscale("log")
left.set_xlabel("score")
left.set_ylabel("cases (log)")
left.set_title("Score distribution")
left.legend()
lost.T.plot.bar(ax=right, rot=0)
right.set_ylabel("points lost (all cases)")
right.set_title("Where points are lost")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Quality indicators / 病案首页质控指标
#
# The rates come straight from `qc/indicators.csv`; `note` there says which are proxies (a true
# selection accuracy needs a chart review). An indicator the face sheets cannot give (upload
# rate) has no rate.

# %%
indicators = read("qc/indicators.csv")
names = ["indicator", "name_zh", "name_en"]
table = indicators.pivot(index=names, columns="run", values="rate")
table = table.reindex(pd.MultiIndex.from_frame(indicators[names].drop_duplicates()))
print(table.round(4).to_string())
for run, manifest in manifests.items():
    part = indicators[indicators["run"] == run].set_index("indicator")["rate"]
    for name, rate in manifest["qc"]["indicators"].items():
        assert (pd.isna(part[name]) and rate is None) or round(part[name], 4) == rate, name

fig, ax = plt.subplots(figsize=(8, 4))
rated = table.droplevel(["name_zh", "name_en"]).dropna(how="all")
rated.plot.barh(ax=ax)
ax.set_xlim(max(0.0, float(rated.min().min()) - 0.05), 1.0)
ax.invert_yaxis()
ax.legend(loc="lower left")
ax.set_xlabel("rate")
ax.set_title("Face-sheet quality indicators")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Money at stake / 涉及金额
#
# `qc/impact.csv` groups each case as it stands and as the finding's fix would make it. A fix
# either changes the DRG with a known weight on both sides (priced: weight difference × the
# run's base rate), changes it where one side has no weight (an ungroupable 0000 case becomes
# grouped), needs a coder (no fix can be simulated), or changes nothing.

# %%
impact = read("qc/impact.csv")
before, after = impact["drg_before"].fillna(""), impact["drg_after"].fillna("")
impact["outcome"] = "no change"
impact.loc[before != after, "outcome"] = "group changes, unpriced"
impact.loc[impact["amount"].notna() & (before != after), "outcome"] = "group changes, priced"
impact.loc[after == "", "outcome"] = "needs a coder"
outcomes = impact.pivot_table(
    index=["run", "rule_id"], columns="outcome", values="field", aggfunc="size", fill_value=0
)
outcomes["amount"] = impact.groupby(["run", "rule_id"])["amount"].sum(min_count=1)
print(outcomes.to_string())
for run, manifest in manifests.items():
    part = impact[impact["run"] == run]
    expected = manifest["drg"]["impact"]
    assert len(part) == expected["findings"], run
    assert (
        int((part["drg_before"].fillna("") != part["drg_after"].fillna("")).sum())
        == (expected["group_changes"])
    )
    amount = part["amount"].sum(min_count=1)
    assert (pd.isna(amount) and expected["amount"] is None) or round(amount, 2) == expected[
        "amount"
    ]

priced = impact[impact["amount"].fillna(0) != 0]
print("\nthe priced fixes / 有金额的修正")
print(
    priced[
        ["run", "mdtrt_id", "rule_id", "fix_en", "drg_before", "drg_after", "amount"]
    ].to_string()
)

fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
counts = outcomes.drop(columns="amount")
counts.set_axis([f"{run} {rule}" for run, rule in counts.index]).plot.barh(ax=left, stacked=True)
left.invert_yaxis()
left.legend(fontsize=8, loc="lower right")
left.set_xlabel("findings touching grouping")
left.set_title("What fixing each rule would do")
money = impact.groupby("run")["amount"].apply(lambda a: a.abs().sum())
money.plot.bar(ax=right, rot=0, color="tab:red")
for x, value in enumerate(money):
    right.annotate(f"{value:,.0f}", (x, value), ha="center", va="bottom")
right.set_ylabel("|amount| (yuan)")
right.set_title("Money at stake per run")
fig.tight_layout()
plt.show()
