"""Admin endpoints need X-API-Key: 401 without one, 403 with a wrong one, and nothing happens."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.data import SAMPLE_CATALOG
from core.jobs import JobStore
from tests.fixtures.app import ADMIN, FakeQueue, FakeRegistry

JOB = "0123456789abcdef0123456789abcdef"
TRAINABLE = ("category,name\n" + "".join(f"A,a {i}\nB,b {i}\n" for i in range(5))).encode()
ADMIN_ENDPOINTS = [
    ("POST", "/v1/training-jobs", {"json": {"data": str(SAMPLE_CATALOG)}}),
    ("POST", "/v1/training-jobs", {"files": {"file": ("c.csv", TRAINABLE)}}),
    ("GET", "/training", {}),
    ("DELETE", f"/v1/jobs/{JOB}", {}),
    ("POST", "/v1/models/1/promote", {}),
    ("POST", "/v1/models/rollback", {}),
]
IDS = ["training-json", "training-upload", "legacy-training", "cancel", "promote", "rollback"]


@pytest.fixture
def untouched(job_store: JobStore, fake_queue: FakeQueue,
              fake_registry: FakeRegistry) -> Iterator[None]:
    """Assert afterwards that a refused request changed nothing."""
    champion = fake_registry.champion
    yield
    assert fake_queue.sent == []
    assert fake_queue.revoked == []
    assert fake_registry.champion == champion
    with job_store.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM categorizer_jobs").scalar() == 0


@pytest.mark.usefixtures("untouched")
@pytest.mark.parametrize(("method", "path", "kwargs"), ADMIN_ENDPOINTS, ids=IDS)
def test_no_key_is_401(api_client: TestClient, method: str, path: str,
                       kwargs: dict[str, Any]) -> None:
    response = api_client.request(method, path, **kwargs)

    assert response.status_code == 401
    assert response.json()["detail"] == "missing X-API-Key header"
    assert response.headers["WWW-Authenticate"] == "APIKey"


@pytest.mark.usefixtures("untouched")
@pytest.mark.parametrize(("method", "path", "kwargs"), ADMIN_ENDPOINTS, ids=IDS)
def test_an_empty_key_is_401(api_client: TestClient, method: str, path: str,
                             kwargs: dict[str, Any]) -> None:
    response = api_client.request(method, path, headers={"X-API-Key": ""}, **kwargs)

    assert response.status_code == 401


@pytest.mark.usefixtures("untouched")
@pytest.mark.parametrize("key", [b"wrong-key", b"TEST-KEY", b"test-ke", b"test-key2",
                                 "clé".encode("latin-1")])
@pytest.mark.parametrize(("method", "path", "kwargs"), ADMIN_ENDPOINTS, ids=IDS)
def test_a_wrong_key_is_403(api_client: TestClient, method: str, path: str,
                            kwargs: dict[str, Any], key: bytes) -> None:
    response = api_client.request(method, path, headers={"X-API-Key": key}, **kwargs)

    assert response.status_code == 403
    assert response.json()["detail"] == "invalid API key"
    assert key.decode("latin-1") not in response.text


@pytest.mark.parametrize(("method", "path", "kwargs"), ADMIN_ENDPOINTS, ids=IDS)
def test_the_right_key_is_let_through(api_client: TestClient, method: str, path: str,
                                      kwargs: dict[str, Any]) -> None:
    response = api_client.request(method, path, headers=ADMIN, **kwargs)

    # Past the check: what follows is the endpoint's own answer (the job of the cancel
    # request does not exist, and v1 has no earlier champion to roll back to).
    assert response.status_code in {200, 202, 404}
    assert response.status_code not in {401, 403}


@pytest.mark.parametrize(("method", "path", "kwargs"), [
    ("POST", "/v1/categorizer/inference", {"json": {"product_list": ["foco"]}}),
    ("POST", "/v1/batch-jobs", {"json": {"items": [{"name": "foco"}]}}),
    ("GET", "/v1/models", {}),
    ("GET", "/health", {}),
    ("GET", "/ready", {}),
], ids=["inference", "batch", "models", "health", "ready"])
def test_public_endpoints_need_no_key(api_client: TestClient, method: str, path: str,
                                      kwargs: dict[str, Any]) -> None:
    assert api_client.request(method, path, **kwargs).status_code in {200, 202}
