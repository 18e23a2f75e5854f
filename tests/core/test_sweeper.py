"""The job sweeper on a real SQLite job store: what it sends again, fails, leaves and deletes."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from core.batch_store import BatchStore, InputRow
from core.db import jobs_table
from core.jobs import Job, JobStore
from core.leases import WHOLE_JOB, Lease, LeaseStore
from core.sweeper import Unacked, adopt_unleased, sweep, sweep_leases
from tests.core.test_leases import expire as expire_lease

STALE = dt.timedelta(minutes=10)
KEEP = dt.timedelta(days=30)


@pytest.fixture
def store(job_store: JobStore) -> JobStore:
    """The real job store on a SQLite file (tests/fixtures/app.py)."""
    return job_store


class Sender:
    """Records each (job id, kind, task id) the sweeper sends; `down` plays a broker away."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []
        self.down = False

    def __call__(self, job: Job, task_id: str) -> None:
        if self.down:
            raise ConnectionError("broker unreachable")
        self.sent.append((job.id, job.kind, task_id))


def _silence(store: JobStore, job_id: str, *, for_: dt.timedelta) -> None:
    """Make the job's last sign of life `for_` ago."""
    with store.engine.begin() as connection:
        connection.execute(jobs_table.update().where(jobs_table.c.id == job_id)
                           .values(updated_at=dt.datetime.now(dt.UTC) - for_))


def _batch(store: JobStore, chunks: int = 2) -> str:
    job, _ = BatchStore(store).create_batch(
        [[InputRow(id=f"{c}", name=f"tubo {c}")] for c in range(chunks)])
    return job.id


def _sweep(store: JobStore, sender: Sender, *, max_resends: int = 3) -> tuple[list[str], ...]:
    report = sweep(store, sender, stale_after=STALE, max_resends=max_resends, keep_for=KEEP)
    return report.resent, report.failed


def test_a_silent_queued_job_is_sent_again_under_a_new_task_id(store: JobStore) -> None:
    job, _ = store.create_job(kind="training", params={})
    store.set_task_id(job.id, "lost-message")
    _silence(store, job.id, for_=STALE + dt.timedelta(seconds=5))
    sender = Sender()

    resent, failed = _sweep(store, sender)

    assert (resent, failed) == ([job.id], [])
    [(sent_id, kind, task_id)] = sender.sent
    after = store.get(job.id)
    assert (sent_id, kind) == (job.id, "training")
    assert task_id != "lost-message"
    assert (after.task_id, after.resends, after.state) == (task_id, 1, "queued")
    assert after.updated_at is not None
    assert after.updated_at > dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    # It was just sent: the next sweep leaves it alone.
    assert _sweep(store, sender) == ([], [])
    assert len(sender.sent) == 1


def test_a_silent_running_batch_is_sent_again(store: JobStore) -> None:
    job_id = _batch(store)
    store.start(job_id, stage="categorizing", model_version=1)
    _silence(store, job_id, for_=STALE * 2)
    sender = Sender()

    assert _sweep(store, sender) == ([job_id], [])
    assert [(i, k) for i, k, _ in sender.sent] == [(job_id, "batch")]


def test_jobs_with_a_recent_sign_of_life_or_ended_are_left_alone(store: JobStore) -> None:
    fresh, _ = store.create_job(kind="training", params={})
    ended = []
    for end in (lambda i: store.succeed(i, {}), lambda i: store.fail(i, "x"), store.cancel):
        job, _ = store.create_job(kind="training", params={})
        end(job.id)
        _silence(store, job.id, for_=STALE * 3)
        ended.append(job.id)
    progressing = _batch(store)
    store.start(progressing, model_version=1)
    _silence(store, progressing, for_=STALE * 3)
    # A chunk stored: a sign of life.
    BatchStore(store).put_result(progressing, 0, [("Plomería", 0.9, None)])
    sender = Sender()

    assert _sweep(store, sender) == ([], [])
    assert sender.sent == []
    assert store.get(fresh.id).state == "queued"


