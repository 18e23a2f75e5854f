"""The job store's contract, on SQLite and (marked integration) on the real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from core.jobs import (
    InputRow,
    Job,
    JobNotFound,
    JobStore,
    RowResult,
    StoreUnavailable,
    create_db_engine,
    jobs_table,
)

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
UNREACHABLE = [
    "postgresql+psycopg://nobody@127.0.0.1:1/x",
    "sqlite:////nonexistent-dir/for/sure/jobs.db",
]


class TrackedStore(JobStore):
    """A store that remembers the jobs it created, so a shared database can be cleaned up."""

    created: list[str]

    def create_job(self, **kwargs: Any) -> tuple[Job, bool]:
        job, created = super().create_job(**kwargs)
        self.created.append(job.id)
        return job, created


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TrackedStore]:
    url = (f"sqlite:///{tmp_path / 'jobs.db'}" if request.param == "sqlite" else POSTGRES_URL)
    store = TrackedStore(create_db_engine(url))
    store.created = []
    try:
        store.create_schema()
        store.create_schema()  # idempotent: every process calls it at start-up
    except StoreUnavailable as exc:
        pytest.fail(f"{request.param} is not reachable: {exc}")
    yield store
    for job_id in store.created:  # other suites share the PostgreSQL database
        store.delete(job_id)
    store.engine.dispose()


def _batch(store: JobStore, names: list[str], size: int) -> str:
    job, _ = store.create_job(kind="batch", params={})
    rows = [InputRow(id=f"id-{i}", name=name) for i, name in enumerate(names)]
    store.add_chunks(job.id, [rows[i:i + size] for i in range(0, len(rows), size)])
    return job.id


def _process(store: JobStore, job_id: str, idx: int) -> None:
    rows = store.get_chunk(job_id, idx)
    store.put_result(job_id, idx, [(f"cat-{r.name}", 0.5, None) for r in rows])


# -- jobs ----------------------------------------------------------------------------------------

def test_a_created_job_reads_back_queued(store: TrackedStore) -> None:
    params = {"data": "/data/catálogo.csv", "table": None, "nested": {"k": [1, 2]}}

    job, created = store.create_job(kind="training", params=params)

    assert created is True
    assert store.get(job.id) == job
    assert (job.kind, job.state, job.params, job.attempts) == ("training", "queued", params, 0)
    assert (job.stage, job.result, job.error, job.model_version, job.task_id) == (
        None, None, None, None, None)
    assert job.created_at.tzinfo is not None
    assert abs(job.created_at - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)
    assert not job.terminal


def test_an_unknown_job_is_job_not_found(store: TrackedStore) -> None:
    with pytest.raises(JobNotFound):
        store.get(uuid.uuid4().hex)
    with pytest.raises(JobNotFound):
        store.cancel(uuid.uuid4().hex)


def test_an_idempotency_key_returns_the_same_job(store: TrackedStore) -> None:
    key = f"key-{uuid.uuid4().hex}"

    first, created_first = store.create_job(kind="batch", params={}, idempotency_key=key)
    again, created_again = store.create_job(kind="batch", params={"other": 1},
                                            idempotency_key=key)
    other, _ = store.create_job(kind="batch", params={}, idempotency_key=f"{key}-2")

    assert (created_first, created_again) == (True, False)
    assert again.id == first.id
    assert store.find_by_key(key) == store.get(first.id)
    assert other.id != first.id
    assert store.find_by_key(f"{key}-unused") is None


def test_a_job_runs_and_succeeds_with_its_result(store: TrackedStore) -> None:
    job, _ = store.create_job(kind="training", params={})

    assert store.start(job.id, stage="loading data") is True
    assert store.set_stage(job.id, "selecting") is True
    assert store.start(job.id) is True  # a redelivered message starts it again
    assert store.succeed(job.id, {"macro_f1": 0.9}, model_version=3) is True

    done = store.get(job.id)
    assert (done.state, done.stage, done.attempts) == ("succeeded", "done", 2)
    assert (done.result, done.model_version) == ({"macro_f1": 0.9}, 3)
    assert done.started_at is not None
    assert done.finished_at is not None
    assert done.terminal


@pytest.mark.parametrize("end", ["succeeded", "failed", "cancelled"])
def test_an_ended_job_never_changes_state_again(store: TrackedStore, end: str) -> None:
    job, _ = store.create_job(kind="training", params={})
    store.start(job.id)
    ending = {"succeeded": lambda: store.succeed(job.id, {"ok": True}),
              "failed": lambda: store.fail(job.id, "the reason"),
              "cancelled": lambda: store.cancel(job.id)}
    assert ending[end]() is True
    before = store.get(job.id)

    assert store.start(job.id) is False
    assert store.set_stage(job.id, "late") is False
    assert all(make_end() is False for make_end in ending.values())
    assert store.get(job.id) == before
    assert store.get(job.id).state == end


def test_succeed_after_cancel_does_nothing(store: TrackedStore) -> None:
    job, _ = store.create_job(kind="training", params={})
    store.start(job.id)
    store.cancel(job.id)

    assert store.succeed(job.id, {"version": 9}, model_version=9) is False

    after = store.get(job.id)
    assert (after.state, after.result, after.model_version) == ("cancelled", None, None)
    assert store.is_cancelled(job.id)


def test_a_failure_keeps_its_reason_and_a_task_its_id(store: TrackedStore) -> None:
    job, _ = store.create_job(kind="training", params={})
    store.set_task_id(job.id, "celery-123")

    store.fail(job.id, "x" * 5000)

    failed = store.get(job.id)
    assert failed.task_id == "celery-123"
    assert failed.error == "x" * 4000  # bounded


def test_uploads_round_trip(store: TrackedStore) -> None:
    job, _ = store.create_job(kind="training", params={"upload": True})
    content = "category,name\nPlomería,\"Tubo 1/2\"\"\"\n".encode() + bytes(range(256))

    store.put_upload(job.id, content)

    assert store.get_upload(job.id) == content
    other, _ = store.create_job(kind="training", params={})
    with pytest.raises(JobNotFound):
        store.get_upload(other.id)


# -- batch rows ----------------------------------------------------------------------------------

UNICODE_NAMES = ["Tubo PVC 1/2\"", "Llave española ñ", "Codo 90° «cobre»", "Ünïcødé ✓ 🔧",
                 "comma, and \"quotes\"", "tab\tinside", "line\nbreak", "NUL\x00byte",
                 "日本語の名前", ""]


def test_chunks_round_trip_unicode_names_ids_and_errors(store: TrackedStore) -> None:
    job, _ = store.create_job(kind="batch", params={})
    rows = [InputRow(id=None if i % 3 == 0 else f"SKU-{i}", name=name,
                     error="empty name" if not name else None)
            for i, name in enumerate(UNICODE_NAMES)]

    total, n_chunks = store.add_chunks(job.id, [rows[:4], rows[4:8], rows[8:]])

    assert (total, n_chunks) == (10, 3)
    assert store.get_chunk(job.id, 0) + store.get_chunk(job.id, 1) + store.get_chunk(
        job.id, 2) == rows
    recorded = store.get(job.id)
    assert (recorded.total_rows, recorded.n_chunks, recorded.rows_done) == (10, 3, 0)
    with pytest.raises(JobNotFound):
        store.get_chunk(job.id, 3)


def test_a_chunk_result_is_stored_once(store: TrackedStore) -> None:
    job_id = _batch(store, ["a", "b", "c"], size=2)

    assert store.put_result(job_id, 0, [("X", 0.9, None), ("Y", 0.8, None)]) is True
    assert store.put_result(job_id, 0, [("Z", 0.1, None), ("Z", 0.1, None)]) is False

    assert store.has_result(job_id, 0)
    assert not store.has_result(job_id, 1)
    assert store.chunks_done(job_id) == 1
    assert store.get(job_id).rows_done == 2
    assert [r.category for r in store.iter_results(job_id)] == ["X", "Y"]  # the first write


def test_results_keep_decision_top_k_and_known(store: TrackedStore) -> None:
    job_id = _batch(store, ["a", "b", "c", "d"], size=2)
    store.put_result(job_id, 0, [
        RowResult("X", 0.99, None, "auto", [("X", 0.99), ("Y", 0.01)], True),
        RowResult(None, None, "empty name"),
    ])
    # Results stored before decisions existed hold three fields: they read back undecided.
    store.put_result(job_id, 1, [("Y", 0.6, None), ("X", 0.7, None)])

    rows = list(store.iter_results(job_id))

    assert [(r.decision, r.known) for r in rows] == [("auto", True), (None, None),
                                                     (None, None), (None, None)]
    assert rows[0].top_k == [("X", 0.99), ("Y", 0.01)]
    assert rows[1].top_k == []
    assert rows[1].error == "empty name"


def test_decision_counts_per_category(store: TrackedStore) -> None:
    job_id = _batch(store, ["a", "b", "c", "d", "e"], size=2)
    store.put_result(job_id, 0, [RowResult("X", 0.99, None, "auto", [("X", 0.99)], True),
                                 RowResult("X", 0.6, None, "review", [("X", 0.6)], True)])
    store.put_result(job_id, 1, [RowResult("Y", 0.4, None, "review", [("Y", 0.4)], False),
                                 RowResult(None, None, "empty name")])
    store.put_result(job_id, 2, [RowResult("Y", 0.999, None, "auto", [("Y", 0.999)], True)])

    assert store.decision_counts(job_id) == {
        "auto": 2, "review": 2, "errors": 1,
        "per_category": {"X": {"auto": 1, "review": 1}, "Y": {"auto": 1, "review": 1}},
    }


def test_chunks_pending_are_those_without_a_result(store: TrackedStore) -> None:
    job_id = _batch(store, [f"n{i}" for i in range(10)], size=3)  # chunks 0..3
    assert store.chunks_pending(job_id) == [0, 1, 2, 3]

    _process(store, job_id, 1)
    _process(store, job_id, 3)

    assert store.chunks_pending(job_id) == [0, 2]


def test_results_page_across_chunk_boundaries_in_input_order(store: TrackedStore) -> None:
    names = [f"name-{i}" for i in range(17)]
    job_id = _batch(store, names, size=5)  # chunks of 5, 5, 5, 2
    for idx in (3, 1, 0, 2):  # finished out of order
        _process(store, job_id, idx)

    for offset in range(0, 19):
        for limit in (1, 4, 5, 6, 11, None):
            rows = list(store.iter_results(job_id, offset=offset, limit=limit))
            end = None if limit is None else offset + limit
            assert [r.row for r in rows] == list(range(17))[offset:end], (offset, limit)
            assert [r.name for r in rows] == names[offset:end]
    every = list(store.iter_results(job_id))
    assert [(r.id, r.category, r.confidence, r.error) for r in every[:2]] == [
        ("id-0", "cat-name-0", 0.5, None), ("id-1", "cat-name-1", 0.5, None)]


def test_results_skip_chunks_not_processed_yet(store: TrackedStore) -> None:
    job_id = _batch(store, [f"n{i}" for i in range(9)], size=3)
    _process(store, job_id, 0)
    _process(store, job_id, 2)

    assert [r.row for r in store.iter_results(job_id)] == [0, 1, 2, 6, 7, 8]


def test_delete_removes_a_job_and_its_rows(store: TrackedStore) -> None:
    job_id = _batch(store, ["a", "b"], size=1)
    _process(store, job_id, 0)

    store.delete(job_id)

    with pytest.raises(JobNotFound):
        store.get(job_id)
    with pytest.raises(JobNotFound):
        store.get_chunk(job_id, 0)
    assert list(store.iter_results(job_id)) == []


def test_the_registry_lock_is_exclusive_across_threads(store: TrackedStore) -> None:
    name = f"registry-{uuid.uuid4().hex[:8]}"
    events: list[str] = []
    holding = threading.Event()
    release = threading.Event()
    second_in = threading.Event()

    def first() -> None:
        with store.lock(name):
            events.append("first in")
            holding.set()
            release.wait(timeout=10)
            events.append("first out")

    def second() -> None:
        holding.wait(timeout=10)
        with store.lock(name):
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


# -- SQLite only: expiry scans the whole table, which other suites share on PostgreSQL ----------

@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[JobStore]:
    store = JobStore.from_url(f"sqlite:///{tmp_path / 'jobs.db'}")
    store.create_schema()
    yield store
    store.engine.dispose()


def _backdate(store: JobStore, job_id: str, days: int) -> None:
    with store.engine.begin() as connection:
        connection.execute(jobs_table.update().where(jobs_table.c.id == job_id).values(
            finished_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=days)))


def test_delete_expired_removes_only_long_ended_jobs(sqlite_store: JobStore) -> None:
    store = sqlite_store
    old_done = _batch(store, ["a", "b"], size=1)
    _process(store, old_done, 0)
    store.succeed(old_done, {})
    _backdate(store, old_done, days=40)
    old_failed, _ = store.create_job(kind="training", params={})
    store.fail(old_failed.id, "boom")
    _backdate(store, old_failed.id, days=31)
    recent, _ = store.create_job(kind="training", params={})
    store.cancel(recent.id)
    running, _ = store.create_job(kind="training", params={})
    store.start(running.id)
    queued, _ = store.create_job(kind="training", params={})

    assert store.delete_expired(older_than=dt.timedelta(days=30)) == 2

    for gone in (old_done, old_failed.id):
        with pytest.raises(JobNotFound):
            store.get(gone)
    assert store.chunks_pending(old_done) == []
    assert list(store.iter_results(old_done)) == []
    assert {store.get(j.id).state for j in (recent, running, queued)} == {
        "cancelled", "running", "queued"}
    assert store.delete_expired(older_than=dt.timedelta(days=30)) == 0


# -- an unreachable database ---------------------------------------------------------------------

@pytest.mark.parametrize("url", UNREACHABLE, ids=["postgresql", "sqlite"])
def test_an_unreachable_database_is_store_unavailable(url: str) -> None:
    store = JobStore.from_url(url)
    try:
        for call in (store.ping, store.create_schema, lambda: store.get("x"),
                     lambda: store.create_job(kind="batch", params={}),
                     lambda: list(store.iter_results("x"))):
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


def test_a_batch_is_recorded_all_or_nothing(store: TrackedStore) -> None:
    """An intake cut short mid-upload leaves no job (nor chunks) for a retry to find."""
    key = f"cut-{uuid.uuid4().hex}"

    def rows_then_failure() -> Iterator[list[InputRow]]:
        yield [InputRow(id="1", name="Tubo PVC 1/2\"")]
        yield [InputRow(id="2", name="Foco LED 9W")]
        raise ConnectionError("client went away")

    with pytest.raises(ConnectionError):
        store.create_batch(rows_then_failure(), idempotency_key=key)
    assert store.find_by_key(key) is None

    job, created = store.create_batch(iter([[InputRow(id="1", name="Taladro")]] * 3),
                                      idempotency_key=key)
    store.created.append(job.id)
    assert created
    assert job.state == "queued"
    assert (job.total_rows, job.n_chunks) == (3, 3)
    again, created_again = store.create_batch(iter([[InputRow(id="x", name="y")]]),
                                              idempotency_key=key)
    assert (again.id, created_again) == (job.id, False)


def test_an_empty_batch_is_refused_and_leaves_nothing(store: TrackedStore) -> None:
    from core.jobs import EmptyBatch

    key = f"empty-{uuid.uuid4().hex}"
    with pytest.raises(EmptyBatch):
        store.create_batch(iter([]), idempotency_key=key)
    assert store.find_by_key(key) is None


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
