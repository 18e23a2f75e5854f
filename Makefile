# One task runner, obvious verbs. Every target creates the virtualenv first when it is missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
CATALOG ?= ../shared/data/hardware_catalog_es.csv

.PHONY: install run api worker test test-unit test-integration lint bench train clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

test: install  ## the whole suite: unit, model, integration (real Redis, PostgreSQL, workers)
	$(PY) -m pytest

test-unit: install
	$(PY) -m pytest -m "not integration"

test-integration: install
	$(PY) -m pytest -m integration

lint: install
	$(VENV)/bin/ruff check core api worker tests benchmarks scripts
	$(VENV)/bin/lint-imports

train: install  ## train from CATALOG (default: the shared real catalog)
	$(VENV)/bin/categorizer train --data $(CATALOG)

bench: install
	$(PY) benchmarks/model_quality.py $(CATALOG)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
