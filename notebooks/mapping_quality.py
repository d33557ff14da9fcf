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
# # Mapping quality / 术语映射质量
#
# How well a run's local diagnosis and procedure terms reached the national codes (医保版
# ICD-10 and ICD-9-CM-3), and where the fuzzy matcher and the coders part ways. Reads:
#
# - every run under `HUTONG_OUT` (default `hutong-demo-out/`; a folder holding `manifest.json`
#   is read as one run): `fhir/Condition.ndjson` and `fhir/Procedure.ndjson` (each diagnosis or
#   procedure row carries its local coding and, when mapped, the national coding with its
#   `map-status`), `unmapped.csv` (the coders' queue) and `manifest.json`;
# - the coders' decisions the demo imported, `samples/mappings/*.csv` (folder `HUTONG_SAMPLES`,
#   default `samples`), loaded here into a throw-away store (`hutong.terminologies.store.Store`)
#   with the sample code systems, as `hutong demo` does; the run's own store is gone.
#
# Plot text stays in English (a Chinese font may be missing); tables carry the Chinese names.

# %%
import json
import os
import sys
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from hutong.terminologies.codesystem import DIAGNOSIS, PROCEDURE, sample_code_system
from hutong.terminologies.coding import EXACT, KEY, UNMAPPED, Coder
from hutong.terminologies.conceptmap import import_csv
from hutong.terminologies.matcher import Matcher
from hutong.terminologies.store import Store

if "ipykernel" not in sys.modules:  # run as a script: draw off-screen, nothing to show
    plt.switch_backend("Agg")
pd.set_option("display.width", 140)

OUT = Path(os.environ.get("HUTONG_OUT", "hutong-demo-out"))
SAMPLES = Path(os.environ.get("HUTONG_SAMPLES", "samples"))
RUNS = (
    [OUT]
    if (OUT / "manifest.json").is_file()
    else sorted(p.parent for p in OUT.glob("*/manifest.json"))
)
assert RUNS, f"no run under {OUT}: `make demo` writes one"
manifests = {run.name: json.loads((run / "manifest.json").read_text("utf-8")) for run in RUNS}
TABLES = {"diagnosis": ("Condition", DIAGNOSIS), "procedure": ("Procedure", PROCEDURE)}
STATUSES = ["exact", "normalised", "name", "approved", "auto", "unmapped"]
COLOURS = dict(zip(STATUSES, plt.get_cmap("tab10").colors, strict=False))

# %% [markdown]
# ## Every coded row of the run / 每条诊断与手术
#
# One row per diagnosis or procedure the run converted: its local system (`<vendor>:<table>`),
# local code and name, and the national code with its status. The counts per status must equal
# the manifest's `coding` section.


# %%
def coded_rows(run: Path, table: str, resource: str) -> list[dict]:
    """The local and national coding of each FHIR resource of one table."""
    rows = []
    with (run / "fhir" / f"{resource}.ndjson").open(encoding="utf-8") as lines:
        for line in lines:
            codings = json.loads(line)["code"]["coding"]
            local = next((c for c in codings if ":local:" in c["system"]), None)
            if local is None:  # not from a hospital's code list (e.g. a lab report)
                continue
            national = next((c for c in codings if c is not local), None)
            status = UNMAPPED
            if national is not None:
                ext = national.get("extension", [])
                status = next(e["valueCode"] for e in ext if e["url"].endswith("map-status"))
            rows.append(
                {
                    "run": run.name,
                    "table": table,
                    "local_system": local["system"].split(":local:", 1)[1],
                    "local_code": local.get("code", ""),
                    "local_name": local.get("display", ""),
                    "code": national["code"] if national else None,
                    "display": national.get("display") if national else None,
                    "map_status": status,
                }
            )
    return rows


occurrences = pd.DataFrame(
    [
        row
        for run in RUNS
        for table, (resource, _) in TABLES.items()
        for row in coded_rows(run, table, resource)
    ]
)
for run, manifest in manifests.items():
    for table, expected in manifest["coding"].items():
        part = occurrences[(occurrences["run"] == run) & (occurrences["table"] == table)]
        assert part["map_status"].value_counts().to_dict() == expected, (run, table)
