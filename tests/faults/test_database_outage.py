"""PostgreSQL unreachable for a while: 503s meanwhile, nothing half-written, work resumes after.

The services reach the module's database through a TCP proxy in the test process
(tests/fixtures/faults.py); cutting it refuses new connections and closes open ones, as when
the database host goes away. The test itself reads the database directly, past the proxy.
"""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from core.data import SAMPLE_CATALOG
from core.db import jobs_table
from tests.fixtures.faults import FaultStack, batch_names, ready
from tests.fixtures.services import ADMIN_KEY, ServiceProcess, wait_until

pytestmark = pytest.mark.integration

# Small chunks: a 60,000-row intake is 300 transactions, long enough to cut in the middle.
FAULT_ENV = {"BATCH_CHUNK_SIZE": "200"}


def _csv(names: list[str]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", "name"])
    writer.writerows((f"sku-{i}", name) for i, name in enumerate(names))
    return buffer.getvalue().encode()


def _unfinished_intakes(stack: FaultStack) -> list[str]:
    """Jobs recorded without their row count: an intake that never finished."""
    assert stack.store is not None
    with stack.store.engine.connect() as connection:
        return list(connection.execute(
            sa.select(jobs_table.c.id).where(jobs_table.c.kind == "batch",
                                             jobs_table.c.total_rows.is_(None))).scalars())


def test_requests_get_503_while_the_database_is_away_and_succeed_when_it_returns(
    fault_stack: FaultStack, fault_workers: Callable[..., ServiceProcess]
) -> None:
    """Guarantee: with PostgreSQL unreachable every request that needs it answers 503 with
    Retry-After (job status, batch status and results, batch and training submissions,
    cancellation), nothing is written, /ready says the database is unavailable, and inference
    from the cached champion still answers. When it is back the same requests succeed, with no
    process restarted."""
    stack = fault_stack
    assert stack.proxy is not None
    fault_workers()
    job_id = stack.submit_batch(batch_names(500))
    assert stack.wait_for_end(job_id, timeout=60).state == "succeeded"
    jobs_before = stack.stored_job_ids()
    admin = {"X-API-Key": ADMIN_KEY}
    needs_database: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", f"/v1/jobs/{job_id}", {}),
        ("GET", f"/v1/batch-jobs/{job_id}", {}),
        ("GET", f"/v1/batch-jobs/{job_id}/results", {}),
        ("GET", f"/v1/batch-jobs/{job_id}/results.csv", {}),
        ("POST", "/v1/batch-jobs", {"json": {"items": [{"name": "taladro"}]}}),
        ("POST", "/v1/batch-jobs", {"json": {"items": [{"name": "taladro"}]},
                                    "headers": {"Idempotency-Key": "during-outage"}}),
        ("POST", "/v1/batch-jobs", {"files": {"file": ("a.csv", b"name\ntaladro\n")}}),
        ("POST", "/v1/training-jobs", {"json": {"data": str(SAMPLE_CATALOG)},
                                       "headers": admin}),
        ("DELETE", f"/v1/jobs/{job_id}", {"headers": admin}),
    ]

    stack.proxy.stop()
    with stack.client() as client:
        for method, path, kwargs in needs_database:
            response = client.request(method, path, **kwargs)
            assert response.status_code == 503, (method, path, response.text)
            assert response.headers.get("retry-after"), (method, path)
        inference = client.post("/v1/categorizer/inference", json={"product_list": ["taladro"]})
    assert inference.status_code == 200
    status, body = ready(stack)
    assert status == 503
    assert body["checks"]["database"].startswith("unavailable")
    assert body["checks"]["broker"] == "ok"

    stack.proxy.start()
    assert stack.stored_job_ids() == jobs_before  # nothing was half-written meanwhile
    wait_until(lambda: ready(stack)[0] == 200, timeout=30, what="/ready once the database is back")
    with stack.client() as client:
        assert client.get(f"/v1/jobs/{job_id}").status_code == 200
        assert client.get(f"/v1/batch-jobs/{job_id}/results").status_code == 200
    again = stack.submit_batch(batch_names(500))
    assert stack.wait_for_end(again, timeout=60).state == "succeeded"


