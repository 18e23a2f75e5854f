"""A real Prometheus scrapes a running stack: the API and a worker node's exporter.

Debian's `prometheus` binary (`.ci/run` installs it) scrapes every second; the test then asks
its query API for the request, prediction, queue and task series the service exports.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.data import SAMPLE_CATALOG, load_catalog
from tests.fixtures.services import ADMIN_KEY, BIN, ServiceProcess, free_port, wait_until

pytestmark = pytest.mark.integration


def _prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if found is None:
        message = "the prometheus binary is not installed (apt-get install prometheus)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; .ci/run must install it")
        pytest.skip(message)
    return found


def _catalog_csv(rows: int) -> bytes:
    catalog = load_catalog(SAMPLE_CATALOG)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["category", "name"])
    step = max(1, len(catalog) // rows)
    writer.writerows(zip(catalog.categories[::step], catalog.names[::step], strict=True))
    return buffer.getvalue().encode()


def _query(prometheus: str, expression: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": expression}, timeout=5)
    answer.raise_for_status()
    body = answer.json()
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory, redis_url: str,
            pg_database_url: str) -> Any:
    binary = _prometheus_binary()
    tmp = tmp_path_factory.mktemp("prometheus")
    api_port, worker_port, prom_port = free_port(), free_port(), free_port()
    env = {**os.environ, "DATA_DIR": str(tmp / "data"), "REDIS_URL": redis_url,
           "DATABASE_URL": pg_database_url, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp / 'ml.db'}",
           "ADMIN_API_KEY": ADMIN_KEY, "MODEL_REFRESH_SECONDS": "1",
           "METRICS_REFRESH_SECONDS": "1", "WORKER_METRICS_PORT": str(worker_port),
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    processes: list[ServiceProcess] = []
    try:
        worker = ServiceProcess("worker", [
            str(BIN / "celery"), "-A", "worker", "worker", "-Q", "training,inference",
            "-n", "prom@%h", "-c", "2", "--without-mingle", "--without-gossip",
            "--loglevel=INFO"], env, tmp / "worker.log").start()
        processes.append(worker)
        api = ServiceProcess("api", [str(BIN / "uvicorn"), "api.main:app", "--host",
                                     "127.0.0.1", "--port", str(api_port)],
                             env, tmp / "api.log").start()
        processes.append(api)
        api_url = f"http://127.0.0.1:{api_port}"
        wait_until(lambda: "ready." in worker.log_text(), timeout=90, what="the worker")
        wait_until(lambda: httpx.get(f"{api_url}/health", timeout=2).status_code == 200,
                   timeout=90, what="the API")
        config = tmp / "prometheus.yml"
        jobs = {"api": api_port, "worker": worker_port}
        config.write_text("global: {scrape_interval: 1s}\nscrape_configs:\n" + "".join(
            f"  - {{job_name: {name}, static_configs: [{{targets: ['127.0.0.1:{port}']}}]}}\n"
            for name, port in jobs.items()))
        prometheus = ServiceProcess("prometheus", [
            binary, f"--config.file={config}", f"--storage.tsdb.path={tmp / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prom_port}"], env, tmp / "prometheus.log").start()
        processes.append(prometheus)
        prom_url = f"http://127.0.0.1:{prom_port}"
        wait_until(lambda: httpx.get(f"{prom_url}/-/ready", timeout=2).status_code == 200,
                   timeout=60, what="Prometheus")
        yield api_url, prom_url
    finally:
        for process in reversed(processes):
            process.stop()


def test_prometheus_sees_requests_predictions_queues_and_tasks(scraped: Any) -> None:
    api_url, prom_url = scraped
    admin = {"X-API-Key": ADMIN_KEY}
    with httpx.Client(base_url=api_url, timeout=30) as client:
        trained = client.post("/v1/training-jobs", headers=admin,
                              files={"file": ("catalog.csv", _catalog_csv(400), "text/csv")})
        assert trained.status_code == 202, trained.text
        job_id = trained.json()["job_id"]
        wait_until(lambda: client.get(f"/v1/jobs/{job_id}", headers=admin).json()["state"]
                   == "succeeded", timeout=240, what="the training job", interval=1)
        wait_until(lambda: client.get("/v1/models").json()["serving"] == 1, timeout=30,
                   what="the API to serve v1")
        for _ in range(5):
            answer = client.post("/v1/categorizer/inference",
                                 json={"product_list": ["taladro", "tubo pvc"]})
            assert answer.status_code == 200
        batch = client.post("/v1/batch-jobs", json={"items": [
            {"id": str(i), "name": name} for i, name in enumerate(["foco led", "codo cobre"] * 30)
        ]})
        assert batch.status_code == 202, batch.text
        batch_id = batch.json()["job_id"]
        wait_until(lambda: client.get(f"/v1/jobs/{batch_id}").json()["state"] == "succeeded",
                   timeout=120, what="the batch job", interval=1)

    expected = {
        "requests": 'categorizer_http_request_duration_seconds_count'
                    '{route="/v1/categorizer/inference",status="200"}',
        "sync predictions": 'categorizer_predictions_total{source="sync",job="api"}',
        "batch predictions": 'categorizer_predictions_total{source="batch",job="worker"}',
        "queue depth": 'categorizer_queue_messages{queue="inference"}',
        "jobs by state": 'categorizer_jobs{kind="batch",state="succeeded"}',
        "chunk task": 'categorizer_task_duration_seconds_count{task="batch.chunk"}',
        "training task": 'categorizer_task_duration_seconds_count{task="training.run"}',
        "training duration": 'categorizer_training_duration_seconds_count',
        "batch rows": 'categorizer_batch_rows_total{outcome="categorized"}',
    }
    found: dict[str, list[dict[str, Any]]] = {}

    def all_there() -> bool:
        for what, expression in expected.items():
            if what not in found:
                result = _query(prom_url, expression)
                if result:
                    found[what] = result
        return len(found) == len(expected)

    wait_until(all_there, timeout=60, what=f"series {set(expected) - set(found)}", interval=1)

    assert float(found["requests"][0]["value"][1]) >= 5
    assert sum(float(r["value"][1]) for r in found["batch predictions"]) == 60
    assert float(found["batch rows"][0]["value"][1]) == 60
    up = {r["metric"]["job"]: r["value"][1] for r in _query(prom_url, "up")}
    assert up == {"api": "1", "worker": "1"}
