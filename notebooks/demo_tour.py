# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # A tour of a hutong run
#
# Reads what `make demo` wrote (`hutong-demo-out/`, or the folder in `HUTONG_OUT`): the
# manifest's accounting, the rejects by reason, the face sheet's fee mix and the QC findings.
# Open it with Jupyter through jupytext, or run it as a script.

# %%
import json
import os
from pathlib import Path

import pandas as pd

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

# %% [markdown]
# ## QC findings by rule and severity

# %%
findings = pd.read_csv(run / "qc" / "findings.csv")
print(findings.groupby(["rule_id", "severity"]).size().rename("findings").to_string())
