"""Every number and string a request carries is bounded: past the bound is a 422 naming it."""

from __future__ import annotations

import io
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.batch_store import BatchStore
from core.jobs import JobStore
from tests.fixtures.app import ADMIN, stored_jobs

JOB = "0123456789abcdef0123456789abcdef"
HUGE = 9223372036854775807


@pytest.mark.parametrize(("method", "path", "kwargs", "limit"), [
    ("GET", f"/v1/batch-jobs/{JOB}/results?offset={HUGE}", {}, "2147483647"),
    ("GET", f"/v1/batch-jobs/{JOB}/results?offset=-1", {}, "0"),
    ("GET", f"/v1/batch-jobs/{JOB}/results?limit=10001", {}, "10000"),
    ("GET", f"/v1/batch-jobs/{JOB}/results?limit=0", {}, "1"),
    ("POST", "/v1/models/99999999999999999999999/promote", {"headers": ADMIN}, "2147483647"),
    ("POST", "/v1/models/0/promote", {"headers": ADMIN}, "1"),
    ("GET", f"/v1/jobs/{'a' * 65}", {}, "64"),
    ("GET", f"/v1/batch-jobs/{'a' * 65}", {}, "64"),
    ("GET", f"/v1/batch-jobs/{'a' * 65}/results", {}, "64"),
    ("GET", f"/v1/batch-jobs/{'a' * 65}/results.csv", {}, "64"),
    ("DELETE", f"/v1/jobs/{'a' * 65}", {"headers": ADMIN}, "64"),
    ("POST", "/v1/batch-jobs", {"json": {"items": [{"name": "foco", "id": 10**30}]}},
     "9223372036854775807"),
    ("POST", "/v1/batch-jobs", {"json": {"items": [{"name": "foco"}]},
                                "headers": {"Idempotency-Key": "k" * 201}}, "200"),
    ("POST", "/v1/training-jobs", {"json": {"data": "x" * 1001}, "headers": ADMIN}, "1000"),
    ("POST", "/v1/training-jobs", {"json": {"source": "s" * 65, "table": "t"},
                                   "headers": ADMIN}, "64"),
], ids=["offset-huge", "offset-negative", "limit-over", "limit-zero", "version-huge",
        "version-zero", "job-id", "batch-id", "results-id", "csv-id", "cancel-id",
        "item-id-int", "idempotency-key", "training-data", "training-source"])
def test_a_value_past_its_bound_is_422_naming_the_bound(
    api_client: TestClient, job_store: JobStore, method: str, path: str,
    kwargs: dict[str, Any], limit: str,
) -> None:
    response = api_client.request(method, path, **kwargs)

    assert response.status_code == 422, response.text
    assert limit in response.text
    assert stored_jobs(job_store) == []


def test_a_batch_item_id_over_max_id_length_is_422(
    api_client: TestClient, job_store: JobStore
) -> None:
    items = [{"id": "ok", "name": "foco"}, {"id": "x" * 201, "name": "tubo"}]

    response = api_client.post("/v1/batch-jobs", json={"items": items})

    assert response.status_code == 422
    assert response.json()["detail"] == (
        "items[1].id: id is 201 characters long; the limit is 200 (MAX_ID_LENGTH)")
    assert stored_jobs(job_store) == []


def test_an_over_long_csv_id_is_that_rows_error_and_is_stored_cut(
    api_client: TestClient, job_store: JobStore
) -> None:
    content = ("id,name\nA1,foco\n" + "y" * 1_000 + ",tubo\nA3,codo\n").encode()

    response = api_client.post("/v1/batch-jobs",
                               files={"file": ("b.csv", io.BytesIO(content), "text/csv")})

    assert response.status_code == 202, response.text
    rows = BatchStore(job_store).get_chunk(response.json()["job_id"], 0)
    assert [(r.id, r.error) for r in rows] == [
        ("A1", None),
        ("y" * 200 + "…", "id is 1000 characters long; the limit is 200 (MAX_ID_LENGTH)"),
        ("A3", None)]


def test_a_version_within_bounds_that_does_not_exist_is_404(api_client: TestClient) -> None:
    response = api_client.post("/v1/models/2147483647/promote", headers=ADMIN)

    assert response.status_code == 404