terms = (
    occurrences.groupby(["run", "table", *KEY, "map_status"], dropna=False)
    .agg(count=("run", "size"), code=("code", "first"), display=("display", "first"))
    .reset_index()
)
print(f"{len(occurrences)} coded rows, {len(terms)} distinct local terms / 本地术语")

# %% [markdown]
# ## Coverage / 覆盖率
#
# Share of distinct local terms, and of their occurrences, that carry a national code, per local
# system and status: `exact`/`normalised`/`name` are found in the national list itself,
# `approved` is a coder's decision, `auto` the matcher's best candidate accepted at the run's
# `--auto-map` score, `unmapped` waits in the coders' queue.

# %%
by_status = pd.concat(
    {
        "terms / 术语数": terms.pivot_table(
            index="local_system", columns="map_status", values="count", aggfunc="size"
        ),
        "occurrences / 出现次数": terms.pivot_table(
            index="local_system", columns="map_status", values="count", aggfunc="sum"
        ),
    },
    axis=1,
).fillna(0)
print(by_status.astype(int).to_string())
mapped = terms["map_status"] != UNMAPPED
coverage = pd.DataFrame(
    {
        "terms": terms.groupby("local_system").size(),
        "terms_mapped": terms[mapped].groupby("local_system").size(),
        "occurrences": terms.groupby("local_system")["count"].sum(),
        "occurrences_mapped": terms[mapped].groupby("local_system")["count"].sum(),
    }
).fillna(0)
coverage["term_coverage"] = (coverage["terms_mapped"] / coverage["terms"]).round(3)
coverage["occurrence_coverage"] = (coverage["occurrences_mapped"] / coverage["occurrences"]).round(
    3
)
print(coverage.to_string())

queue = pd.concat(
    [pd.read_csv(run / "unmapped.csv", dtype=str).assign(run=run.name) for run in RUNS]
)
queue["count"] = queue["count"].astype(int)
for run, manifest in manifests.items():
    waiting = terms[(terms["run"] == run) & ~mapped]
    assert len(waiting) == manifest["unmapped_codes"] == (queue["run"] == run).sum(), run
    assert waiting["count"].sum() == queue.loc[queue["run"] == run, "count"].sum(), run

share = terms.pivot_table(index="local_system", columns="map_status", values="count", aggfunc="sum")
share = share.reindex(columns=[s for s in STATUSES if s in share.columns]).fillna(0)
share = share.div(share.sum(axis=1), axis=0)
fig, ax = plt.subplots(figsize=(9, 3.5))
share.plot.barh(ax=ax, stacked=True, color=[COLOURS[s] for s in share.columns])
ax.invert_yaxis()
ax.set_xlabel("share of occurrences")
ax.set_title("How each local system's terms were coded")
ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=len(share.columns), fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## The coders' decisions / 编码员的审核结果
#
# The store rebuilt from `samples/mappings`: who decided what. With the run's `--auto-map`
# setting, a `Coder` over this store must reproduce the run's code and status for every term,
# which shows the notebook reads the same decisions the run applied.

# %%
workdir = tempfile.TemporaryDirectory()
store = Store(f"sqlite:///{Path(workdir.name) / 'mapping-quality.db'}")
systems = {table: sample_code_system(system_id) for table, (_, system_id) in TABLES.items()}
for system in systems.values():
    store.save_code_system(system)
for path in sorted((SAMPLES / "mappings").glob("*.csv")):
    print(path.name, import_csv(store, path, "notebook"))
decisions = pd.DataFrame([vars(m) for m in store.mappings()])
if not decisions.empty:
    columns = ["local_system", "local_code", "local_name", "code", "display", "status"]
    print(decisions[[*columns, "author", "reviewer", "comment"]].fillna("").to_string())
    print(decisions.groupby(["status", "reviewer"], dropna=False).size().to_string())

for (run, table), part in terms.groupby(["run", "table"]):
    approved = store.approved(systems[table].id)
    coder = Coder(systems[table], approved=approved, auto_map=manifests[run]["auto_map"])
    again = coder.decide(part[KEY])
    assert again["map_status"].tolist() == part["map_status"].tolist(), (run, table)
    assert again["code"].fillna("").tolist() == part["code"].fillna("").tolist(), (run, table)

