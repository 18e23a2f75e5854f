"""Redis restarted under the service: queued jobs kept, running jobs finished, readiness honest.

The Redis here is the module's own `redis-server --appendonly yes --appendfsync always`
(tests/fixtures/faults.py), stopped with SIGTERM and started again on the same directory, so it
reloads its append-only file. The shared Redis of `.ci/run` runs without persistence: with it,
a restart loses every queued message (RELIABILITY.md says which settings production needs).
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.fixtures.faults import FaultStack, batch_names, ready
from tests.fixtures.services import ServiceProcess, wait_until

pytestmark = pytest.mark.integration

FAULT_ENV = {"BATCH_CHUNK_SIZE": "2000"}


def test_queued_jobs_survive_a_redis_restart(
    fault_stack: FaultStack, fault_workers: Callable[..., ServiceProcess]
) -> None:
    """Guarantee: jobs accepted (202) while no worker consumes are not lost when Redis restarts
    (AOF with appendfsync always): their messages are still queued afterwards, and a worker
    started then completes every one, every row exactly once."""
    stack = fault_stack
    assert stack.redis_server is not None
    names = batch_names(3_000)
    job_ids = [stack.submit_batch(names) for _ in range(3)]
    with stack.redis_server.client() as client:
        queued = client.llen("inference")
    assert queued >= 3

    stack.redis_server.restart()

    with stack.redis_server.client() as client:
        assert client.llen("inference") == queued
    fault_workers()
    for job_id in job_ids:
        job = stack.wait_for_end(job_id, timeout=90)
        assert job.state == "succeeded", job.error
        stack.assert_every_row_once(job_id, names)


def test_the_api_is_not_ready_while_redis_is_down_and_recovers_by_itself(
    fault_stack: FaultStack,
) -> None:
    """Guarantee: while Redis is down /ready answers 503 naming the broker, and a batch
    submission answers 503 (never 500, never a 202 for a job no worker will see; the job it
    recorded is failed with the reason). When Redis is back, /ready is 200 again and
    submissions are accepted, with no process restarted."""
    stack = fault_stack
    assert stack.redis_server is not None
    wait_until(lambda: ready(stack)[0] == 200, timeout=30, what="the API to be ready")

    before = set(stack.stored_job_ids())
    stack.redis_server.stop()
    status, body = ready(stack)
    assert status == 503
    assert body["checks"]["broker"].startswith("unavailable")
    assert body["checks"]["database"] == "ok"
    with stack.client() as client:
        refused = client.post("/v1/batch-jobs", json={"items": [{"name": "taladro"}]})
        inference = client.post("/v1/categorizer/inference", json={"product_list": ["taladro"]})
    assert refused.status_code == 503, refused.text
    assert refused.headers.get("retry-after")
    assert inference.status_code == 200  # the cached champion needs no broker
    during = [stack.job(job_id) for job_id in set(stack.stored_job_ids()) - before]
    assert [(job.state, job.task_id) for job in during] == [("failed", None)]
    assert "queue was unavailable" in (during[0].error or "")

    stack.redis_server.start()
    wait_until(lambda: ready(stack)[0] == 200, timeout=30,
               what="/ready to recover once Redis is back")
    with stack.client() as client:
        accepted = client.post("/v1/batch-jobs", json={"items": [{"name": "taladro"}]})
    assert accepted.status_code == 202, accepted.text


def test_a_job_running_across_a_redis_restart_completes(
    fault_stack: FaultStack, fault_workers: Callable[..., ServiceProcess]
) -> None:
    """Guarantee: Redis restarted while a batch job runs: the worker reconnects by itself and the
    job completes with every row exactly once. Chunks whose acknowledgement was lost with the
    connection come back after the visibility timeout and are written once.

    Deadline: the visibility timeout, one restore sweep, and 30 s of work and slack.
    """
    stack = fault_stack
    assert stack.redis_server is not None
    worker = fault_workers()
    names = batch_names(30_000)
    job_id = stack.submit_batch(names)
    stack.wait_for_rows(job_id)

    stack.redis_server.stop()
    wait_until(lambda: "Connection to broker lost" in worker.log_text(), timeout=30,
               what="the worker to notice Redis is gone")
    assert not stack.job(job_id).terminal, "the job ended before Redis went down"
    stack.redis_server.start()

    job = stack.wait_for_end(job_id, timeout=stack.redelivery_deadline)
    assert job.state == "succeeded", job.error
    stack.assert_every_row_once(job_id, names)
    assert worker.alive()
    assert httpx.get(f"{stack.api_url}/ready", timeout=15).status_code == 200
