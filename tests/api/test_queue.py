"""TaskQueue: enqueue by name with plain arguments; an unreachable broker is QueueUnavailable."""

from __future__ import annotations

import base64
import contextlib
import json
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import fakeredis
import pytest
from kombu.exceptions import OperationalError

from api.queue import QueueUnavailable, TaskQueue, read_unacked


class FakeCelery:
    """Just what TaskQueue touches of a Celery app."""

    def __init__(self, *, broker_up: bool = True) -> None:
        self.broker_up = broker_up
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.revoked: list[tuple[str, dict[str, Any]]] = []
        self.control = SimpleNamespace(revoke=self._revoke)

    def send_task(self, name: str, **options: Any) -> Any:
        if not self.broker_up:
            raise OperationalError("[Errno 111] Connection refused")
        self.sent.append((name, options))
        return SimpleNamespace(id="celery-task-id")

    def _revoke(self, task_id: str, **options: Any) -> None:
        if not self.broker_up:
            raise OperationalError("[Errno 111] Connection refused")
        self.revoked.append((task_id, options))

    @contextlib.contextmanager
    def connection_for_write(self) -> Iterator[Any]:
        def ensure_connection(**_: Any) -> None:
            if not self.broker_up:
                raise OperationalError("[Errno 111] Connection refused")

        yield SimpleNamespace(ensure_connection=ensure_connection)


def test_enqueue_sends_the_task_by_name_with_plain_arguments() -> None:
    app = FakeCelery()

    task_id = TaskQueue(app).enqueue("training.run", "job-1")

    assert task_id == "celery-task-id"
    [(name, options)] = app.sent
    assert name == "training.run"
    assert options["args"] == ["job-1"]
    assert "queue" not in options  # the app's task_routes choose the queue


def test_an_unreachable_broker_is_queue_unavailable() -> None:
    with pytest.raises(QueueUnavailable, match="the job queue is unavailable"):
        TaskQueue(FakeCelery(broker_up=False)).enqueue("batch.start", "job-1")


def test_ping_reports_an_unreachable_broker() -> None:
    TaskQueue(FakeCelery()).ping()
    with pytest.raises(QueueUnavailable, match="broker unreachable: OperationalError"):
        TaskQueue(FakeCelery(broker_up=False)).ping()


def test_revoke_terminates_and_is_best_effort() -> None:
    app = FakeCelery()
    TaskQueue(app).revoke("t-1", terminate=True)
    assert app.revoked == [("t-1", {"terminate": True, "signal": "SIGTERM"})]

    TaskQueue(FakeCelery(broker_up=False)).revoke("t-2")  # logged, not raised


def test_enqueue_never_subscribes_to_the_task_s_result() -> None:
    """The result backend is never met on sending: job state lives in the job store. (Celery
    subscribes the sender to each task's result channel unless told to ignore the result: one
    subscription more per task sent, and while Redis is down every send waited seconds on
    that subscription's reconnects.)"""
    from celery import Celery

    app = Celery("sender", broker="memory://",
                 backend="redis://127.0.0.1:9/0",  # nothing listens there: it must not matter
                 result_backend_transport_options={"retry_policy": {"timeout": 5.0}})
    app.conf.task_ignore_result = True  # as worker.celery_app sets it; send_task ignores it

    task_id = TaskQueue(app).enqueue("shadow.score", "job-1")

    assert task_id
    assert app.backend.result_consumer._pubsub is None  # never started
    assert app.backend.result_consumer.subscribed_to == set()


