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
# # A tour of a hutong run
#
# Reads what `make demo` wrote (`hutong-demo-out/`, or the folder in `HUTONG_OUT`): the
# manifest's accounting, the rejects by reason, the face sheet's fee mix (plotted) and the QC
# findings.
# Open it with Jupyter through jupytext, or run it as a script.

# %%
import json
import os
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

if "ipykernel" not in sys.modules:  # run as a script: draw off-screen, nothing to show
    plt.switch_backend("Agg")

OUT = Path(os.environ.get("HUTONG_OUT", "hutong-demo-out"))
VENDOR = os.environ.get("HUTONG_VENDOR", "vendor-a")
run = OUT / VENDOR
manifest = json.loads((run / "manifest.json").read_text("utf-8"))

# %% [markdown]
# ## Nothing lost: records read = converted + rejected, per input file

# %%
inputs = pd.DataFrame(manifest["inputs"])[["file", "kind", "read", "converted", "rejected"]]
assert (inputs["read"] == inputs["converted"] + inputs["rejected"]).all()
print(inputs.to_string(index=False))

# %%
rejects = pd.read_json(run / "rejects.ndjson", lines=True)
print(rejects.groupby("reason").size().rename("records").to_string())

# %% [markdown]
# ## The face sheet: fees by national category (医疗收费项目类别)

# %%
items = pd.read_csv(run / "facesheet" / "iteminfo.csv", dtype={"med_chrgitm": str})
fees = items.groupby("med_chrgitm")["amt"].sum().sort_values(ascending=False)
print(fees.round(2).to_string())

fig, ax = plt.subplots(figsize=(8, 3.5))
fees.plot.bar(ax=ax, rot=0)
ax.set_xlabel("fee category (med_chrgitm)")
ax.set_ylabel("amount (yuan)")
ax.set_title(f"{VENDOR}: fees by national category")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## QC findings by rule and severity

# %%
findings = pd.read_csv(run / "qc" / "findings.csv")
print(findings.groupby(["rule_id", "severity"]).size().rename("findings").to_string())