def test_a_job_still_silent_after_the_last_resend_is_failed_with_the_reason(
    store: JobStore,
) -> None:
    job, _ = store.create_job(kind="training", params={})
    sender = Sender()
    for n in range(2):
        _silence(store, job.id, for_=STALE * 2)
        assert _sweep(store, sender, max_resends=2) == ([job.id], [])
        assert store.get(job.id).resends == n + 1

    _silence(store, job.id, for_=STALE * 2)
    assert _sweep(store, sender, max_resends=2) == ([], [job.id])

    failed = store.get(job.id)
    assert failed.state == "failed"
    assert failed.error is not None
    assert failed.error.startswith("lost: no worker reported on this job for 10 min")
    assert "after it was sent again twice; are workers consuming its queue?" in failed.error
    assert len(sender.sent) == 2


def test_with_no_resends_allowed_a_silent_job_fails_at_once(store: JobStore) -> None:
    job, _ = store.create_job(kind="batch", params={})
    _silence(store, job.id, for_=STALE * 2)

    assert _sweep(store, Sender(), max_resends=0) == ([], [job.id])
    assert store.get(job.id).error == (
        "lost: no worker reported on this job for 10 min; are workers consuming its queue? "
        "Submit it again")


def test_a_broker_that_is_down_gets_the_job_again_at_the_next_stale_sweep(
    store: JobStore,
) -> None:
    job, _ = store.create_job(kind="training", params={})
    _silence(store, job.id, for_=STALE * 2)
    sender = Sender()
    sender.down = True

    assert _sweep(store, sender) == ([], [])
    assert store.get(job.id).state == "queued"  # not lost, not failed

    sender.down = False
    _silence(store, job.id, for_=STALE * 2)
    assert _sweep(store, sender) == ([job.id], [])


def test_two_sweepers_at_once_send_each_job_once(store: JobStore) -> None:
    jobs = [store.create_job(kind="training", params={})[0] for _ in range(20)]
    for job in jobs:
        _silence(store, job.id, for_=STALE * 2)
    sender = Sender()
    start = threading.Barrier(2)

    def run() -> None:
        start.wait()
        _sweep(store, sender)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(i for i, _, _ in sender.sent) == sorted(j.id for j in jobs)
    assert {store.get(j.id).resends for j in jobs} == {1}


def test_the_sweep_deletes_jobs_that_ended_long_ago(store: JobStore) -> None:
    old, _ = store.create_job(kind="training", params={})
    store.succeed(old.id, {})
    with store.engine.begin() as connection:
        connection.execute(jobs_table.update().where(jobs_table.c.id == old.id).values(
            finished_at=dt.datetime.now(dt.UTC) - KEEP - dt.timedelta(days=1)))
    recent, _ = store.create_job(kind="training", params={})
    store.succeed(recent.id, {})

    report = sweep(store, Sender(), stale_after=STALE, max_resends=3, keep_for=KEEP)

    assert report.deleted == 1
    assert [j.id for j in store.stale_jobs(older_than=dt.timedelta(0))] == []
    assert store.get(recent.id).state == "succeeded"


# -- expired leases (core.leases): a lost worker's work is sent again within a lease ----------

