"""Messages the broker lost: the API's sweeper sends the job again, or fails it with a reason.

Lost here means gone from Redis outright, as after a restart of a Redis that runs without its
append-only file (the shared Redis of `.ci/run` does): `FLUSHALL` on the module's own Redis
plays it. The stack's API sweeps every second and counts a job silent for 25 s as lost
(`JOB_STALE_SECONDS`; it must exceed the stack's 10 s `TRAINING_TIME_LIMIT`, and a worker
process's first task must show a sign of life within it: on this 2-core machine, loaded by the
other fault modules, a fresh pool process once spent 11.6 s setting up, the job store and then
MLflow's, before its first batch started), and gives up after one resend (`JOB_MAX_RESENDS=1`).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.fixtures.faults import FaultStack, batch_names
from tests.fixtures.services import ServiceProcess

pytestmark = pytest.mark.integration

FAULT_ENV = {"BATCH_CHUNK_SIZE": "2000", "JOB_STALE_SECONDS": "25", "SWEEP_SECONDS": "1",
             "JOB_MAX_RESENDS": "1"}


def _lose_every_message(stack: FaultStack) -> None:
    assert stack.redis_server is not None
    with stack.redis_server.client() as client:
        assert client.llen("inference") >= 1  # the job's message was queued...
        client.flushall()  # ...and is gone
        assert client.llen("inference") == 0


def test_a_batch_whose_messages_were_lost_is_sent_again_and_completes(
    fault_stack: FaultStack, fault_workers: Callable[..., ServiceProcess]
) -> None:
    """Guarantee: a batch accepted (202) whose message the broker then lost is not stuck
    `queued` forever: once silent for JOB_STALE_SECONDS the API sends it again, and a worker
    completes it, every row exactly once."""
    stack = fault_stack
    names = batch_names(5_000)
    job_id = stack.submit_batch(names)
    _lose_every_message(stack)
    fault_workers()

    job = stack.wait_for_end(job_id, timeout=90)

    assert job.state == "succeeded", job.error
    assert job.resends == 1
    stack.assert_every_row_once(job_id, names)


def test_a_job_no_worker_ever_takes_is_failed_with_the_reason(fault_stack: FaultStack) -> None:
    """Guarantee: with no worker consuming, a job is not left `queued` forever either: after
    JOB_MAX_RESENDS sends it ends `failed`, and the client reads why."""
    stack = fault_stack
    job_id = stack.submit_batch(batch_names(10))

    job = stack.wait_for_end(job_id, timeout=90)

    assert job.state == "failed"
    assert job.resends == 1
    with stack.client() as client:
        served = client.get(f"/v1/jobs/{job_id}").json()
    assert served["state"] == "failed"
    assert served["error"] == (
        "lost: no worker reported on this job for 25 s after it was sent again once; "
        "are workers consuming its queue? Submit it again")
    assert stack.redis_server is not None
    with stack.redis_server.client() as client:
        client.flushall()  # the resent message no worker took
