# One task runner, obvious verbs. Every target creates the virtualenv first when it is missing.
# The first Python 3.11+ on PATH builds the virtualenv; PYTHON=/path/to/python3.12 overrides it.
ifeq ($(origin PYTHON),undefined)
PYTHON := $(shell for p in python3 python3.13 python3.12 python3.11; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	2>/dev/null && { echo $$p; break; }; done)
endif
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
CATALOG ?= ../shared/data/hardware_catalog_es.csv
QUEUE ?= inference
MINUTES ?= 10
TEST_WORKERS ?= 3
SERIAL_WORKERS ?= 4

.PHONY: help install run api worker test test-unit test-integration test-faults lint bench soak train compose-config clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 20

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "make: Python 3.11 or newer is needed (none found on PATH;" \
		"set PYTHON=/path/to/python3.11)" >&2; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || { echo "make: could not create $(VENV);" \
		"on Debian/Ubuntu install the venv module: sudo apt-get install python3-venv" >&2; \
		rm -rf $(VENV); exit 1; }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)  ## create the virtualenv and install the project with its dev tools

run: install  ## the whole service: API + one worker per queue (PORT=8001, HOST=0.0.0.0 to move it)
	$(PY) scripts/run.py

api: install  ## only the API, in the foreground
	$(PY) scripts/run.py api

worker: install  ## only one worker, in the foreground: QUEUE=inference (default) or QUEUE=training
	$(PY) scripts/run.py worker-$(QUEUE)

# `make test` runs the suite in two phases and fails when either fails: every test not marked
# `serial` on TEST_WORKERS processes (pytest-xdist, a test module per process at a time), then the
# `serial` ones (tests/faults, the make-run launcher test) on SERIAL_WORKERS processes of their
# own, once the first phase is over: their waits are sized for a machine the rest of the suite
# does not saturate; each module has its own stack, and while one waits (a lease, a restart, a
# retry) another's workers use the CPU. In both phases a process takes its next module only once
# it has run out, and the serial phase starts its longest modules first (tests/scheduling.py).
# Both phases always run and print their summaries.
test: install  ## the whole suite: unit, model, integration, then the fault tests (TEST_WORKERS=3, SERIAL_WORKERS=4)
	@status=0; \
	echo "== make test: phase 1 of 2, in parallel ($(TEST_WORKERS) processes)"; \
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile -m "not serial" || status=1; \
	echo "== make test: phase 2 of 2, the serial tests (faults, launcher)"; \
	$(PY) -m pytest -n $(SERIAL_WORKERS) --dist loadfile -m serial || status=1; \
	if [ $$status -ne 0 ]; then echo "make test: FAILED (see the phase summaries above)" >&2; fi; \
	exit $$status

test-unit: install  ## the suite without the tests that need Redis, PostgreSQL and workers
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile -m "not integration"

test-integration: install  ## only the tests against real services
	$(PY) -m pytest -m integration

test-faults: install  ## fault-injection tests and the API fuzz (real Redis, PostgreSQL, workers)
	$(PY) -m pytest tests/faults tests/api/test_fuzz.py

soak: install  ## mixed traffic for MINUTES (default 10) against 1 API + 2 workers
	$(PY) benchmarks/soak.py --minutes $(MINUTES)

lint: install  ## ruff, mypy (the tests too) and the import contracts
	$(VENV)/bin/ruff check core api worker tests benchmarks scripts
	$(VENV)/bin/mypy core api worker tests
	$(VENV)/bin/lint-imports

# `make train` trains from the bundled sample catalog unless CATALOG is given (a fresh clone has
# no ../shared); `make bench` measures on the real catalog.
TRAIN_CATALOG = $(if $(filter command line environment,$(origin CATALOG)),$(CATALOG),core/sample_data/sample_catalog.csv)

train: install  ## train from CATALOG (default: the bundled sample catalog)
	$(VENV)/bin/categorizer train --data $(TRAIN_CATALOG)

bench: install  ## measure model quality and service performance on CATALOG (needs wrk: apt-get install wrk)
	$(PY) benchmarks/model_quality.py $(CATALOG) --seeds 42 43 44
	$(PY) benchmarks/run_all.py $(CATALOG)

compose-config:  ## validate docker-compose.yml (needs `docker compose` or `docker-compose`)
	@export ADMIN_API_KEY=$${ADMIN_API_KEY:-config-check} POSTGRES_PASSWORD=$${POSTGRES_PASSWORD:-x}; \
	if docker compose version >/dev/null 2>&1; then docker compose config -q; \
	else docker-compose config -q; fi && echo "docker-compose.yml is valid"

clean:  ## remove the virtualenv and caches (not DATA_DIR's stores)
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
