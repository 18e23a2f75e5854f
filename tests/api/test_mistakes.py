"""No user mistake is a server error: each gets a 4xx that says what was wrong."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.fixtures.app import ADMIN

JOB = "0123456789abcdef0123456789abcdef"
JSON = {"Content-Type": "application/json"}
GARBLED_MULTIPART = {"Content-Type": "multipart/form-data; boundary=zzz"}
NO_BOUNDARY = {"Content-Type": "multipart/form-data"}
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10"

MISTAKES: list[tuple[str, str, dict[str, Any], int]] = [
    ("POST", "/v1/categorizer/inference", {"content": b"null", "headers": JSON}, 422),
    ("POST", "/v1/categorizer/inference", {"content": b"\xff\xfe", "headers": JSON}, 422),
    ("POST", "/v1/categorizer/inference",
     {"content": b'{"product_list": ["a"]}', "headers": {"Content-Type": "text/plain"}}, 415),
    ("POST", "/v1/categorizer/inference",
     {"content": b'{"product_list": ["\\udcff"]}', "headers": JSON}, 422),
    ("POST", "/v1/batch-jobs", {"content": b"null", "headers": JSON}, 422),
    ("POST", "/v1/batch-jobs", {"content": b"\xff\xfe", "headers": JSON}, 422),
    ("POST", "/v1/batch-jobs", {"content": b"--zzz\r\ngarbage", "headers": GARBLED_MULTIPART},
     422),
    ("POST", "/v1/batch-jobs", {"content": b"--zzz\r\ngarbage", "headers": NO_BOUNDARY}, 400),
    ("POST", "/v1/batch-jobs", {"data": {"name": "foco"}, "files": {"other": ("a.csv", b"x")}},
     422),
    ("POST", "/v1/batch-jobs",
     {"json": {"items": [{"name": "foco"}]}, "headers": {"Idempotency-Key": "k" * 201}}, 422),
    ("POST", "/v1/training-jobs", {"content": b"--zzz\r\ngarbage",
                                   "headers": {**NO_BOUNDARY, **ADMIN}}, 400),
    ("POST", "/v1/training-jobs", {"files": {"file": ("c.png", PNG)}, "headers": ADMIN}, 400),
    ("POST", "/v1/training-jobs", {"content": b"null", "headers": {**JSON, **ADMIN}}, 422),
    ("GET", f"/v1/jobs/{'f' * 300}", {}, 422),
    ("GET", "/v1/jobs/../../etc/passwd", {}, 404),
    ("GET", f"/v1/batch-jobs/{JOB}/results?offset=1e3", {}, 422),
    ("PUT", f"/v1/jobs/{JOB}", {}, 405),
    ("GET", "/v1/categorizer/inference", {}, 405),
    ("GET", "/v1/nothing-here", {}, 404),
]


@pytest.mark.parametrize(("method", "path", "kwargs", "status"), MISTAKES,
                         ids=[f"{m} {p[:40]} {i}" for i, (m, p, _, _) in enumerate(MISTAKES)])
def test_a_user_mistake_is_a_4xx(api_client: TestClient, method: str, path: str,
                                 kwargs: dict[str, Any], status: int) -> None:
    response = api_client.request(method, path, **kwargs)

    assert response.status_code == status, response.text
    assert response.json()["detail"]
