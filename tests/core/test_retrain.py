"""core.retrain: one training job when drift alerts or labels pile up; off by default."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest

from core import retrain
from core.config import Settings
from core.drift import Signal
from core.drift_monitor import DriftReport
from core.jobs import Job, JobStore

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
TRAINED = NOW - dt.timedelta(days=3)


def _report(state: str) -> DriftReport:
    value = 0.4 if state == "alert" else 0.01
    signals = {"confidence_psi": Signal(value, state, 0.1, 0.25),  # type: ignore[arg-type]
               "category_psi": Signal(0.02, "ok", 0.1, 0.25)}
    return DriftReport(model_version=1, state=state, signals=signals, window=None,
                       window_hours=24, reference_rows=300)


def _check(store: JobStore, settings: Settings, *, drift: str = "ok", labels: int = 0,
           now: dt.datetime = NOW, seen: list[dt.datetime] | None = None,
           queued: list[Job] | None = None) -> Job | None:
    def labels_since(since: dt.datetime) -> int:
        if seen is not None:
            seen.append(since)
        return labels

    return retrain.check_retrain(
        store=store, settings=settings, champion_version=1, champion_trained_at=TRAINED,
        drift=lambda: _report(drift), labels_since=labels_since,
        enqueue=(queued.append if queued is not None else lambda job: None), now=now)


def _settings(base: Settings, **changes: Any) -> Settings:
    return base.model_copy(update=changes)


def test_nothing_is_queued_by_default(app_settings: Settings, job_store: JobStore) -> None:
    assert not retrain.enabled(app_settings)
    assert _check(job_store, app_settings, drift="alert", labels=10_000) is None
    assert retrain._recent_training_jobs(job_store) == []


def test_a_drift_alert_queues_one_job_with_its_reason(app_settings: Settings,
                                                      job_store: JobStore) -> None:
    settings = _settings(app_settings, retrain_on_drift=True)
    queued: list[Job] = []

    job = _check(job_store, settings, drift="alert", queued=queued)

    assert job is not None
    assert queued == [job]
    assert job.kind == "training"
    assert job.params["trigger"] == "drift"
    assert "confidence_psi +0.400 (alert from 0.25)" in job.params["reason"]
    assert _check(job_store, settings, drift="alert") is None  # one at a time


def test_drift_short_of_alert_queues_nothing(app_settings: Settings,
                                             job_store: JobStore) -> None:
    settings = _settings(app_settings, retrain_on_drift=True)

    assert _check(job_store, settings, drift="warn") is None


def test_enough_labels_since_the_champion_queue_a_job(app_settings: Settings,
                                                      job_store: JobStore) -> None:
    settings = _settings(app_settings, retrain_after_labels=50)
    seen: list[dt.datetime] = []

    assert _check(job_store, settings, labels=49, seen=seen) is None
    job = _check(job_store, settings, labels=50, seen=seen)

    assert seen == [TRAINED, TRAINED]
    assert job is not None
    assert job.params["trigger"] == "labels"
    assert job.params["reason"].startswith("50 new labels since 2026-11-28T12:00:00+00:00")


def test_labels_count_from_the_last_automatic_job_and_jobs_stay_apart(
    app_settings: Settings, job_store: JobStore,
) -> None:
    settings = _settings(app_settings, retrain_after_labels=10,
                         retrain_min_interval_seconds=3600)
    first = _check(job_store, settings, labels=10)
    assert first is not None
    job_store.start(first.id)
    job_store.succeed(first.id, {}, model_version=2)  # trained, but not promoted
    seen: list[dt.datetime] = []

    assert _check(job_store, settings, labels=99, now=first.created_at + dt.timedelta(
        minutes=30), seen=seen) is None
    later = first.created_at + dt.timedelta(hours=2)
    again = _check(job_store, settings, labels=10, now=later, seen=seen)

    assert again is not None
    assert seen == [first.created_at]


def test_a_training_job_someone_else_queued_holds_the_trigger_back(
    app_settings: Settings, job_store: JobStore,
) -> None:
    job_store.create_job(kind="training", params={"data": "catalog.csv"})
    settings = _settings(app_settings, retrain_on_drift=True)

    assert _check(job_store, settings, drift="alert") is None


def test_the_job_trains_from_the_champions_own_upload(app_settings: Settings,
                                                      job_store: JobStore) -> None:
    manual, _ = job_store.create_job(kind="training",
                                     params={"upload": True, "filename": "store.csv"})
    job_store.put_upload(manual.id, b"name,category\nx,y\n")
    job_store.start(manual.id)
    job_store.succeed(manual.id, {}, model_version=1)
    settings = _settings(app_settings, retrain_on_drift=True)

    job = _check(job_store, settings, drift="alert")

    assert job is not None
    assert job.params["upload"] is True
    assert job.params["filename"] == "store.csv"
    assert job_store.get_upload(job.id) == b"name,category\nx,y\n"


def test_checks_running_at_once_queue_one_job(app_settings: Settings,
                                              job_store: JobStore) -> None:
    settings = _settings(app_settings, retrain_on_drift=True)
    results: list[Job | None] = []
    barrier = threading.Barrier(4)

    def run() -> None:
        barrier.wait()
        results.append(_check(job_store, settings, drift="alert"))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(job is not None for job in results) == 1
    assert len(retrain._recent_training_jobs(job_store)) == 1


@pytest.mark.parametrize("labels", [None, 0])
def test_no_labels_count_is_no_trigger(app_settings: Settings, labels: int | None) -> None:
    settings = _settings(app_settings, retrain_after_labels=1)

    assert retrain.find_trigger(settings=settings, drift=None, labels=labels,
                                since=None) is None


def test_without_a_training_job_behind_the_champion_the_configured_source_is_used(
    app_settings: Settings, job_store: JobStore,
) -> None:
    settings = _settings(app_settings, retrain_on_drift=True)

    job = _check(job_store, settings, drift="alert")

    assert job is not None
    assert job.params["data"].endswith("sample_catalog.csv")
    assert job.params["source"] is None
