# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv and install.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

# The Reims pilot on the bundled (synthetic) demo data, tracked in MLflow under mlruns/.
demo: $(STAMP)
	$(VENV)/bin/forecast demo --out data/demo
	$(VENV)/bin/forecast run experiments/reims.toml

# The whole test suite (fast by default; a few end-to-end tests take longer).
test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow and not server"

clean:
	rm -rf data/demo data/forecast.duckdb outputs
