"""The job service end to end: real worker and API processes over real Redis and PostgreSQL."""

from __future__ import annotations

import csv
import io
import subprocess

import httpx
import pytest

from core.data import SAMPLE_CATALOG, load_catalog
from tests.fixtures.services import BIN, Stack, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def running(stack: Stack) -> Stack:
    stack.worker("it")
    stack.api()
    return stack


def _serving(stack: Stack) -> int | None:
    return httpx.get(f"{stack.api_url}/v1/models", timeout=10).json()["serving"]


def test_training_job_trains_a_champion_that_then_answers_inference(running: Stack) -> None:
    with running.client(admin=True) as client:
        response = client.post("/v1/training-jobs", json={"data": str(SAMPLE_CATALOG)})
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    assert response.headers["location"] == f"/v1/jobs/{job_id}"

    job = running.wait_for_job(job_id)
    assert job["kind"] == "training"
    assert job["result"]["promoted"] is True
    assert job["model_version"] == job["result"]["version"] == 1
    assert job["result"]["metrics"]["macro_f1"] > 0.8

    wait_until(lambda: _serving(running) == 1, timeout=30, what="the API to load v1")
    with running.client() as client:
        answer = client.post("/v1/categorizer/inference",
                             json={"product_list": ["taladro", "tubo pvc", "foco led"]})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["categories"] == ["Herramientas", "Plomería", "Electricos"]
    assert body["model_version"] == 1
    assert all(0 < p["confidence"] <= 1 for p in body["predictions"])


def test_a_50000_row_batch_returns_every_row_once_in_input_order(running: Stack) -> None:
    names = load_catalog(SAMPLE_CATALOG).names
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", "name"])
    expected = []
    for i in range(50_000):
        name = "" if i % 9973 == 0 else names[i % len(names)]
        writer.writerow([f"sku-{i}", name])
        expected.append((f"sku-{i}", name))
    with running.client() as client:
        response = client.post("/v1/batch-jobs",
                               files={"file": ("catalog.csv", buffer.getvalue(), "text/csv")})
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    job = running.wait_for_job(job_id, timeout=240)
    assert job["progress"]["rows_done"] == job["progress"]["rows_total"] == 50_000
    assert job["model_version"] == 1

    rows = []
    with running.client() as client:
        for offset in range(0, 50_000, 10_000):
            page = client.get(f"/v1/batch-jobs/{job_id}/results",
                              params={"offset": offset, "limit": 10_000}).json()
            assert page["total"] == 50_000
            rows.extend(page["items"])
        download = client.get(f"/v1/batch-jobs/{job_id}/results.csv")
    assert [r["row"] for r in rows] == list(range(50_000))
    assert [(r["id"], r["name"]) for r in rows] == expected
    errors = [r for r in rows if r["error"]]
    assert [r["row"] for r in errors] == [i for i in range(50_000) if i % 9973 == 0]
    assert all(r["error"] == "empty name" and r["category"] is None for r in errors)
    assert all(r["category"] and r["confidence"] > 0 for r in rows if not r["error"])
    lines = list(csv.reader(io.StringIO(download.text)))
    assert len(lines) == 50_001
    assert lines[1][:3] == ["0", "sku-0", ""]


def test_a_cancelled_job_ends_cancelled_and_registers_nothing(running: Stack) -> None:
    with running.client(admin=True) as client:
        versions_before = len(client.get("/v1/models").json()["versions"])
        job_id = client.post("/v1/training-jobs",
                             json={"data": str(SAMPLE_CATALOG)}).json()["job_id"]
        cancelled = client.delete(f"/v1/jobs/{job_id}")
        assert cancelled.status_code == 200
        assert cancelled.json()["state"] == "cancelled"
        assert client.delete(f"/v1/jobs/{job_id}").status_code == 409
    worker = running.processes[0]
    wait_until(lambda: job_id_seen(worker.log_text(), job_id), timeout=60,
               what="the worker to receive the cancelled job's task")
    job = running.wait_for_job(job_id, states=("cancelled",))
    assert job["result"] is None
    with running.client() as client:
        assert len(client.get("/v1/models").json()["versions"]) == versions_before


def job_id_seen(log: str, job_id: str) -> bool:
    # The worker logs a revoked or finished training.run task; either way it ran no training.
    return "training.run" in log and ("revoked" in log.lower() or "succeeded in" in log)


def test_a_promotion_elsewhere_is_picked_up_by_the_running_api(running: Stack) -> None:
    rows = list(csv.reader(SAMPLE_CATALOG.read_text(encoding="utf-8").splitlines()))
    subset = "\n".join(",".join(f'"{c}"' for c in [r[0], r[1].replace('"', '""')])
                       for r in [rows[0], *rows[1:400]])
    with running.client(admin=True) as client:
        response = client.post("/v1/training-jobs",
                               files={"file": ("small.csv", subset, "text/csv")})
        assert response.status_code == 202, response.text
        job = running.wait_for_job(response.json()["job_id"])
    new_version = job["result"]["version"]
    assert new_version >= 2
    current = _serving(running)

    target = new_version if current != new_version else 1
    promoted = subprocess.run([str(BIN / "categorizer"), "promote", str(target)],
                              env=running.env, capture_output=True, text=True, timeout=120)
    assert promoted.returncode == 0, promoted.stderr
    wait_until(lambda: _serving(running) == target, timeout=30,
               what=f"the running API to serve v{target}")
    with running.client() as client:
        answer = client.post("/v1/categorizer/inference", json={"product_list": ["taladro"]})
    assert answer.json()["model_version"] == target


def test_unknown_job_ids_are_404_and_admin_calls_need_the_key(running: Stack) -> None:
    with running.client() as client:
        assert client.get("/v1/jobs/does-not-exist").status_code == 404
        assert client.post("/v1/training-jobs",
                           json={"data": str(SAMPLE_CATALOG)}).status_code == 401
        assert client.post("/v1/models/rollback").status_code == 401
        assert client.delete("/v1/jobs/whatever").status_code == 401
    with httpx.Client(base_url=running.api_url, headers={"X-API-Key": "wrong"}) as client:
        assert client.post("/v1/models/rollback").status_code == 403
