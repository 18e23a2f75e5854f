"""Workers lost in the middle of a batch job, and the same batch submitted twice.

Real processes: the API and `celery -A worker worker` over a private Redis and PostgreSQL
(tests/fixtures/faults.py). Chunks are 2,000 rows (a few tenths of a second of work each) so a
signal lands while one is being categorized.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.fixtures.faults import FaultStack, batch_names, kill, wait_gone
from tests.fixtures.services import ServiceProcess, wait_until

pytestmark = pytest.mark.integration

FAULT_ENV = {"BATCH_CHUNK_SIZE": "2000"}
ROWS = 16_000  # 8 chunks: a job lasts a few seconds on 2 pool processes



def kill_a_child_mid_chunk(stack: FaultStack, worker: ServiceProcess, job_id: str) -> int:
    """SIGKILL the pool process that is executing one of the job's chunks; return its pid.

    `inspect active` names the pool process running each task. A chunk can end between the
    reply and the signal; the worker's log says `WorkerLostError` only when the child died
    holding a task, so try again until it does.
    """
    for _ in range(10):
        running = [task for task in stack.active_tasks(worker)
                   if task["name"] == "batch.chunk" and job_id in str(task["args"])]
        if not running:
            continue
        pid = int(running[0]["worker_pid"])
        lost = worker.log_text().count("WorkerLostError") + 1
        kill(pid)
        wait_gone(pid)
        def reported(n: int = lost) -> bool:
            return worker.log_text().count("WorkerLostError") >= n

        try:
            wait_until(reported, timeout=5, what="the worker to report the task its child lost")
        except AssertionError:
            continue  # the child was between two chunks
        return pid
    raise AssertionError("never caught a pool process in the middle of a chunk")


def test_a_pool_process_killed_mid_chunk_loses_no_row_and_repeats_none(
    fault_stack: FaultStack, fault_workers: Callable[..., ServiceProcess]
) -> None:
    """Guarantee: SIGKILL of the pool process executing a chunk (the OOM killer's usual victim)
    hands that chunk's message back at once (task_reject_on_worker_lost); the worker replaces
    the process and the job succeeds with every row exactly once, in input order."""
    worker = fault_workers()
    names = batch_names(2 * ROWS)  # room for a few tries at catching a chunk mid-way
    job_id = fault_stack.submit_batch(names)
    fault_stack.wait_for_rows(job_id)

    kill_a_child_mid_chunk(fault_stack, worker, job_id)

    job = fault_stack.wait_for_end(job_id, timeout=90)
    assert job.state == "succeeded", job.error
    fault_stack.assert_every_row_once(job_id, names)
    assert worker.alive()


def test_a_whole_worker_killed_mid_job_is_finished_by_a_restarted_worker(
    fault_stack: FaultStack, fault_workers: Callable[..., ServiceProcess]
) -> None:
    """Guarantee: SIGKILL of a whole worker (main process and pool: a lost host, a `kill -9`)
    mid-job loses nothing: the messages it held stay unacknowledged in Redis and are handed to
    the worker started in its place once the visibility timeout (2 x TRAINING_TIME_LIMIT) has
    passed; the job succeeds with every row exactly once.

    Deadline: the visibility timeout, one restore sweep of an idle consumer, and 30 s of work
    and slack on a busy 2-core machine.
    """
    first = fault_workers()
    names = batch_names(ROWS)
    job_id = fault_stack.submit_batch(names)
    fault_stack.wait_for_rows(job_id)

    first.signal(signal.SIGKILL)  # the process group: main process and pool children
    assert first.process is not None
    first.process.wait(timeout=30)
    killed_at = time.monotonic()
    assert not fault_stack.job(job_id).terminal, "the job ended before the worker could be killed"

    fault_workers()
    job = fault_stack.wait_for_end(job_id, timeout=fault_stack.redelivery_deadline)
    assert job.state == "succeeded", job.error
    fault_stack.assert_every_row_once(job_id, names)
    assert time.monotonic() - killed_at >= fault_stack.visibility_timeout - 2, (
        "finished before the held messages could have been redelivered: was anything held?")


@pytest.mark.parametrize("target", ["main process", "process group"])
def test_sigterm_mid_job_finishes_or_hands_back_every_chunk(
    fault_stack: FaultStack, fault_workers: Callable[..., ServiceProcess], target: str
) -> None:
    """Guarantee: SIGTERM to a worker in the middle of a batch job drops no task. Sent to the
    main process (docker stop, Kubernetes), the worker finishes the chunks it is executing and
    returns the ones it had reserved; sent to the whole process group (systemd's default
    KillMode), the pool processes die at once and their chunks are handed back. Either way a
    worker started afterwards completes the job with every row exactly once.

    Deadline: what a SIGKILLed worker gets, since a message whose return the dying worker could
    not send waits out the visibility timeout.
    """
    first = fault_workers()
    names = batch_names(ROWS)
    job_id = fault_stack.submit_batch(names)
    fault_stack.wait_for_rows(job_id)
    assert first.process is not None

    if target == "main process":
        os.kill(first.process.pid, signal.SIGTERM)
    else:
        first.signal(signal.SIGTERM)
    first.process.wait(timeout=60)
    assert "Warm shutdown" in first.log_text() or target == "process group"
    assert not fault_stack.job(job_id).terminal, "the job ended before SIGTERM could land mid-job"

    fault_workers()
    job = fault_stack.wait_for_end(job_id, timeout=fault_stack.redelivery_deadline)
    assert job.state == "succeeded", job.error
    fault_stack.assert_every_row_once(job_id, names)


def test_the_same_batch_sent_twice_with_one_idempotency_key_is_one_job(
    fault_stack: FaultStack, fault_workers: Callable[..., ServiceProcess]
) -> None:
    """Guarantee: a batch submitted again with the same Idempotency-Key, one after the other or
    eight times at once, is one job: every response is 202 with the same job id, one job is
    stored, and it completes with every row exactly once."""
    fault_workers()
    names = batch_names(5_000)
    jobs_before = set(fault_stack.stored_job_ids())

    first = fault_stack.submit_batch(names, key="catalog-import-1")
    again = fault_stack.submit_batch(names, key="catalog-import-1")
    assert again == first

    items = [{"id": f"sku-{i}", "name": name} for i, name in enumerate(names)]

    def post(_: int) -> httpx.Response:
        with fault_stack.client() as client:
            return client.post("/v1/batch-jobs", json={"items": items},
                               headers={"Idempotency-Key": "catalog-import-2"})

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(post, range(8)))
    assert [r.status_code for r in responses] == [202] * 8, [r.text for r in responses]
    concurrent_ids = {r.json()["job_id"] for r in responses}
    assert len(concurrent_ids) == 1

    assert set(fault_stack.stored_job_ids()) - jobs_before == {first, *concurrent_ids}
    for job_id in (first, *concurrent_ids):
        job = fault_stack.wait_for_end(job_id, timeout=90)
        assert job.state == "succeeded", job.error
        fault_stack.assert_every_row_once(job_id, names)