# %% [markdown]
# ## Match scores: auto-accepted, reviewed, still queued / 匹配分数
#
# The matcher scores every term that is not an exact national code, here *without* the coders'
# decisions (no learned names), so the score is its own opinion. Terms the run took
# automatically sit at or above the auto-map threshold; the terms coders reviewed show how far
# the matcher alone would have got.

# %%
candidates = []
for table, system in systems.items():
    todo = terms[(terms["table"] == table) & (terms["map_status"] != EXACT)]
    if todo.empty:
        continue
    query = todo[[*KEY, "map_status", "code", "count", "run"]].rename(columns={"code": "decided"})
    candidates.append(Matcher(system).suggest_many(query.replace("", None), top=3))
candidates = pd.concat(candidates, ignore_index=True)
top = candidates[candidates["rank"] == 1].set_index(KEY)
second = candidates[candidates["rank"] == 2].set_index(KEY)
top["second"], top["second_score"] = second["code"], second["score"]
top["margin"] = top["score"] - top["second_score"]
scores = top.reset_index()
print(scores.groupby("map_status")["score"].describe().round(1).to_string())

thresholds = {run: m["auto_map"] for run, m in manifests.items() if m["auto_map"] is not None}
fig, ax = plt.subplots(figsize=(8, 3.8))
bins = np.arange(2.5 * np.floor(scores["score"].min() / 2.5), 102.5, 2.5)
shown = [s for s in STATUSES if s in set(scores["map_status"])]
ax.hist(
    [scores.loc[scores["map_status"] == s, "score"] for s in shown],
    bins=bins,
    stacked=True,
    label=shown,
    color=[COLOURS[s] for s in shown],
)
for run, threshold in thresholds.items():
    ax.axvline(threshold, color="black", linestyle="--", linewidth=1)
    ax.annotate(f"auto-map {threshold:g} ({run})", (threshold, 0.5), rotation=90, fontsize=8)
ax.set_xlabel("matcher's top score (no learned decisions)")
ax.set_ylabel("local terms")
ax.set_title("Match scores by how the term was coded")
ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Disagreements / 分歧
#
# 1. Terms where the matcher's top candidate is not the code the run applied: for `approved`
#    terms the coder overruled the matcher, which is what the matcher should learn from; for
#    `auto` terms the coders' learned names changed the run's pick.
# 2. Close calls: terms whose two best candidates are within `CLOSE` points, where a confident
#    pick is a guess (and an auto-map threshold alone does not protect).

# %%
CLOSE = 2.0
decided = top[top["decided"].notna()]
overruled = decided[decided["code"] != decided["decided"]].reset_index()
rank_of = candidates.set_index([*KEY, "code"])["rank"]
overruled["decided_rank"] = [
    rank_of.get((s, c, n, d)) for s, c, n, d in overruled[[*KEY, "decided"]].to_numpy()
]
columns = [*KEY, "map_status", "decided", "decided_rank", "code", "display", "score", "count"]
print("matcher's top ≠ applied code / 匹配首选与采用编码不同")
print(overruled[columns].rename(columns={"code": "matcher_top"}).to_string(index=False))
assert (overruled["map_status"] != EXACT).all()

close = scores[scores["margin"] < CLOSE]
print(f"\nclose calls (top two within {CLOSE} points) / 候选分数接近")
columns = [*KEY, "map_status", "decided", "code", "second", "score", "margin", "count"]
print(close[columns].rename(columns={"code": "matcher_top"}).to_string(index=False))

fig, ax = plt.subplots(figsize=(8, 4))
for status in shown:
    part = scores[scores["map_status"] == status]
    size = 20 + 4 * part["count"]
    ax.scatter(
        part["score"], part["margin"], s=size, color=COLOURS[status], label=status, alpha=0.7
    )
ax.axhspan(0, CLOSE, color="tab:red", alpha=0.1, label="close call")
ax.set_xlabel("top candidate's score")
ax.set_ylabel("gap to the second candidate")
ax.set_title("Confidence of the matcher (marker size: occurrences)")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## The coders' queue / 待映射队列
#
# What to review next: the unmapped terms by occurrences, with the candidate `unmapped.csv`
# proposes (the run's matcher, which does learn from the coders' names).

# %%
columns = ["run", "table", "local_code", "local_name", "count", "best_code", "best_score", "why"]
print(queue.sort_values("count", ascending=False)[columns].to_string(index=False))
store.close()
workdir.cleanup()
