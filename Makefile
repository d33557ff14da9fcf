# Two commands: `make demo` and `make test`. Each creates .venv when missing and installs the
# project into it; the install is skipped while pyproject.toml is unchanged.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FULL := $(VENV)/.installed-full

.PHONY: demo test lint format bench fuzz samples screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $(STAMP)

# Tests and benchmarks also need PySpark (the Spark engine's test), the peer parsers, the
# workbench's test tools and the notebooks' kernel.
$(FULL): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[test,spark,bench,web-test,notebooks]"
	@touch $(FULL)

# The workbench's browser tests drive Debian's Chromium; installed with apt when missing (as
# root, or with sudo). Without it those tests skip on a user's machine and fail under CI=true.
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
$(CHROMIUM):
	-DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium >/dev/null || \
	  (DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get update -q >/dev/null && \
	   DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium >/dev/null)

demo: $(STAMP)
	$(BIN)/hutong demo --out hutong-demo-out

test: $(FULL) $(CHROMIUM)
	$(BIN)/ruff check src tests benchmarks notebooks docs/screenshots.py
	$(BIN)/ruff format --check src tests benchmarks notebooks docs/screenshots.py
	$(BIN)/python -m pytest -n 2 -q

lint: $(FULL)
	$(BIN)/ruff check src tests benchmarks notebooks docs/screenshots.py
	$(BIN)/ruff format --check src tests benchmarks notebooks docs/screenshots.py

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks notebooks docs/screenshots.py
	$(BIN)/ruff check --fix src tests benchmarks notebooks docs/screenshots.py

# Speed and memory, each beside its target and, where one exists, its peer (about an hour on
# the 2-core machine; the README's table comes from these).
bench: $(FULL)
	$(BIN)/python benchmarks/run_pipeline.py --cases 100000 1000000
	$(BIN)/python benchmarks/qc_grouping.py --cases 1000000 --workers 2
	$(BIN)/python benchmarks/drg_grouping.py
	$(BIN)/python benchmarks/hl7_fhir.py
	$(BIN)/python benchmarks/fhir_emission.py
	$(BIN)/python benchmarks/dicom_scan.py
	$(BIN)/python benchmarks/generate_scale.py --cases 100000
	$(BIN)/python benchmarks/term_matching.py
	$(BIN)/python benchmarks/store_load.py

# Long fuzzing: 10,000 mutations per adapter (make test runs a short budget of the same harness).
fuzz: $(FULL)
	HUTONG_FUZZ_EXAMPLES=10000 $(BIN)/python -m pytest -q -s tests/fuzz_*.py

samples: $(STAMP)
	$(BIN)/hutong samples generate --vendor vendor-a --cases 200 --seed 2024 --out samples/vendor-a
	$(BIN)/hutong samples generate --vendor vendor-b --cases 200 --seed 2025 --out samples/vendor-b

clean:
	rm -rf hutong-demo-out .pytest_cache .ruff_cache

# The workbench's screenshots in docs/screenshots (headless Chromium; a CJK font for the text).
screenshots: $(FULL) $(CHROMIUM)
	$(BIN)/python docs/screenshots.py
