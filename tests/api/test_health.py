"""Liveness and readiness: /ready names the dependency that is not ready."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from api.deps import AppState
from core.jobs import JobStore
from tests.fixtures.app import FakeQueue, FakeRegistry

UNREACHABLE_DB = "postgresql+psycopg://nobody@127.0.0.1:1/x"


def test_health_answers_without_any_dependency(api_client: TestClient) -> None:
    response = api_client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_when_every_dependency_answers(api_client: TestClient) -> None:
    response = api_client.get("/ready")

    assert response.status_code == 200
    body = response.json()
    assert body["ready"] is True
    assert body["checks"] == {"broker": "ok", "database": "ok", "mlflow": "ok", "model": "ok"}
    assert body["model_version"] == 1


def test_not_ready_while_the_broker_is_down(api_client: TestClient,
                                            fake_queue: FakeQueue) -> None:
    fake_queue.down = True

    response = api_client.get("/ready")

    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["broker"].startswith("unavailable: QueueUnavailable")
    assert checks["database"] == checks["model"] == "ok"


def test_not_ready_without_a_champion(make_client: Callable[[], TestClient],
                                      fake_registry: FakeRegistry) -> None:
    fake_registry.champion = None
    client = make_client()

    response = client.get("/ready")

    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["model"] == "not loaded: no champion yet"
    assert body["model_version"] is None


def test_not_ready_while_the_job_database_is_down(
    make_client: Callable[[], TestClient], app_state: AppState
) -> None:
    store = JobStore.from_url(UNREACHABLE_DB)
    app_state.store = store
    try:
        client = make_client()  # start-up survives the database being down

        ready = client.get("/ready")
        job = client.get("/v1/jobs/0123456789abcdef0123456789abcdef")
    finally:
        store.engine.dispose()

    assert ready.status_code == 503
    assert ready.json()["checks"]["database"] == "unavailable: StoreUnavailable"
    # A request that needs the database says it is unavailable, and when to come back.
    assert job.status_code == 503
    assert job.headers["Retry-After"] == "5"
    assert "job database unavailable" in job.json()["detail"]


def test_a_dependency_down_is_named_without_the_drivers_message(
    make_client: Callable[[], TestClient], app_state: AppState,
) -> None:
    store = JobStore.from_url(UNREACHABLE_DB)
    app_state.store = store
    try:
        job = make_client().get("/v1/jobs/0123456789abcdef0123456789abcdef")
    finally:
        store.engine.dispose()

    assert job.json() == {"detail": "job database unavailable; retry later"}
