# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
ASSAY  := $(VENV)/bin/assay
STAMP  := $(VENV)/.installed

.PHONY: install data test test-fast lint format demo image grader-env browser-deps freeze clean

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

data: install
	$(ASSAY) data prepare

# Everything, slow tests included (what CI runs).
test: install grader-env browser-deps
	$(PY) -m pytest

# axe-core for the accessibility story, pinned in tests/browser/package-lock.json.
browser-deps:
	scripts/install-browser-deps.sh

# Fast unit tests only.
test-fast: install
	$(PY) -m pytest -m "not slow"

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache
	$(PY) scripts/architecture.py

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Serves the web app and a worker on 127.0.0.1 with demo accounts; Ctrl-C stops both.
# Grades in Docker when an engine answers (the grader image is built offline unless it is
# up to date), else in bubblewrap (installed here when missing, with its job environment).
# ASSAY_DEMO_GRADE=1 also submits the reference solutions as a demo candidate.
demo: data
	if docker info >/dev/null 2>&1; then $(ASSAY) image build --offline; \
	else scripts/system-deps.sh bubblewrap libseccomp2 python3-venv && $(MAKE) grader-env; fi
	$(ASSAY) demo

image: install
	$(VENV)/bin/assay image build --offline

# The bwrap backend's job environment (the image's package set; never this venv, which holds
# the datasets). Skipped in a second when its packages and pins are unchanged.
grader-env: install
	scripts/build-grader-env.sh

freeze: install
	$(PY) -m pip freeze --exclude-editable > requirements.txt

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
