"""The job database: the lock across processes, migrations, and a database that is down."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.batch_store import BatchStore
from core.db import cross_process_lock, current_revision, head_revision
from core.errors import StoreUnavailable
from core.jobs import JobStore
from tests.fixtures.stores import TrackedStore

UNREACHABLE = [
    "postgresql+psycopg://nobody@127.0.0.1:1/x",
    "sqlite:////nonexistent-dir/for/sure/jobs.db",
]


def test_the_registry_lock_is_exclusive_across_threads(store: TrackedStore) -> None:
    name = f"registry-{uuid.uuid4().hex[:8]}"
    events: list[str] = []
    holding = threading.Event()
    release = threading.Event()
    second_in = threading.Event()

    def first() -> None:
        with cross_process_lock(store.engine, name):
            events.append("first in")
            holding.set()
            release.wait(timeout=10)
            events.append("first out")

    def second() -> None:
        holding.wait(timeout=10)
        with cross_process_lock(store.engine, name):
            events.append("second in")
            second_in.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    assert holding.wait(timeout=10)
    # While the first holds the lock the second must not get in; give it a fair chance to.
    assert not second_in.wait(timeout=0.3)
    release.set()
    for thread in threads:
        thread.join(timeout=10)

    assert events == ["first in", "first out", "second in"]


def test_a_store_at_the_newest_migration_starts_while_the_schema_lock_is_held(
    store: TrackedStore,
) -> None:
    """A session on a lost host can hold the schema lock for hours (PostgreSQL keeps it until
    it notices the host is gone): a process starting meanwhile, with nothing to migrate, must
    not wait for it."""
    holding, release, started = threading.Event(), threading.Event(), threading.Event()

    def hold() -> None:
        with cross_process_lock(store.engine, "schema"):
            holding.set()
            release.wait(timeout=30)

    def start_up() -> None:
        store.create_schema()  # what every process does at start-up
        started.set()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(timeout=10)
        threading.Thread(target=start_up, daemon=True).start()
        assert started.wait(timeout=10), "start-up waited for the schema lock"
    finally:
        release.set()
        holder.join(timeout=10)


# -- an unreachable database ---------------------------------------------------------------------

@pytest.mark.parametrize("url", UNREACHABLE, ids=["postgresql", "sqlite"])
def test_an_unreachable_database_is_store_unavailable(url: str) -> None:
    store = JobStore.from_url(url)
    try:
        for call in (store.ping, store.create_schema, lambda: store.get("x"),
                     lambda: store.create_job(kind="batch", params={}),
                     lambda: list(BatchStore(store).iter_results("x"))):
            with pytest.raises(StoreUnavailable, match="job database unavailable"):
                call()
    finally:
        store.engine.dispose()


def test_the_store_reads_what_another_engine_wrote(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    writer, reader = JobStore.from_url(url), JobStore.from_url(url)
    try:
        writer.create_schema()
        job, _ = writer.create_job(kind="training", params={})
        writer.start(job.id)

        assert reader.get(job.id).state == "running"
        with reader.engine.connect() as connection:
            assert connection.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
    finally:
        writer.engine.dispose()
        reader.engine.dispose()


# -- a store made by an earlier version ----------------------------------------------------------

FIRST_JOBS_TABLE = """CREATE TABLE categorizer_jobs (
    id VARCHAR(32) PRIMARY KEY, kind VARCHAR(16) NOT NULL, state VARCHAR(16) NOT NULL,
    stage VARCHAR(64), params JSON NOT NULL, result JSON, error TEXT, model_version INTEGER,
    total_rows INTEGER, n_chunks INTEGER, attempts INTEGER NOT NULL, task_id VARCHAR(64),
    idempotency_key VARCHAR(200) UNIQUE, created_at {ts} NOT NULL, started_at {ts},
    finished_at {ts})"""


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def first_version_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database holding the jobs table as the first release created it, with a job."""
    from tests.fixtures.services import create_database

    if request.param == "sqlite":
        url, drop = f"sqlite:///{tmp_path / 'old.db'}", None
    else:
        url, drop = create_database("categorizer_upgrade")
    ts = "DATETIME" if request.param == "sqlite" else "TIMESTAMP WITH TIME ZONE"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text(FIRST_JOBS_TABLE.format(ts=ts)))
        connection.execute(sa.text(
            "INSERT INTO categorizer_jobs (id, kind, state, params, attempts, created_at) "
            "VALUES ('old', 'training', 'queued', '{}', 0, :at)"),
            {"at": dt.datetime(2026, 1, 2, tzinfo=dt.UTC)})
    engine.dispose()
    yield url
    if drop is not None:
        drop()


def test_a_store_made_by_the_first_release_gets_the_new_columns(first_version_url: str) -> None:
    stores = [JobStore.from_url(first_version_url) for _ in range(2)]
    try:
        for store in stores:  # every process runs it at start-up; the second finds them added
            store.create_schema()
        store = stores[0]
        assert current_revision(store.engine) == head_revision()
        old = store.get("old")
        assert (old.state, old.updated_at, old.resends) == ("queued", None, 0)
        # The old job counts as silent since its creation: the sweeper can still find it.
        assert [j.id for j in store.stale_jobs(older_than=dt.timedelta(days=1))] == ["old"]
        job, _ = store.create_job(kind="training", params={})
        assert store.get(job.id).updated_at is not None
        assert store.start("old") is True
        assert store.get("old").updated_at is not None
    finally:
        for store in stores:
            store.engine.dispose()


def test_the_migrations_build_exactly_the_schema_the_code_uses(store: TrackedStore) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from core.db import VERSION_TABLE, metadata

    assert current_revision(store.engine) == head_revision()
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        differences = compare_metadata(context, metadata)
    # Other suites' tables may share the PostgreSQL database: only ours are compared.
    ours = [d for d in differences
            if not (d[0] == "remove_table" and not d[1].name.startswith("categorizer_"))]
    assert ours == []