class LeaseSender:
    """Records each (job id, lease index, task id) sent again; `down` plays a broker away."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, int, str]] = []
        self.down = False

    def __call__(self, lease: Lease, task_id: str) -> None:
        if self.down:
            raise ConnectionError("broker unreachable")
        self.sent.append((lease.job_id, lease.idx, task_id))


def _lost_chunk(store: JobStore, idx: int = 1) -> str:
    """A running batch whose chunk `idx` was taken by a worker that then stopped renewing."""
    job_id = _batch(store, chunks=3)
    store.start(job_id, stage="categorizing", model_version=1)
    LeaseStore(store).acquire(job_id=job_id, idx=idx, task_id="first", worker="w1@lost",
                              pid=99, seconds=60)
    expire_lease(store, job_id, idx)
    return job_id


def test_an_expired_chunk_lease_is_sent_again_under_a_new_task_id(store: JobStore) -> None:
    job_id = _lost_chunk(store)
    sender = LeaseSender()

    report = sweep_leases(LeaseStore(store), sender, max_resends=3)

    [(sent_job, idx, task_id)] = sender.sent
    assert (sent_job, idx) == (job_id, 1)
    assert task_id != "first"
    assert report.resent == [f"{job_id}/1"]
    lease = LeaseStore(store).get(job_id, 1)
    assert lease is not None
    assert (lease.task_id, lease.resends, lease.expires_at) == (task_id, 1, None)
    assert store.get(job_id).state == "running"
    # Until a worker takes the new task, nothing more is sent.
    assert sweep_leases(LeaseStore(store), sender, max_resends=3).resent == []


def test_a_renewed_lease_or_one_whose_chunk_is_stored_is_left_alone(store: JobStore) -> None:
    job_id = _lost_chunk(store, idx=0)
    LeaseStore(store).renew(job_id=job_id, idx=0, task_id="first", seconds=60)
    other = _lost_chunk(store, idx=2)
    BatchStore(store).put_result(other, 2, [("Plomería", 0.9, None)])
    sender = LeaseSender()

    sweep_leases(LeaseStore(store), sender, max_resends=3)

    assert sender.sent == []


def test_work_lost_again_after_the_last_resend_fails_the_job_with_the_reason(
        store: JobStore) -> None:
    job_id = _lost_chunk(store)
    leases = LeaseStore(store)
    sender = LeaseSender()
    for attempt in range(2):
        sweep_leases(leases, sender, max_resends=2)
        task_id = sender.sent[-1][2]
        assert leases.acquire(job_id=job_id, idx=1, task_id=task_id, worker=f"w{attempt}",
                              pid=attempt, seconds=60)
        expire_lease(store, job_id, 1)

    report = sweep_leases(leases, sender, max_resends=2)

    assert report.failed == [job_id]
    assert len(sender.sent) == 2
    job = store.get(job_id)
    assert job.state == "failed"
    assert job.error == (
        "chunk 1 was lost with its worker (w1, pid 1), after it was sent again twice; gave up "
        "(TASK_MAX_RETRIES=2). Are workers dying on it? Submit the job again")


def test_a_lost_training_is_sent_again_and_its_old_message_superseded(store: JobStore) -> None:
    job, _ = store.create_job(kind="training", params={})
    store.set_task_id(job.id, "first")
    store.start(job.id, stage="fitting")
    LeaseStore(store).acquire(job_id=job.id, idx=WHOLE_JOB, task_id="first", worker="w1",
                              pid=5, seconds=60)
    expire_lease(store, job.id, WHOLE_JOB)
    sender = LeaseSender()

    sweep_leases(LeaseStore(store), sender, max_resends=3)

    [(_, idx, task_id)] = sender.sent
    assert idx == WHOLE_JOB
    assert store.get(job.id).task_id == task_id


def test_a_broker_that_is_down_leaves_the_lease_for_the_next_sweep(store: JobStore) -> None:
    job_id = _lost_chunk(store)
    sender = LeaseSender()
    sender.down = True

    assert sweep_leases(LeaseStore(store), sender, max_resends=3).resent == []
    lease = LeaseStore(store).get(job_id, 1)
    assert lease is not None
    assert (lease.task_id, lease.resends) == ("first", 0)  # no resend spent on the outage

    sender.down = False
    assert sweep_leases(LeaseStore(store), sender, max_resends=3).resent == [f"{job_id}/1"]


def test_two_lease_sweepers_at_once_send_each_lost_chunk_once(store: JobStore) -> None:
    jobs = [_lost_chunk(store, idx=i % 3) for i in range(12)]
    sender = LeaseSender()
    start = threading.Barrier(2)

    def run() -> None:
        start.wait()
        sweep_leases(LeaseStore(store), sender, max_resends=3)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(job for job, _, _ in sender.sent) == sorted(jobs)
    assert len({task for _, _, task in sender.sent}) == len(jobs)


def test_each_expired_lease_acted_on_is_counted_once(store: JobStore) -> None:
    from prometheus_client import REGISTRY

    def expired() -> float:
        return REGISTRY.get_sample_value("categorizer_leases_expired_total",
                                         {"kind": "batch"}) or 0.0

    before = expired()
    _lost_chunk(store)

    sweep_leases(LeaseStore(store), LeaseSender(), max_resends=3)
    sweep_leases(LeaseStore(store), LeaseSender(), max_resends=3)  # nothing new expired

    assert expired() == before + 1


# -- chunk messages received and never leased (adopt_unleased) -------------------------------------

def _received(job_id: str, idx: int, *, ago: float, task_id: str = "orphan") -> Unacked:
    return Unacked(task_id=task_id, job_id=job_id, idx=idx,
                   delivered_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=ago))


def test_a_message_received_and_never_leased_is_leased_to_itself_and_then_sent_again(
        store: JobStore) -> None:
    """The receiving host died between the broker's delivery and its receipt lease: the
    message gets the lease it would have taken, from its delivery, and is swept as lost."""
    job_id = _batch(store, chunks=3)
    store.start(job_id, stage="categorizing", model_version=1)
    leases = LeaseStore(store)
    message = _received(job_id, 2, ago=75)

    assert adopt_unleased(leases, [message], lease_seconds=60, grace=10) == [f"{job_id}/2"]

    lease = leases.get(job_id, 2)
    assert lease is not None
    assert (lease.task_id, lease.resends, lease.pid) == ("orphan", 0, None)
    assert lease.expires_at == message.delivered_at + dt.timedelta(seconds=60)
    sender = LeaseSender()
    sweep_leases(leases, sender, max_resends=3)
    [(sent_job, idx, task_id)] = sender.sent
    assert (sent_job, idx) == (job_id, 2)
    assert task_id != "orphan"
    # Adopted once: the resent lease is not adopted over again.
    assert adopt_unleased(leases, [message], lease_seconds=60, grace=10) == []


def test_a_message_adopted_early_keeps_its_lease_when_its_worker_starts_it(
        store: JobStore) -> None:
    job_id = _batch(store, chunks=3)
    store.start(job_id, stage="categorizing", model_version=1)
    leases = LeaseStore(store)
    adopt_unleased(leases, [_received(job_id, 0, ago=15)], lease_seconds=60, grace=10)

    # A live worker whose receipt lease failed starts the message: the lease is its own.
    assert leases.acquire(job_id=job_id, idx=0, task_id="orphan", worker="w1", pid=7, seconds=60)
    sender = LeaseSender()
    sweep_leases(leases, sender, max_resends=3)
    assert sender.sent == []


def test_leased_stored_or_ended_work_is_not_adopted(store: JobStore) -> None:
    job_id = _batch(store, chunks=3)
    store.start(job_id, stage="categorizing", model_version=1)
    leases = LeaseStore(store)
    assert leases.acquire(job_id=job_id, idx=0, task_id="holder", worker="w1", pid=1,
                          seconds=60)
    BatchStore(store).put_result(job_id, 1, [("Plomería", 0.9, None)])
    ended = _batch(store, chunks=1)
    store.cancel(ended)

    adopted = adopt_unleased(leases, [_received(job_id, 0, ago=90), _received(job_id, 1, ago=90),
                                      _received(ended, 0, ago=90)], lease_seconds=60, grace=10)

    assert adopted == []
    held = leases.get(job_id, 0)
    assert held is not None
    assert held.task_id == "holder"
    assert leases.get(job_id, 1) is None
    assert leases.get(ended, 0) is None


def test_a_job_s_own_message_received_and_never_started_is_leased_if_it_is_the_current_one(
        store: JobStore) -> None:
    """A training (or a batch's fan-out) leases when it starts, seconds after its delivery on
    a fresh process: lost in between, its current message is adopted; a superseded one never."""
    job, _ = store.create_job(kind="training", params={})
    store.set_task_id(job.id, "current")
    leases = LeaseStore(store)

    assert adopt_unleased(leases, [_received(job.id, WHOLE_JOB, ago=30, task_id="old")],
                          lease_seconds=60, grace=10) == []
    assert adopt_unleased(leases, [_received(job.id, WHOLE_JOB, ago=30, task_id="current")],
                          lease_seconds=60, grace=10) == [f"{job.id}/{WHOLE_JOB}"]
    lease = leases.get(job.id, WHOLE_JOB)
    assert lease is not None
    assert lease.task_id == "current"


def test_a_retry_waiting_for_its_eta_is_adopted_only_once_it_is_due(store: JobStore) -> None:
    job_id = _batch(store, chunks=1)
    store.start(job_id, stage="categorizing", model_version=1)
    leases = LeaseStore(store)
    now = dt.datetime.now(dt.UTC)
    eta = now + dt.timedelta(seconds=20)
    retry = Unacked(task_id="retry", job_id=job_id, idx=0,
                    delivered_at=now - dt.timedelta(seconds=90), eta=eta)

    assert adopt_unleased(leases, [retry], lease_seconds=60, grace=10, now=now) == []
    later = now + dt.timedelta(seconds=31)
    assert adopt_unleased(leases, [retry], lease_seconds=60, grace=10, now=later) == [
        f"{job_id}/0"]
    lease = leases.get(job_id, 0)
    assert lease is not None
    assert lease.expires_at == eta + dt.timedelta(seconds=60)
