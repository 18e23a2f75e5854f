"""Enqueue tasks by name with plain arguments; the API never imports task functions."""

from __future__ import annotations

import logging
from typing import Any, Protocol

from core.errors import QueueUnavailable

__all__ = ["JobQueue", "QueueUnavailable", "TaskQueue"]

logger = logging.getLogger(__name__)


class JobQueue(Protocol):
    """What the API asks of the broker; TaskQueue over Celery is the one implementation."""

    def enqueue(self, task_name: str, *args: Any, task_id: str | None = None) -> str: ...

    def revoke(self, task_id: str, *, terminate: bool = False) -> None: ...

    def ping(self) -> None: ...


class TaskQueue:
    """A thin sender over the Celery app that the workers are built from."""

    def __init__(self, celery_app: Any) -> None:
        self.app = celery_app

    def enqueue(self, task_name: str, *args: Any, task_id: str | None = None) -> str:
        try:
            # ignore_result: job state lives in the job store. Without it, Celery subscribes
            # this process to each task's result channel on the Redis result backend: a
            # subscription per task sent, never read, kept for the process's life, and behind
            # one lock that every send waits on while Redis is down (its reconnect retries
            # for 5 s and then fetches every channel subscribed so far).
            result = self.app.send_task(
                task_name, args=list(args), task_id=task_id, ignore_result=True,
                retry=True, retry_policy={"max_retries": 2, "interval_start": 0.2,
                                          "interval_step": 0.3, "interval_max": 1.0},
            )
        except Exception as exc:  # kombu raises several kinds for an unreachable broker
            logger.error("could not enqueue %s: %s", task_name, exc)
            raise QueueUnavailable("the job queue is unavailable; try again shortly") from exc
        return str(result.id)

    def revoke(self, task_id: str, *, terminate: bool = False) -> None:
        try:
            self.app.control.revoke(task_id, terminate=terminate, signal="SIGTERM")
        except Exception as exc:  # best effort: the job record already says cancelled
            logger.warning("could not broadcast revoke for %s: %s", task_id, exc)

    def ping(self) -> None:
        try:
            with self.app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, timeout=2)
        except Exception as exc:
            raise QueueUnavailable(f"broker unreachable: {exc.__class__.__name__}") from exc
