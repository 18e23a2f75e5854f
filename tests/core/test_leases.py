"""Leases on running work, on a real SQLite job store: take, renew, release, expire, fence."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest

from core.batch_store import BatchStore, InputRow
from core.db import leases_table
from core.jobs import JobStore
from core.leases import WHOLE_JOB, Heartbeat, LeaseStore, held_lease


@pytest.fixture
def leases(job_store: JobStore) -> LeaseStore:
    return LeaseStore(job_store)


def _batch(store: JobStore, chunks: int = 3) -> str:
    job, _ = BatchStore(store).create_batch(
        [[InputRow(id=f"{c}", name=f"tubo {c}")] for c in range(chunks)])
    store.start(job.id, stage="categorizing", model_version=1)
    return job.id


def expire(store: JobStore, job_id: str, idx: int, *, ago: float = 5) -> None:
    """Make the lease's expiry `ago` seconds in the past (its worker stopped renewing it)."""
    with store.engine.begin() as connection:
        connection.execute(
            leases_table.update()
            .where(leases_table.c.job_id == job_id, leases_table.c.idx == idx)
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=ago)))


def take(leases: LeaseStore, job_id: str, idx: int, task_id: str, seconds: float = 60) -> bool:
    return leases.acquire(job_id=job_id, idx=idx, task_id=task_id, worker="w1@host", pid=42,
                          seconds=seconds)


def test_a_lease_names_its_worker_and_expires_a_lease_ahead(
        leases: LeaseStore, job_store: JobStore) -> None:
    job_id = _batch(job_store)
    before = dt.datetime.now(dt.UTC)

    assert take(leases, job_id, 1, "task-a")

    lease = leases.get(job_id, 1)
    assert lease is not None
    assert (lease.task_id, lease.worker, lease.pid, lease.resends) == ("task-a", "w1@host", 42, 0)
    assert lease.expires_at is not None
    assert before + dt.timedelta(seconds=59) <= lease.expires_at
    assert lease.expires_at <= dt.datetime.now(dt.UTC) + dt.timedelta(seconds=60)
    assert leases.expired() == []


def test_a_live_lease_is_refused_to_another_task_but_not_to_its_own_redelivery(
        leases: LeaseStore, job_store: JobStore) -> None:
    job_id = _batch(job_store)
    assert take(leases, job_id, 0, "task-a")

    assert not take(leases, job_id, 0, "task-b")
    assert take(leases, job_id, 0, "task-a")  # its pool process died: same message again
    # Another chunk, or the job's own task, is another lease.
    assert take(leases, job_id, 1, "task-b")
    assert take(leases, job_id, WHOLE_JOB, "task-c")


def test_an_expired_lease_may_be_taken_by_anyone(leases: LeaseStore, job_store: JobStore) -> None:
    job_id = _batch(job_store)
    take(leases, job_id, 0, "task-a")
    expire(job_store, job_id, 0)

    assert take(leases, job_id, 0, "task-b")
    lease = leases.get(job_id, 0)
    assert lease is not None
    assert lease.task_id == "task-b"


def test_renewal_pushes_the_expiry_and_fails_once_the_lease_moved(
        leases: LeaseStore, job_store: JobStore) -> None:
    job_id = _batch(job_store)
    take(leases, job_id, 0, "task-a", seconds=1)
    first = leases.get(job_id, 0)

    assert leases.renew(job_id=job_id, idx=0, task_id="task-a", seconds=60)
    renewed = leases.get(job_id, 0)
    assert first is not None
    assert renewed is not None
    assert first.expires_at is not None
    assert renewed.expires_at is not None
    assert renewed.expires_at - first.expires_at > dt.timedelta(seconds=58)

    expire(job_store, job_id, 0)
    take(leases, job_id, 0, "task-b")
    assert not leases.renew(job_id=job_id, idx=0, task_id="task-a", seconds=60)


def test_release_drops_only_the_holders_lease(leases: LeaseStore, job_store: JobStore) -> None:
    job_id = _batch(job_store)
    take(leases, job_id, 0, "task-a")

    leases.release(job_id=job_id, idx=0, task_id="task-other")
    assert leases.get(job_id, 0) is not None
    leases.release(job_id=job_id, idx=0, task_id="task-a")
    assert leases.get(job_id, 0) is None


def test_expired_lists_only_unfinished_work_of_active_jobs(
        leases: LeaseStore, job_store: JobStore) -> None:
    running = _batch(job_store)
    for idx in range(3):
        take(leases, running, idx, f"task-{idx}")
    expire(job_store, running, 0)
    expire(job_store, running, 1)
    # Finished, not yet released.
    BatchStore(job_store).put_result(running, 1, [("Plomería", 0.9, None)])
    ended = _batch(job_store)
    take(leases, ended, 0, "task-e")
    expire(job_store, ended, 0)
    job_store.cancel(ended)

    assert [(lease.job_id, lease.idx) for lease in leases.expired()] == [(running, 0)]