def test_an_intake_cut_by_the_outage_leaves_no_half_written_job(
    fault_stack: FaultStack, fault_workers: Callable[..., ServiceProcess]
) -> None:
    """Guarantee: if PostgreSQL goes away while a batch upload's rows are being stored, the
    client gets 503 and no half-written job is left: retrying with the same Idempotency-Key once
    the database is back gives a job that completes with every row exactly once."""
    stack = fault_stack
    assert stack.proxy is not None
    assert stack.store is not None
    fault_workers()
    names = batch_names(60_000)
    body = _csv(names)
    key = "cut-intake-1"
    answers: list[httpx.Response] = []

    def upload() -> None:
        with stack.client() as client:
            answers.append(client.post("/v1/batch-jobs", headers={"Idempotency-Key": key},
                                       files={"file": ("catalog.csv", body, "text/csv")}))

    def intake_in_progress() -> bool:
        # The rows are stored in one transaction, invisible to others until it commits: look
        # past the proxy for the API's open transaction with its chunk inserts under way.
        assert stack.store is not None
        with stack.store.engine.connect() as connection:
            return bool(connection.execute(sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND query LIKE 'INSERT INTO categorizer_batch_chunks%'"
            )).scalar_one())

    sender = threading.Thread(target=upload)
    sender.start()
    wait_until(intake_in_progress, timeout=60, interval=0.005,
               what="the intake to start storing its chunks")
    stack.proxy.stop()
    sender.join(timeout=60)
    assert answers, "the upload never answered"
    assert answers[0].status_code == 503, answers[0].text
    stack.proxy.start()

    assert _unfinished_intakes(stack) == [], "a half-written job was left behind"
    with stack.client() as client:
        retry = client.post("/v1/batch-jobs", headers={"Idempotency-Key": key},
                            files={"file": ("catalog.csv", body, "text/csv")})
    assert retry.status_code == 202, retry.text
    job = stack.wait_for_end(retry.json()["job_id"], timeout=120)
    assert job.state == "succeeded", job.error
    stack.assert_every_row_once(job.id, names)


def test_a_batch_running_through_a_short_outage_completes(
    fault_stack: FaultStack, fault_workers: Callable[..., ServiceProcess]
) -> None:
    """Guarantee: PostgreSQL away for a few seconds while a batch's chunks are processed: the
    chunk tasks retry with backoff and the job completes once it returns, every row exactly
    once."""
    stack = fault_stack
    assert stack.proxy is not None
    worker = fault_workers()
    names = batch_names(10_000)
    job_id = stack.submit_batch(names)
    stack.wait_for_rows(job_id)

    stack.proxy.stop()
    wait_until(lambda: "retry: Retry in" in worker.log_text(), timeout=30,
               what="a chunk task to meet the outage and schedule a retry")
    stack.proxy.start()

    job = stack.wait_for_end(job_id, timeout=120)
    assert job.state == "succeeded", job.error
    stack.assert_every_row_once(job_id, names)


def test_a_job_picked_up_during_the_outage_completes_when_the_database_returns(
    fault_stack: FaultStack, fault_workers: Callable[..., ServiceProcess]
) -> None:
    """Guarantee: a batch accepted before PostgreSQL went away and picked up while it is away by
    a worker that had not touched the database yet (one restarted during the outage) is not
    dropped: it completes, every row exactly once, once the database is back."""
    stack = fault_stack
    assert stack.proxy is not None
    names = batch_names(2_000)
    job_id = stack.submit_batch(names)  # no worker yet: the message waits in Redis
    task = f"batch.start[{stack.job(job_id).task_id}]"

    def met_the_outage() -> bool:
        return any(task in line and ("raised" in line or "retry:" in line)
                   for line in worker.log_text().splitlines())

    stack.proxy.stop()
    worker = fault_workers()
    wait_until(met_the_outage, timeout=60,
               what="the worker to meet the outage with the job's first task")
    stack.proxy.start()

    job = stack.wait_for_end(job_id, timeout=60)
    assert job.state == "succeeded", job.error
    stack.assert_every_row_once(job_id, names)
