"""Leases taken when a worker receives a message (worker/receipt.py), on a real job store."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from core.batch_store import BatchStore, InputRow
from core.jobs import JobStore
from core.leases import WHOLE_JOB, LeaseStore, held_lease
from core.sweeper import sweep_leases
from tests.core.test_leases import expire
from worker.receipt import Receipts, lease_expiry_seconds, leased_work

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def _batch(store: JobStore, chunks: int = 2) -> str:
    job, _ = BatchStore(store).create_batch(
        [InputRow(id=f"R{i}-{j}", name=f"Tubo PVC {i}{j}") for j in range(3)]
        for i in range(chunks))
    store.start(job.id, stage="categorizing", model_version=1)
    return job.id


def test_job_messages_map_to_the_work_they_lease() -> None:
    assert leased_work("batch.chunk", ["job1", 3]) == ("job1", 3)
    # A job's own task is leased when it starts: its current task id decides which message runs.
    assert leased_work("training.run", ["job1"]) is None
    assert leased_work("batch.start", ["job1"]) is None
    assert leased_work("shadow.chunk", ["job1", 3, 2]) is None  # shadow work is best effort
    assert leased_work("batch.chunk", ["job1"]) is None  # malformed: the task fails it


def test_a_message_due_later_is_leased_until_lease_seconds_after_it_is_due() -> None:
    assert lease_expiry_seconds(60, None, NOW) == 60
    assert lease_expiry_seconds(60, NOW + dt.timedelta(seconds=30), NOW) == 90
    assert lease_expiry_seconds(60, NOW - dt.timedelta(seconds=30), NOW) == 60
    naive = (NOW + dt.timedelta(seconds=10)).replace(tzinfo=None)  # read as UTC
    assert lease_expiry_seconds(60, naive, NOW) == 70


def test_a_received_chunk_is_leased_to_its_message_and_its_start_takes_the_lease_over(
    job_store: JobStore,
) -> None:
    job_id = _batch(job_store)
    leases = LeaseStore(job_store)
    receipts = Receipts(leases, lease_seconds=60, pid=4242)

    assert receipts.received(task_id="t1", name="batch.chunk", args=[job_id, 1],
                             worker="w1@host-a")

    lease = leases.get(job_id, 1)
    assert lease is not None
    assert (lease.task_id, lease.worker, lease.pid) == ("t1", "w1@host-a", 4242)
    assert lease.expires_at is not None
    assert 50 < (lease.expires_at - dt.datetime.now(dt.UTC)).total_seconds() <= 60
    # The same chunk sent twice: the second message leaves the first one's lease alone.
    assert not receipts.received(task_id="t2", name="batch.chunk", args=[job_id, 1],
                                 worker="w2@host-b")
    assert leases.get(job_id, 1).task_id == "t1"  # type: ignore[union-attr]
    # The pool process that starts the message holds the same lease, and releases it.
    with held_lease(leases, job_id=job_id, idx=1, task_id="t1", worker="w1@host-a", pid=7,
                    seconds=60, every=10) as held:
        assert held is not None
        assert leases.get(job_id, 1).pid == 7  # type: ignore[union-attr]
    assert leases.get(job_id, 1) is None


def test_a_message_received_by_a_host_that_died_before_starting_it_is_sent_again(
    job_store: JobStore,
) -> None:
    """The hole this closes: received, never started, no lease, two hours of waiting."""
    job_id = _batch(job_store)
    leases = LeaseStore(job_store)
    Receipts(leases, lease_seconds=60).received(task_id="lost", name="batch.chunk",
                                                args=[job_id, 0], worker="w1@host-a")
    expire(job_store, job_id, 0)  # the host died: nobody renews or starts it
    sent: list[tuple[int, str]] = []

    report = sweep_leases(leases, lambda lease, task_id: sent.append((lease.idx, task_id)),
                          max_resends=3)

    assert [idx for idx, _ in sent] == [0]
    assert report.resent == [f"{job_id}/0"]
    # The message sent again is received by another host: it takes the lease over.
    [(_, new_id)] = sent
    assert Receipts(leases, lease_seconds=60).received(task_id=new_id, name="batch.chunk",
                                                       args=[job_id, 0], worker="w2@host-b")
    assert leases.get(job_id, 0).resends == 1  # type: ignore[union-attr]


def test_a_store_outage_pauses_receipts_instead_of_stalling_every_message(
    job_store: JobStore,
) -> None:
    calls: list[str] = []

    class Down(LeaseStore):
        def acquire(self, **kwargs: Any) -> bool:
            calls.append(kwargs["task_id"])
            raise OSError("connection refused")

    receipts = Receipts(Down(job_store), lease_seconds=60)
    assert not receipts.received(task_id="a", name="batch.chunk", args=["j", 0], worker="w")
    assert not receipts.received(task_id="b", name="batch.chunk", args=["j", 1], worker="w")
    assert calls == ["a"]  # the second waited out the pause instead of another timeout


@pytest.mark.parametrize("name", ["training.run", "batch.start"])
def test_a_job_task_is_not_leased_on_receipt(job_store: JobStore, name: str) -> None:
    """Two messages of one job (a submission raced with itself): a lease the superseded one took
    on receipt would keep the current one from running, and the job would stall."""
    job, _ = job_store.create_job(kind="training", params={})
    leases = LeaseStore(job_store)
    assert not Receipts(leases, lease_seconds=60).received(task_id="t", name=name,
                                                           args=[job.id], worker="w")
    assert leases.get(job.id, WHOLE_JOB) is None
