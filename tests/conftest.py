"""Fixtures live in modules by concern; this file only loads them (and the scheduling)."""

pytest_plugins = [
    "tests.fixtures.catalogs",  # the sample catalog and deterministic samples of it
    "tests.fixtures.models",  # models trained once per session
    "tests.fixtures.registry",  # settings on a temp DATA_DIR, a real MLflow SQLite registry
    "tests.fixtures.stores",  # the job store on SQLite and on PostgreSQL
    "tests.fixtures.app",  # the API app with faked registry and queue
    "tests.fixtures.services",  # real Redis, PostgreSQL, worker and API processes
    "tests.fixtures.faults",  # the same processes with faults injected
    "tests.fixtures.browser",  # Debian's chromium driven by Playwright
    "tests.scheduling",  # the order in which `make test`'s processes take modules
]