@pytest.mark.integration
def test_the_chunk_messages_a_worker_received_and_never_acknowledged_are_read_back(
        redis_url: str) -> None:
    """On the real Redis broker: a consumer takes two messages and dies without acknowledging
    them (late acks). Each is listed by the names asked for, once older than asked, with its
    arguments and delivery time; an acknowledged one is gone."""
    import uuid

    from core.config import Settings
    from worker.celery_app import create_celery_app
    from worker.names import BATCH_CHUNK_TASK, BATCH_START_TASK

    app = create_celery_app(Settings(_env_file=None, redis_url=redis_url))
    queue_name = f"unacked-{uuid.uuid4().hex[:8]}"  # no worker of another test consumes it
    app.conf.task_routes = {BATCH_CHUNK_TASK: {"queue": queue_name},
                            BATCH_START_TASK: {"queue": queue_name}}
    queue = TaskQueue(app)
    with app.connection_for_read() as connection:
        consumer = connection.SimpleQueue(queue_name, no_ack=False)
        before = time.time()
        chunk_task = queue.enqueue(BATCH_CHUNK_TASK, "job-7", 3)
        queue.enqueue(BATCH_START_TASK, "job-7")
        retry = app.send_task(BATCH_CHUNK_TASK, args=["job-8", 4], countdown=30,
                              ignore_result=True).id  # as a task's retry is sent
        taken = [consumer.get(timeout=5) for _ in range(3)]
        try:
            listed = [m for m in queue.unacked({BATCH_CHUNK_TASK}, older_than=0)
                      if m.args[0] == "job-7"]
            assert [(m.name, m.task_id, m.args, m.eta) for m in listed] == [
                (BATCH_CHUNK_TASK, chunk_task, ["job-7", 3], None)]
            assert before - 1 <= listed[0].delivered_at.timestamp() <= time.time()
            both = {m.name for m in queue.unacked({BATCH_CHUNK_TASK, BATCH_START_TASK},
                                                  older_than=0) if m.args[0] == "job-7"}
            assert both == {BATCH_CHUNK_TASK, BATCH_START_TASK}
            [waiting] = [m for m in queue.unacked({BATCH_CHUNK_TASK}, older_than=0)
                         if m.args[0] == "job-8"]
            assert waiting.task_id == retry
            assert waiting.eta is not None
            assert 25 <= (waiting.eta - waiting.delivered_at).total_seconds() <= 35
            # Received a moment ago: not listed when asked for older ones.
            assert not [m for m in queue.unacked({BATCH_CHUNK_TASK}, older_than=60)
                        if m.args[0] == "job-7"]
        finally:
            for message in taken:
                message.ack()
            consumer.close()
    assert not [m for m in queue.unacked({BATCH_CHUNK_TASK}, older_than=0)
                if m.args[0] in ("job-7", "job-8")]


def test_a_broker_without_an_unacked_set_lists_none_and_a_down_one_is_unavailable() -> None:
    from celery import Celery

    assert TaskQueue(Celery("memory", broker="memory://")).unacked({"batch.chunk"},
                                                                   older_than=0) == []
    down = Celery("down", broker="redis://127.0.0.1:9/0")  # nothing listens there
    with pytest.raises(QueueUnavailable, match="broker unreachable"):
        TaskQueue(down).unacked({"batch.chunk"}, older_than=0)


def test_what_is_not_a_task_message_in_the_unacked_set_is_skipped() -> None:
    """Another client's message, a malformed one, and one acknowledged between the two reads
    are skipped; a task message with a plain (not base64) body is read."""
    client = fakeredis.FakeRedis()

    def hold(tag: str, message: object, at: float) -> None:
        client.hset("unacked", tag, json.dumps([message, "inference", "inference"]))
        client.zadd("unacked_index", {tag: at})

    body = base64.b64encode(json.dumps([["job-1", 2], {}, {}]).encode()).decode()
    hold("1", {"headers": {"task": "batch.chunk", "id": "t1"}, "body": body,
               "properties": {"body_encoding": "base64"}}, 100.0)
    hold("2", {"headers": {"task": "batch.chunk", "id": "t2"},
               "body": json.dumps([["job-1", 3], {}, {}]), "properties": {}}, 100.0)
    hold("3", {"body": "not a task"}, 100.0)
    hold("4", {"headers": {"task": "batch.chunk", "id": "t4"}, "body": "{", "properties": {}},
         100.0)
    client.zadd("unacked_index", {"5": 100.0})  # acknowledged: gone from the hash already
    hold("6", {"headers": {"task": "batch.chunk", "id": "t6"}, "body": body,
               "properties": {"body_encoding": "base64"}}, 500.0)  # delivered too recently

    held = read_unacked(client, unacked_key="unacked", index_key="unacked_index",
                        task_names={"batch.chunk"}, before=200.0)

    assert [(m.task_id, m.args) for m in held] == [("t1", ["job-1", 2]), ("t2", ["job-1", 3])]
