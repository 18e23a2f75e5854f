"""Enqueue tasks by name with plain arguments; the API never imports task functions."""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Protocol

from core.db import as_utc
from core.errors import QueueUnavailable

__all__ = ["HeldMessage", "JobQueue", "QueueUnavailable", "TaskQueue"]

logger = logging.getLogger(__name__)


class JobQueue(Protocol):
    """What the API asks of the broker; TaskQueue over Celery is the one implementation."""

    def enqueue(self, task_name: str, *args: Any, task_id: str | None = None) -> str: ...

    def revoke(self, task_id: str, *, terminate: bool = False) -> None: ...

    def ping(self) -> None: ...

    def unacked(self, task_names: Collection[str], *,
                older_than: float) -> list[HeldMessage]: ...


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

    def unacked(self, task_names: Collection[str], *, older_than: float) -> list[HeldMessage]:
        """The messages of `task_names` the broker handed to workers more than `older_than`
        seconds ago and holds unacknowledged (core.sweeper.adopt_unleased). Read from the Redis
        transport's unacked set; other brokers have none to read, and give an empty list."""
        try:
            with self.app.connection_for_read() as connection:
                connection.ensure_connection(max_retries=1, timeout=2)
                channel = connection.default_channel
                index_key = getattr(channel, "unacked_index_key", None)
                if index_key is None:
                    return []
                return read_unacked(channel.client, unacked_key=channel.unacked_key,
                                    index_key=index_key, task_names=task_names,
                                    before=time.time() - older_than)
        except Exception as exc:
            raise QueueUnavailable(f"broker unreachable: {exc.__class__.__name__}") from exc


@dataclass(frozen=True)
class HeldMessage:
    """A task message a worker received and has not acknowledged."""

    name: str
    task_id: str
    args: list[Any]
    delivered_at: dt.datetime
    eta: dt.datetime | None = None


def read_unacked(client: Any, *, unacked_key: str, index_key: str, task_names: Collection[str],
                 before: float) -> list[HeldMessage]:
    """Kombu's Redis transport keeps each unacknowledged message in a hash by delivery tag, as
    JSON [message, exchange, routing key], and its delivery time in a sorted set: the messages
    of `task_names` (Celery's message protocol 2: task, id and eta in the headers, the body
    [args, kwargs, embed]) delivered before `before`."""
    delivered = client.zrangebyscore(index_key, "-inf", before, withscores=True)
    if not delivered:
        return []
    raws = client.hmget(unacked_key, [tag for tag, _ in delivered])
    messages: list[HeldMessage] = []
    for (_, at), raw in zip(delivered, raws, strict=True):
        if raw is None:
            continue  # acknowledged meanwhile
        try:
            message = json.loads(raw)[0]
            headers = message["headers"]
            if headers.get("task") not in task_names:
                continue
            body = message["body"]
            if message.get("properties", {}).get("body_encoding") == "base64":
                body = base64.b64decode(body)
            eta = headers.get("eta")
            messages.append(HeldMessage(
                name=headers["task"], task_id=str(headers["id"]), args=list(json.loads(body)[0]),
                delivered_at=dt.datetime.fromtimestamp(at, dt.UTC),
                eta=as_utc(dt.datetime.fromisoformat(eta)) if eta else None))
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            logger.debug("skipped an unacknowledged message that is not a task's: %s", exc)
    return messages
