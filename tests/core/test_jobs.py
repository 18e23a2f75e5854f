"""The job store's lifecycle contract, on SQLite and (marked integration) on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.batch_store import BatchStore
from core.db import jobs_table
from core.errors import JobNotFound
from core.jobs import JobStore
from tests.fixtures.stores import TrackedStore, make_batch, process

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


def test_delete_removes_a_job_and_its_rows(store: TrackedStore, batches: BatchStore) -> None:
    job_id = make_batch(batches, ["a", "b"], size=1)
    process(batches, job_id, 0)

    store.delete(job_id)

    with pytest.raises(JobNotFound):
        store.get(job_id)
    with pytest.raises(JobNotFound):
        batches.get_chunk(job_id, 0)
    assert list(batches.iter_results(job_id)) == []


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
    batches = BatchStore(store)
    old_done = make_batch(batches, ["a", "b"], size=1)
    process(batches, old_done, 0)
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
    assert batches.chunks_pending(old_done) == []
    assert list(batches.iter_results(old_done)) == []
    assert {store.get(j.id).state for j in (recent, running, queued)} == {
        "cancelled", "running", "queued"}
    assert store.delete_expired(older_than=dt.timedelta(days=30)) == 0


