"""The Celery app, built from settings in one place, for workers and for the API's enqueuing."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from celery import Celery

from core.config import Settings, get_settings
from worker.names import (
    BATCH_CHUNK_TASK,
    BATCH_START_TASK,
    INFERENCE_QUEUE,
    TASK_QUEUES,
    TRAINING_TASK,
)

TASK_ROUTES = {name: {"queue": queue} for name, queue in TASK_QUEUES.items()}


def broker_settings(settings: Settings) -> dict[str, Any]:
    """Broker and result backend: Redis when REDIS_URL is set, else an embedded broker.

    The embedded broker is kombu's filesystem transport (real worker processes, no server);
    its results go to SQLite under DATA_DIR.
    """
    if settings.redis_url:
        return {
            "broker_url": settings.redis_url,
            "result_backend": settings.redis_url,
            # A message is redelivered only after this long unacknowledged: it must outlast the
            # longest task, or a running training job would be handed to a second worker.
            "broker_transport_options": {
                "visibility_timeout": settings.training_time_limit * 2,
                "socket_connect_timeout": 3,
                # Look for expired unacked messages every tick, not every 10th: a worker killed
                # outright gets its chunks back one visibility timeout later, not ~100 s more.
                "unacked_restore_throttle": 1,
            },
            "result_backend_transport_options": {"retry_policy": {"timeout": 5.0}},
        }
    folder = settings.broker_dir
    for sub in ("out", "processed", "control"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return {
        "broker_url": "filesystem://",
        "broker_transport_options": {
            "data_folder_in": str(folder / "out"),
            "data_folder_out": str(folder / "out"),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
        },
        "result_backend": f"db+sqlite:///{(settings.data_dir / 'celery-results.db').resolve()}",
    }


def create_celery_app(settings: Settings) -> Celery:
    app = Celery("categorizer", include=["worker.tasks", "worker.metrics", "worker.receipt",
                                           "worker.warmup"])
    app.conf.update(
        **broker_settings(settings),
        task_routes=TASK_ROUTES,
        task_default_queue=INFERENCE_QUEUE,
        task_serializer="json",
        accept_content=["json"],
        # Ack after the task ran, and hand the message back if the worker dies mid-task:
        # a killed worker loses no job. Tasks are written to be safe to run twice.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_time_limit=settings.training_time_limit,
        task_soft_time_limit=settings.training_time_limit - 5,
        # Annotations match exact task names (or "*"), never globs.
        task_annotations={
            TRAINING_TASK: {"max_retries": settings.task_max_retries},
            **{name: {"time_limit": settings.batch_chunk_time_limit,
                      "soft_time_limit": settings.batch_chunk_time_limit - 5,
                      "max_retries": settings.task_max_retries}
               for name in (BATCH_START_TASK, BATCH_CHUNK_TASK)},
        },
        task_ignore_result=True,  # job state lives in the job store, not in results
        result_expires=settings.result_expires,
        broker_connection_retry_on_startup=True,
        worker_send_task_events=False,
        worker_hijack_root_logger=False,
        # A worker that processed a few thousand tasks restarts its child: bounded memory.
        worker_max_tasks_per_child=2000,
    )
    return app


@lru_cache
def get_celery_app() -> Celery:
    return create_celery_app(get_settings())
