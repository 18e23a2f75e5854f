"""worker.metrics: task outcomes counted by task name from Celery's signals."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import REGISTRY

from worker import metrics as worker_metrics


@dataclass
class _Task:
    name: str


def _value(name: str, task: str) -> float:
    return REGISTRY.get_sample_value(name, {"task": task}) or 0.0


def test_retries_and_failures_are_counted_by_task_name() -> None:
    retries = _value("categorizer_task_retries_total", "batch.chunk")
    failures = _value("categorizer_task_failures_total", "batch.chunk")

    worker_metrics.task_retried(sender=_Task("batch.chunk"))
    worker_metrics.task_failed(sender=_Task("batch.chunk"))

    assert _value("categorizer_task_retries_total", "batch.chunk") == retries + 1
    assert _value("categorizer_task_failures_total", "batch.chunk") == failures + 1


def test_a_task_run_is_timed_from_prerun_to_postrun() -> None:
    before = _value("categorizer_task_duration_seconds_count", "training.run")

    worker_metrics.task_started(task_id="t-1")
    worker_metrics.task_ended(task_id="t-1", task=_Task("training.run"))
    worker_metrics.task_ended(task_id="never-started", task=_Task("training.run"))

    assert _value("categorizer_task_duration_seconds_count", "training.run") == before + 1
