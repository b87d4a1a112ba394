# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv and install.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast clean chromium

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
# The browser tests (tests/test_browser.py) drive Debian's headless Chromium: installed when missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo -n)
chromium:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium chromium-driver; }

test: $(STAMP) chromium
	$(PY) -m pytest -q -p no:cacheprovider

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow and not server"

clean:
	rm -rf data/demo data/forecast.duckdb outputs
