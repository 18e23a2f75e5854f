"""Worker metrics: one exporter per worker node, summing its pool processes.

A Celery worker node is a main process and a pool of forked children that run the tasks (and
are replaced every `worker_max_tasks_per_child` tasks). A child cannot keep a port of its own,
so with WORKER_METRICS_PORT set the main process switches prometheus-client to its multiprocess
mode before the pool forks (the children write their samples to files in a directory of this
node) and serves the sums of all of them on that port. Each node (each container, each
`make run` worker) is one scrape target, so Prometheus sees every replica on every host.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from celery import signals

from core import metrics
from core.config import get_settings

logger = logging.getLogger(__name__)

_started: dict[str, float] = {}  # task id -> when it started, in the child running it
_node: dict[str, Path] = {}


@signals.worker_init.connect(dispatch_uid="categorizer-metrics-init")
def start_exporter(**_: Any) -> None:
    """Serve /metrics for this node when WORKER_METRICS_PORT is set (main process, pre-fork)."""
    settings = get_settings()
    metrics.set_enabled(settings.metrics_enabled)
    metrics.configure_categories(settings.metrics_max_categories, settings.category_separator)
    port = settings.worker_metrics_port
    if port is None or not settings.metrics_enabled:
        return
    from prometheus_client import start_http_server

    directory = Path(tempfile.mkdtemp(prefix="categorizer-metrics-"))
    metrics.configure_multiprocess(directory)
    try:
        start_http_server(port, addr=settings.worker_metrics_host,
                          registry=metrics.multiprocess_registry(directory))
    except OSError as exc:  # a taken port costs the metrics, not the worker
        logger.error("worker metrics: cannot listen on %s:%d (%s); this node exports nothing",
                     settings.worker_metrics_host, port, exc)
        return
    _node["dir"] = directory
    logger.info("worker metrics on http://%s:%d/metrics", settings.worker_metrics_host, port)


@signals.worker_shutdown.connect(dispatch_uid="categorizer-metrics-shutdown")
def remove_samples(**_: Any) -> None:
    directory = _node.pop("dir", None)
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)


@signals.worker_process_shutdown.connect(dispatch_uid="categorizer-metrics-child-exit")
def child_exited(**_: Any) -> None:
    metrics.mark_process_dead(os.getpid())


@signals.task_prerun.connect(dispatch_uid="categorizer-metrics-prerun")
def task_started(task_id: str | None = None, **_: Any) -> None:
    if task_id is not None:
        _started[task_id] = time.perf_counter()


@signals.task_postrun.connect(dispatch_uid="categorizer-metrics-postrun")
def task_ended(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    started = _started.pop(task_id, None) if task_id is not None else None
    if started is not None and task is not None and metrics.enabled():
        metrics.get_metrics().task_duration.labels(task=task.name).observe(
            time.perf_counter() - started)


@signals.task_failure.connect(dispatch_uid="categorizer-metrics-failure")
def task_failed(sender: Any = None, **_: Any) -> None:
    if sender is not None and metrics.enabled():
        metrics.get_metrics().task_failures.labels(task=sender.name).inc()


@signals.task_retry.connect(dispatch_uid="categorizer-metrics-retry")
def task_retried(sender: Any = None, **_: Any) -> None:
    if sender is not None and metrics.enabled():
        metrics.get_metrics().task_retries.labels(task=sender.name).inc()
