"""core.monitoring: the store-wide figures /metrics reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import Settings
from core.jobs import JobStore
from core.monitoring import embedded_queue_depths, job_counts, read_stores


def test_the_embedded_broker_counts_message_files_per_queue(tmp_path: Path) -> None:
    for i, queue in enumerate(["inference", "inference", "training", "celery.pidbox"]):
        (tmp_path / f"{1000 + i}_abc{i}.{queue}.msg").write_text("{}")
    (tmp_path / "unrelated.txt").write_text("")

    assert embedded_queue_depths(tmp_path, ["inference", "training"]) == {
        "inference": 2, "training": 1}


def test_a_missing_broker_folder_means_empty_queues(tmp_path: Path) -> None:
    assert embedded_queue_depths(tmp_path / "none", ["inference"]) == {"inference": 0}


def test_jobs_are_counted_by_kind_and_state(job_store: JobStore) -> None:
    first, _ = job_store.create_job(kind="training", params={})
    job_store.create_job(kind="training", params={})
    job_store.start(first.id)

    assert job_counts(job_store) == {("training", "queued"): 1, ("training", "running"): 1}


def test_a_store_that_fails_leaves_only_its_figures_out(
    app_settings: Settings, job_store: JobStore, caplog: pytest.LogCaptureFixture,
) -> None:
    def broken() -> tuple[int, float]:
        raise ConnectionError("MLflow unreachable")

    reading = read_stores(settings=app_settings, store=job_store,
                          queues=["inference"], champion=broken)

    assert reading.champion_version is None
    assert reading.queues == {"inference": 0}
    assert reading.read_at > 0
    assert "could not read the champion" in caplog.text
