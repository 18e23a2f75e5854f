"""The app's background loops: the job sweeper each API process runs (core/sweeper.py)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

import api.main
from api.deps import AppState
from api.queue import HeldMessage
from core.batch_store import BatchStore, InputRow
from core.db import jobs_table
from core.jobs import JobStore
from core.leases import LeaseStore
from tests.fixtures.app import ADMIN, FakeQueue


def _silence(store: JobStore, job_id: str) -> None:
    with store.engine.begin() as connection:
        connection.execute(jobs_table.update().where(jobs_table.c.id == job_id)
                           .values(updated_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)))


def _wait_for(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@pytest.fixture
def sweeping(app_state: AppState) -> AppState:
    """The app's state with a sweep every 50 ms and jobs stale after 11 s."""
    app_state.settings = app_state.settings.model_copy(update={
        "sweep_seconds": 0.05, "job_stale_seconds": 11, "training_time_limit": 10})
    return app_state


def test_the_api_sends_a_silent_job_again_with_its_kind_s_task(
    sweeping: AppState, fake_queue: FakeQueue, make_client: Callable[[], TestClient],
) -> None:
    store = sweeping.store
    training, _ = store.create_job(kind="training", params={})
    batch, _ = BatchStore(store).create_batch([[InputRow(id="1", name="tubo pvc")]])
    fresh, _ = store.create_job(kind="training", params={})
    for job in (training, batch):
        _silence(store, job.id)

    make_client()
    _wait_for(lambda: len(fake_queue.sent) >= 2, "the sweep")

    assert sorted(fake_queue.sent) == sorted([("training.run", [training.id]),
                                               ("batch.start", [batch.id])])
    for (_, [job_id]), task_id in zip(fake_queue.sent, fake_queue.task_ids, strict=True):
        job = store.get(job_id)
        assert (job.task_id, job.resends) == (task_id, 1)
    assert store.get(fresh.id).resends == 0


def test_a_failed_sweep_does_not_stop_the_next_ones(
    sweeping: AppState, make_client: Callable[[], TestClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []

    def flaky_sweep(*args: Any, **kwargs: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("job database unavailable")

    monkeypatch.setattr(api.main, "sweep", flaky_sweep)
    make_client()
    _wait_for(lambda: len(calls) >= 3, "three sweeps")


def test_the_sweep_queues_a_retrain_when_drift_alerts_and_the_job_says_why(
    app_state: AppState, fake_queue: FakeQueue, fake_registry: Any, app_pipeline: Any,
    make_client: Callable[[], TestClient],
) -> None:
    from core.drift import reference_profile

    names = ["tubo pvc hidraulico 1/2", "taladro percutor 650w", "foco led 9w luz calida"]
    fake_registry.references[1] = reference_profile(app_pipeline, names * 40).as_dict()
    app_state.settings.retrain_on_drift = True
    app_state.settings.drift_min_rows = 20
    client = make_client()
    assert api.main.retrain_if_it_pays(app_state) is None  # no live rows: no_data, no alert
    strange = [f"zzq{i} wwk{i}" for i in range(40)]
    client.post("/v1/categorizer/inference", json={"product_list": strange})
    api.main.flush_drift(app_state)

    job = api.main.retrain_if_it_pays(app_state)

    assert job is not None
    assert ("training.run", [job.id]) in fake_queue.sent
    public = client.get(f"/v1/jobs/{job.id}", headers=ADMIN).json()
    assert public["reason"].startswith("drift alert on model v1:")
    assert api.main.retrain_if_it_pays(app_state) is None  # it is queued: not a second one


def test_the_retrain_check_is_off_by_default(app_state: AppState, fake_queue: FakeQueue) -> None:
    assert api.main.retrain_if_it_pays(app_state) is None
    assert fake_queue.sent == []


def test_the_lease_sweep_sends_again_the_messages_a_lost_worker_never_leased(
    app_state: AppState, fake_queue: FakeQueue,
) -> None:
    """Received by a worker that died before it leased them: the broker still holds them
    unacknowledged; a lease's time after they were due they are sent again, not after 2 h: a
    chunk, and a job's own task (here a batch's fan-out), under new task ids."""
    store = app_state.store
    batch, _ = BatchStore(store).create_batch(
        [[InputRow(id=str(c), name=f"tubo {c}")] for c in range(2)])
    store.start(batch.id, stage="categorizing", model_version=1)
    queued, _ = BatchStore(store).create_batch([[InputRow(id="1", name="tubo pvc")]])
    store.set_task_id(queued.id, "start-1")
    now = dt.datetime.now(dt.UTC)
    long_ago = now - dt.timedelta(seconds=app_state.settings.lease_seconds + 5)
    fake_queue.held = [
        HeldMessage("batch.chunk", "orphan", [batch.id, 1], long_ago),
        # a moment ago: its worker is leasing it right now
        HeldMessage("batch.chunk", "just-received", [batch.id, 0], now - dt.timedelta(seconds=1)),
        # a retry waiting for its eta in a live worker
        HeldMessage("batch.chunk", "retrying", [batch.id, 0], long_ago,
                    eta=now + dt.timedelta(seconds=30)),
        HeldMessage("batch.start", "start-1", [queued.id], long_ago),
        # the same job's superseded message: the job's task id is another one
        HeldMessage("batch.start", "start-0", [queued.id], long_ago),
        HeldMessage("shadow.score", "not-leased-work", [1, 2], long_ago),
    ]

    report = api.main.sweep_expired_leases(app_state)

    assert sorted(report.resent) == sorted([f"{batch.id}/1", f"{queued.id}/-1"])
    assert sorted(fake_queue.sent) == sorted([("batch.chunk", [batch.id, 1]),
                                              ("batch.start", [queued.id])])
    assert not {"orphan", "start-1", None} & set(fake_queue.task_ids)
    assert LeaseStore(store).get(batch.id, 0) is None
    # The job's task id is the resent one: a late copy of the old message is dropped.
    assert store.get(queued.id).task_id in fake_queue.task_ids


def test_a_broker_it_cannot_read_does_not_stop_the_lease_sweep(
    app_state: AppState, fake_queue: FakeQueue,
) -> None:
    store = app_state.store
    batch, _ = BatchStore(store).create_batch([[InputRow(id="1", name="tubo pvc")]])
    store.start(batch.id, stage="categorizing", model_version=1)
    leases = LeaseStore(store)
    leases.acquire(job_id=batch.id, idx=0, task_id="first", worker="w1", pid=1, seconds=-1)
    fake_queue.down = True

    report = api.main.sweep_expired_leases(app_state)

    assert report.resent == []  # the resend itself failed on the broker, and is kept for later
    lease = leases.get(batch.id, 0)
    assert lease is not None
    assert (lease.task_id, lease.resends) == ("first", 0)
    fake_queue.down = False
    assert api.main.sweep_expired_leases(app_state).resent == [f"{batch.id}/0"]