def test_a_claimed_lease_waits_for_a_worker_and_is_not_claimed_twice(
        leases: LeaseStore, job_store: JobStore) -> None:
    job, _ = job_store.create_job(kind="training", params={})
    job_store.set_task_id(job.id, "task-a")
    take(leases, job.id, WHOLE_JOB, "task-a")
    expire(job_store, job.id, WHOLE_JOB)
    [lease] = leases.expired()

    assert leases.claim_resend(lease, "task-b")
    assert not leases.claim_resend(lease, "task-c")  # as read no more
    after = leases.get(job.id, WHOLE_JOB)
    assert after is not None
    assert (after.task_id, after.expires_at, after.resends) == ("task-b", None, 1)
    # The job's own task id moves with it: the old message is dropped as superseded.
    assert job_store.get(job.id).task_id == "task-b"
    assert leases.expired() == []  # sent again: not expired until a worker takes it
    assert take(leases, job.id, WHOLE_JOB, "task-b")


def test_unclaim_puts_the_lease_back_as_it_was(leases: LeaseStore, job_store: JobStore) -> None:
    job_id = _batch(job_store)
    take(leases, job_id, 2, "task-a")
    expire(job_store, job_id, 2)
    [lease] = leases.expired()
    leases.claim_resend(lease, "task-b")

    leases.unclaim(lease, "task-b")

    assert leases.expired() == [lease]


def test_the_heartbeat_renews_until_stopped(leases: LeaseStore, job_store: JobStore) -> None:
    job_id = _batch(job_store)
    with held_lease(leases, job_id=job_id, idx=0, task_id="task-a", worker="w1@host", pid=7,
                    seconds=0.6, every=0.1) as heartbeat:
        assert heartbeat is not None
        time.sleep(1.0)  # longer than the lease: only the renewals keep it
        assert leases.expired() == []
        lease = leases.get(job_id, 0)
        assert lease is not None
        assert lease.expires_at is not None
        assert lease.expires_at > dt.datetime.now(dt.UTC)
    assert leases.get(job_id, 0) is None  # released
    assert heartbeat.lost is None


def test_a_lease_held_elsewhere_yields_none(leases: LeaseStore, job_store: JobStore) -> None:
    job_id = _batch(job_store)
    take(leases, job_id, 0, "task-a")
    with held_lease(leases, job_id=job_id, idx=0, task_id="task-b", worker="w2@host", pid=8,
                    seconds=60, every=10) as heartbeat:
        assert heartbeat is None
    lease = leases.get(job_id, 0)
    assert lease is not None
    assert lease.task_id == "task-a"  # not released by the task that did not hold it


def test_a_lease_taken_over_calls_on_lost(leases: LeaseStore, job_store: JobStore) -> None:
    job_id = _batch(job_store)
    lost: list[str] = []
    called = threading.Event()

    def on_lost(reason: str) -> None:
        lost.append(reason)
        called.set()

    with held_lease(leases, job_id=job_id, idx=WHOLE_JOB, task_id="task-a", worker="w1",
                    pid=7, seconds=60, every=0.05, on_lost=on_lost):
        expire(job_store, job_id, WHOLE_JOB)
        [lease] = leases.expired()
        assert leases.claim_resend(lease, "task-b")  # a sweeper sent it elsewhere
        assert called.wait(5)
    assert len(lost) == 1
    assert "taken over" in lost[0]
    assert leases.get(job_id, WHOLE_JOB) is not None  # the new task's, not released


class UnreachableLeases(LeaseStore):
    """A store whose renewals fail, as when the worker's host is cut off from the database."""

    def renew(self, **_: object) -> bool:
        raise ConnectionError("database unreachable")


def test_a_lease_that_cannot_be_renewed_is_given_up_before_it_expires(
        leases: LeaseStore, job_store: JobStore) -> None:
    job_id = _batch(job_store)
    take(leases, job_id, WHOLE_JOB, "task-a", seconds=4.0)
    lost_at: list[float] = []
    heartbeat = Heartbeat(UnreachableLeases(job_store), job_id=job_id, idx=WHOLE_JOB,
                          task_id="task-a", seconds=4.0, every=1.0,
                          on_lost=lambda reason: lost_at.append(time.monotonic()))
    started = time.monotonic()
    heartbeat.start()
    try:
        deadline = started + 10
        while not lost_at and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        heartbeat.stop()
    assert len(lost_at) == 1
    # Fenced after lease - heartbeat of silence, before the lease itself runs out.
    assert 3.0 <= lost_at[0] - started < 4.0
    assert heartbeat.lost is not None
    assert "could not be renewed" in heartbeat.lost
